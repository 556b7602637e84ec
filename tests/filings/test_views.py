"""Filing pages (issue 12 §2, §4–6): online filing with the live check, detail with
versions, review queue, calendar, export, template, upload; tenancy for every kind of
organisation (carrier B, institutions, regulators, financial regulators, anonymous)."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.urls import reverse

from filings import services
from filings.importers.sms_filing import COLUMNS, FIELD_OF
from filings.models import FilingStatus, SmsFiling
from tests.filings.conftest import GOOD, PARTNER_CODE, file

pytestmark = pytest.mark.django_db


@pytest.fixture
def filing(carrier_carol, alice_ports):
    return file(carrier_carol)


def form_data(**changes) -> dict:
    texts = {**GOOD, **changes}
    data = {FIELD_OF[c]: v for c, v in texts.items()}
    data["start_at"] = data["start_at"].replace(" ", "T")
    data["end_at"] = data["end_at"].replace(" ", "T")
    return data


def test_carrier_files_online(client_for, carrier_carol, alice_ports):
    client = client_for(carrier_carol)
    page = client.get(reverse("filing_create"))
    assert page.status_code == 200 and "实时检查" in page.content.decode()
    response = client.post(reverse("filing_create"), {**form_data(), "action": "submit"})
    filing = SmsFiling.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "filing_detail", args=[filing.pk]
    )
    assert filing.status == FilingStatus.SUBMITTED


def test_live_check_shows_blocking_reasons_and_the_deadline(client_for, carrier_carol, alice_ports):
    client = client_for(carrier_carol)
    response = client.post(
        reverse("filing_check"),
        form_data(计划发送开始时间="2026-03-11 09:00"),
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert 'data-code="LATE"' in html and 'data-blocking="1"' in html
    assert "2026-03-04 24:00 前" in html
    html = client.post(reverse("filing_check"), form_data()).content.decode()
    assert 'data-testid="checks-clean"' in html and "2026-03-13 24:00 前" in html
    assert "金融业务许可" in html
    # Nothing saved by a check.
    assert SmsFiling.objects.count() == 0


def test_blocked_submission_stays_a_draft_with_its_reasons(client_for, carrier_carol, alice_ports):
    client = client_for(carrier_carol)
    response = client.post(
        reverse("filing_create"),
        {**form_data(发送端口="1069099999"), "action": "submit"},
        follow=True,
    )
    filing = SmsFiling.objects.get()
    assert filing.status == FilingStatus.DRAFT
    assert "未提交" in response.content.decode() and "1069099999" in response.content.decode()


def test_form_errors_are_shown_on_their_fields(client_for, carrier_carol):
    client = client_for(carrier_carol)
    response = client.post(
        reverse("filing_create"), {**form_data(计划发送数量="-3"), "action": "draft"}
    )
    assert response.status_code == 200 and "计划发送数量应为正整数" in response.content.decode()
    assert SmsFiling.objects.count() == 0


def test_amend_and_see_what_changed(client_for, carrier_carol, filing):
    client = client_for(carrier_carol)
    assert client.get(reverse("filing_edit", args=[filing.pk])).status_code == 200
    client.post(
        reverse("filing_edit", args=[filing.pk]),
        {**form_data(发送对象范围="本行借记卡客户"), "action": "draft"},
    )
    html = client.get(reverse("filing_detail", args=[filing.pk])).content.decode()
    assert "第 2 版" in html and "本行借记卡客户" in html and "本行信用卡客户" in html


def test_review_queue_accept_return_and_bulk(
    client_for, carrier_carol, alice_ports, regulator_rita
):
    clean, warned, late_start = file(carrier_carol), file(carrier_carol, 退订方式=""), None
    services.filings_submit(actor=carrier_carol, filings=[clean, warned])
    client = client_for(regulator_rita)
    html = client.get(reverse("filing_review_queue")).content.decode()
    assert "批量通过无提示的报备（1 份）" in html and 'data-code="NO_OPT_OUT"' in html
    client.post(reverse("filing_review_queue"))
    clean.refresh_from_db()
    warned.refresh_from_db()
    assert clean.status == FilingStatus.ACCEPTED and warned.status == FilingStatus.SUBMITTED
    client.post(reverse("filing_action", args=[warned.pk, "return"]), {"reason": "补充退订方式"})
    warned.refresh_from_db()
    assert warned.status == FilingStatus.RETURNED and late_start is None
    carol = client_for(carrier_carol)
    assert "补充退订方式" in carol.get(reverse("filing_detail", args=[warned.pk])).content.decode()


def test_carrier_marks_sent_and_withdraws(client_for, carrier_carol, alice_ports, regulator_rita):
    one, two = file(carrier_carol), file(carrier_carol)
    services.filings_submit(actor=carrier_carol, filings=[one])
    services.filing_review(actor=regulator_rita, filing=one, decision="accept")
    client = client_for(carrier_carol)
    client.post(reverse("filing_action", args=[one.pk, "sent"]), {"actual_count": "49000"})
    client.post(reverse("filing_action", args=[two.pk, "withdraw"]), {"reason": "取消"})
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, one.actual_count) == (FilingStatus.SENT, 49000)
    assert two.status == FilingStatus.WITHDRAWN


def test_detail_shows_the_qualification_document(client_for, carrier_carol, alice_ports, partner):
    by_partner = file(
        carrier_carol,
        发送主体名称="杭州某催收服务有限公司",
        发送主体统一社会信用代码=PARTNER_CODE,
        委托金融机构名称="甲银行",
        委托金融机构统一社会信用代码=alice_ports.organisation.credit_code,
    )
    html = client_for(carrier_carol).get(reverse("filing_detail", args=[by_partner.pk])).content
    html = html.decode()
    assert "委托书 WT-2026-001" in html and "2026-03-25" in html


def test_calendar_per_day_by_purpose_and_status(client_for, carrier_carol, filing, regulator_rita):
    for user in (carrier_carol, regulator_rita):
        html = client_for(user).get(reverse("filing_calendar") + "?month=2026-03").content.decode()
        assert 'data-day="2026-03-20"' in html
        assert 'data-purpose="marketing"' in html and 'data-status="draft"' in html


def test_export_in_the_forms_columns_with_formulas_neutralised(
    client_for, carrier_carol, alice_ports
):
    file(carrier_carol, 发送对象范围='=HYPERLINK("http://x")')
    response = client_for(carrier_carol).get(
        reverse("filing_export") + "?from=2026-03-01&to=2026-03-31"
    )
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert header[: len(COLUMNS)] == COLUMNS
    row = [c.value for c in ws[2]]
    assert row[COLUMNS.index("发送对象范围")].startswith("'=")
    assert all(c.data_type == "s" for c in ws[2] if c.value is not None)
    empty = client_for(carrier_carol).get(
        reverse("filing_export") + "?from=2026-04-01&to=2026-04-30"
    )
    assert openpyxl.load_workbook(io.BytesIO(b"".join(empty.streaming_content))).active.max_row == 1


def test_template_has_drop_downs_and_instructions(client_for, carrier_carol):
    response = client_for(carrier_carol).get(reverse("filing_template"))
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert "填写说明" in wb.sheetnames
    assert wb.worksheets[0].data_validations.dataValidation  # 发送目的


def test_upload_page_goes_to_the_job(client_for, carrier_carol, alice_ports, tmp_path, eager):
    wb = openpyxl.Workbook()
    wb.active.append(COLUMNS)
    wb.active.append([GOOD.get(c, "") for c in COLUMNS])
    path = tmp_path / "up.xlsx"
    wb.save(path)
    client = client_for(carrier_carol)
    with eager(), open(path, "rb") as fh:
        response = client.post(reverse("filing_upload"), {"file": fh})
    assert response.status_code == 302
    job_id = int(response.url.rstrip("/").split("/")[-1])
    listing = client.get(reverse("filing_list") + f"?job={job_id}").content.decode()
    assert 'data-testid="submit-job"' in listing
    client.post(reverse("filing_job_submit", args=[job_id]))
    assert SmsFiling.objects.get().status == FilingStatus.SUBMITTED


# --- tenancy ---------------------------------------------------------------------------------


def test_carrier_b_gets_404_on_carrier_as_filings(client_for, filing, carrier_bert):
    client = client_for(carrier_bert)
    for name in ("filing_detail", "filing_edit"):
        assert client.get(reverse(name, args=[filing.pk])).status_code == 404
    for action in ("submit", "withdraw", "sent", "accept"):
        assert client.post(reverse("filing_action", args=[filing.pk, action])).status_code == 404
    assert (
        f'href="/filings/{filing.pk}/"' not in client.get(reverse("filing_list")).content.decode()
    )
    html = client.get(reverse("filing_calendar") + "?month=2026-03").content.decode()
    assert "calendar-filing" not in html


def test_institutions_read_filings_naming_them(
    client_for, filing, inst_alice, inst_bob, viewer_viola
):
    for user in (inst_alice, viewer_viola):
        client = client_for(user)
        page = client.get(reverse("filing_detail", args=[filing.pk]))
        assert page.status_code == 200
        assert 'data-testid="submit"' not in page.content.decode()
        assert (
            client.post(reverse("filing_action", args=[filing.pk, "withdraw"])).status_code == 404
        )
        assert client.get(reverse("filing_create")).status_code == 404
        assert client.get(reverse("filing_calendar")).status_code == 404
    bob = client_for(inst_bob)
    assert bob.get(reverse("filing_detail", args=[filing.pk])).status_code == 404
    assert f"/filings/{filing.pk}/" not in bob.get(reverse("filing_list")).content.decode()


def test_partner_filings_are_seen_by_the_entrusting_institution(
    client_for, carrier_carol, alice_ports, partner, inst_bob
):
    by_partner = file(
        carrier_carol,
        发送主体名称="杭州某催收服务有限公司",
        发送主体统一社会信用代码=PARTNER_CODE,
        委托金融机构名称="甲银行",
        委托金融机构统一社会信用代码=alice_ports.organisation.credit_code,
    )
    assert (
        client_for(alice_ports).get(reverse("filing_detail", args=[by_partner.pk])).status_code
        == 200
    )
    assert (
        client_for(inst_bob).get(reverse("filing_detail", args=[by_partner.pk])).status_code == 404
    )


def test_financial_regulator_reads_everything_and_changes_nothing(
    client_for, filing, financial_fiona
):
    client = client_for(financial_fiona)
    assert client.get(reverse("filing_detail", args=[filing.pk])).status_code == 200
    assert client.get(reverse("filing_calendar")).status_code == 200
    assert client.get(reverse("filing_review_queue")).status_code == 404
    response = client.post(reverse("filing_action", args=[filing.pk, "accept"]))
    assert response.status_code == 404


def test_regulator_reads_and_reviews_but_does_not_file(client_for, filing, regulator_rita):
    client = client_for(regulator_rita)
    assert client.get(reverse("filing_detail", args=[filing.pk])).status_code == 200
    assert client.get(reverse("filing_create")).status_code == 404
    assert client.post(reverse("filing_action", args=[filing.pk, "withdraw"])).status_code == 404


def test_carrier_viewer_reads_but_cannot_file(client_for, filing, carrier_carol):
    from tests.conftest import _user

    viewer = _user(carrier_carol.organisation, "cathy", role="viewer")
    client = client_for(viewer)
    assert client.get(reverse("filing_detail", args=[filing.pk])).status_code == 200
    assert client.get(reverse("filing_create")).status_code == 403


def test_anonymous_is_sent_to_the_login(client, filing):
    for url in (
        reverse("filing_list"),
        reverse("filing_detail", args=[filing.pk]),
        reverse("filing_calendar"),
        reverse("filing_export"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


# --- registered signatures (registry) ---------------------------------------------------


def test_institution_manages_its_signatures(client_for, inst_alice, inst_bob, viewer_viola):
    from portal.models import AuditEvent
    from registry.models import RegisteredSignature

    client = client_for(inst_alice)
    client.post(reverse("registry_signature_list"), {"name": "【甲卡】", "note": "商标"})
    signature = RegisteredSignature.objects.get()
    assert signature.name == "甲卡"
    assert "甲卡" in client.get(reverse("registry_signature_list")).content.decode()
    assert (
        "甲卡" not in client_for(inst_bob).get(reverse("registry_signature_list")).content.decode()
    )
    bob = client_for(inst_bob)
    assert bob.post(reverse("registry_signature_remove", args=[signature.pk])).status_code == 404
    viola = client_for(viewer_viola)
    assert viola.post(reverse("registry_signature_remove", args=[signature.pk])).status_code == 403
    client_for(inst_alice).post(reverse("registry_signature_remove", args=[signature.pk]))
    signature.refresh_from_db()
    assert signature.removed_at is not None
    assert list(
        AuditEvent.objects.filter(action__startswith="signature.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["signature.add", "signature.remove"]


def test_carriers_have_no_signature_page(client_for, carrier_carol):
    assert client_for(carrier_carol).get(reverse("registry_signature_list")).status_code == 404


def test_dashboards_show_the_filing_panels(client_for, filing, carrier_carol, regulator_rita):
    services.filing_submit(actor=carrier_carol, filing=filing)
    html = client_for(carrier_carol).get("/").content.decode()
    assert 'data-testid="filing-panel"' in html and "待审核" in html
    html = client_for(regulator_rita).get("/").content.decode()
    assert 'data-testid="filing-panel"' in html and f"/filings/{filing.pk}/" in html
