"""Entrusted partner pages (issue 4 §6): list, add/edit with the entrustment document,
and its download through a view that checks tenancy (000 §一(一): nobody markets or
collects for an institution without its written entrustment; 001 第十条、第十三条)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from registry.models import Partner, Status
from tests.registry.conftest import PARTNER_CODE, PDF, pdf_upload, register

pytestmark = pytest.mark.django_db

LIST = "/registry/partners/"
NEW = "/registry/partners/new/"
VALID = {
    "name": "浙江某营销策划有限公司",
    "credit_code": "91330100MA2PART020",
    "kind": "marketing",
    "document_number": "WT-2026-009",
    "valid_from": "2026-01-01",
    "valid_to": "2027-12-31",
    "contact": "王经理 0571-88880000",
}


def text(response) -> str:
    return response.content.decode()


def download(response) -> bytes:
    return b"".join(response.streaming_content)


# --- list --------------------------------------------------------------------------------


def test_alice_sees_her_partners_with_active_number_count(client_for, inst_alice, alice_partner):
    register(
        inst_alice,
        "13900139000",
        用途="催收",
        使用单位=alice_partner.name,
        使用单位统一社会信用代码=PARTNER_CODE,
    )
    body = text(client_for(inst_alice).get(LIST))
    assert alice_partner.name in body
    assert PARTNER_CODE in body
    assert "WT-2026-001" in body
    assert "委托书.pdf" in body
    assert f"/registry/numbers/?partner={alice_partner.pk}" in body  # the count links there
    assert 'data-testid="add-partner"' in body
    assert "/media/" not in body


def test_bobs_list_does_not_contain_alices_partner(
    client_for, inst_bob, alice_partner, bob_partner
):
    body = text(client_for(inst_bob).get(LIST))
    assert bob_partner.name in body
    assert alice_partner.name not in body


def test_bob_gets_404_on_alices_partner_and_document(client_for, inst_bob, alice_partner):
    client = client_for(inst_bob)
    assert client.get(f"/registry/partners/{alice_partner.pk}/edit/").status_code == 404
    assert client.post(f"/registry/partners/{alice_partner.pk}/edit/", VALID).status_code == 404
    assert client.get(f"/registry/partners/{alice_partner.pk}/document/").status_code == 404
    alice_partner.refresh_from_db()
    assert alice_partner.name == "杭州某催收服务有限公司"


def test_carrier_gets_404(client_for, carrier_carol, alice_partner):
    client = client_for(carrier_carol)
    for path in (
        LIST,
        NEW,
        f"/registry/partners/{alice_partner.pk}/edit/",
        f"/registry/partners/{alice_partner.pk}/document/",
    ):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize("who", ["regulator_rita", "financial_fiona"])
def test_regulators_read_all_partners_but_cannot_write(
    request, client_for, who, alice_partner, bob_partner
):
    client = client_for(request.getfixturevalue(who))
    body = text(client.get(LIST))
    assert alice_partner.name in body and bob_partner.name in body
    assert "甲银行" in body and "乙消费金融" in body
    assert 'data-testid="add-partner"' not in body
    assert "/edit/" not in body
    filtered = text(client.get(LIST, {"institution": alice_partner.institution_id}))
    assert alice_partner.name in filtered and bob_partner.name not in filtered
    response = client.get(f"/registry/partners/{alice_partner.pk}/document/")
    assert response.status_code == 200
    assert download(response) == PDF
    assert client.get(NEW).status_code == 404
    assert client.post(NEW, VALID).status_code == 404
    assert client.get(f"/registry/partners/{alice_partner.pk}/edit/").status_code == 404


def test_viewer_reads_but_cannot_write(client_for, viewer_viola, alice_partner):
    client = client_for(viewer_viola)
    body = text(client.get(LIST))
    assert alice_partner.name in body
    assert 'data-testid="add-partner"' not in body
    assert client.get(f"/registry/partners/{alice_partner.pk}/document/").status_code == 200
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, VALID).status_code == 403
    assert client.post(f"/registry/partners/{alice_partner.pk}/edit/", VALID).status_code == 403
    assert Partner.objects.count() == 1


def test_expired_and_expiring_badges(client_for, inst_alice):
    from tests.registry.conftest import save_partner

    today = timezone.localdate()
    save_partner(inst_alice, valid_to=today + dt.timedelta(days=10))
    save_partner(
        inst_alice,
        code="91330100MA2PART020",
        name="过期公司",
        valid_from=today - dt.timedelta(days=100),
        valid_to=today - dt.timedelta(days=1),
    )
    body = text(client_for(inst_alice).get(LIST))
    assert "即将到期" in body
    assert 'data-testid="partner-expired"' in body


# --- add / edit --------------------------------------------------------------------------


def test_add_a_partner_with_its_document(client_for, inst_alice):
    client = client_for(inst_alice)
    response = client.post(NEW, {**VALID, "document": pdf_upload("2026年委托书.pdf")})
    assert response.status_code == 302
    partner = Partner.objects.get(credit_code="91330100MA2PART020")
    assert partner.institution == inst_alice.organisation
    assert partner.document_name == "2026年委托书.pdf"
    assert partner.kind == "marketing"
    # The stored name is ours; the download gives the user's name back.
    assert "2026年委托书" not in partner.document.name
    response = client.get(f"/registry/partners/{partner.pk}/document/")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert "2026%E5%B9%B4" in response["Content-Disposition"]  # 2026年, RFC 5987
    assert download(response) == PDF


def test_add_without_document_is_allowed(client_for, inst_alice):
    response = client_for(inst_alice).post(NEW, VALID)
    assert response.status_code == 302
    partner = Partner.objects.get()
    assert not partner.document
    assert (
        client_for(inst_alice).get(f"/registry/partners/{partner.pk}/document/").status_code == 404
    )
    assert "未上传委托书文件" in text(client_for(inst_alice).get(LIST))


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("委托书.exe", b"MZ\x90\x00"), "只支持 PDF、JPG、PNG 或 OFD"),
        (SimpleUploadedFile("委托书.pdf", b"\x89PNG\r\n\x1a\n...."), "与扩展名 .pdf 不符"),
        (SimpleUploadedFile("委托书.png", b"%PDF-1.4 ..."), "与扩展名 .png 不符"),
        (SimpleUploadedFile("委托书.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)), "超过上限 10 MB"),
    ],
)
def test_document_type_and_size_are_checked(client_for, inst_alice, upload, message):
    response = client_for(inst_alice).post(NEW, {**VALID, "document": upload})
    assert response.status_code == 200
    body = text(response)
    assert 'data-testid="error-document"' in body
    assert message in body
    assert not Partner.objects.exists()


@pytest.mark.parametrize("name", ["委托书.jpg", "委托书.JPEG", "委托书.png", "委托书.ofd"])
def test_accepted_document_formats(client_for, inst_alice, name):
    head = {
        "jpg": b"\xff\xd8\xff\xe0",
        "jpeg": b"\xff\xd8\xff\xe0",
        "png": b"\x89PNG\r\n\x1a\n",
        "ofd": b"PK\x03\x04",
    }[name.rsplit(".", 1)[1].lower()]
    upload = SimpleUploadedFile(name, head + b"rest of file")
    response = client_for(inst_alice).post(NEW, {**VALID, "document": upload})
    assert response.status_code == 302
    assert Partner.objects.get().document_name == name


def test_invalid_credit_code_and_period_are_shown_on_their_fields(client_for, inst_alice):
    client = client_for(inst_alice)
    body = text(client.post(NEW, {**VALID, "credit_code": "91330100MA2PART021"}))
    assert 'data-testid="error-credit_code"' in body
    assert "校验码" in body
    body = text(client.post(NEW, {**VALID, "valid_from": "2026-05-01", "valid_to": "2026-04-01"}))
    assert 'data-testid="error-valid_to"' in body
    assert "委托截止日期不能早于起始日期" in body
    body = text(client.post(NEW, {**VALID, "credit_code": inst_alice.organisation.credit_code}))
    assert "合作单位不能是本机构自己" in body
    assert not Partner.objects.exists()


def test_same_credit_code_again_updates_and_says_so(client_for, inst_alice, alice_partner):
    response = client_for(inst_alice).post(
        NEW, {**VALID, "credit_code": PARTNER_CODE, "kind": "both"}, follow=True
    )
    assert "已登记，已按本次填写更新" in text(response)
    assert Partner.objects.count() == 1
    alice_partner.refresh_from_db()
    assert alice_partner.kind == "both"


def test_edit_a_partner_keeps_its_document(client_for, inst_alice, alice_partner):
    client = client_for(inst_alice)
    url = f"/registry/partners/{alice_partner.pk}/edit/"
    form = text(client.get(url))
    assert 'value="杭州某催收服务有限公司"' in form
    assert "当前文件" in form and "委托书.pdf" in form
    data = {
        **VALID,
        "name": "杭州某催收服务有限公司（更名）",
        "credit_code": PARTNER_CODE,
        "kind": "collection",
    }
    response = client.post(url, data)
    assert response.status_code == 302
    alice_partner.refresh_from_db()
    assert alice_partner.name == "杭州某催收服务有限公司（更名）"
    assert alice_partner.document_name == "委托书.pdf"


def test_expiring_an_entrustment_ends_its_numbers_and_says_so(
    client_for, inst_alice, alice_partner
):
    number = register(
        inst_alice,
        "13900139000",
        用途="催收",
        使用单位=alice_partner.name,
        使用单位统一社会信用代码=PARTNER_CODE,
    )
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    data = {
        **VALID,
        "name": alice_partner.name,
        "credit_code": PARTNER_CODE,
        "kind": "collection",
        "valid_to": yesterday.isoformat(),
    }
    response = client_for(inst_alice).post(
        f"/registry/partners/{alice_partner.pk}/edit/", data, follow=True
    )
    assert "1 个号码已自动终止" in text(response)
    number.refresh_from_db()
    assert number.status == Status.ENDED
