"""The registry API under /api/registry/ (issue 4 §7): numbers, partners, imports.

Reads are scoped like the pages (another institution's object is a 404, carriers see
nothing); writes go through the services and only for the institution's own 管理员/经办人
(403 with a code for a viewer or a regulator)."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.accounts.tokens import api_token_issue
from portal.models import UploadJob
from registry.models import ImportStatus, Partner, RegisteredNumber, Status
from tests.registry.conftest import (
    PARTNER_CODE,
    PDF,
    make_xlsx,
    pdf_upload,
    register,
    upload_of,
)
from tests.registry.test_views_imports import BAD_ROWS, GOOD_ROWS

pytestmark = pytest.mark.django_db


def token_key(user) -> str:
    """A token issued by the user's own admin (here the user is one), as on /tokens/."""
    return api_token_issue(actor=user, user=user, name="测试")[1]


NUMBERS = "/api/registry/numbers/"
PARTNERS = "/api/registry/partners/"
IMPORTS = "/api/registry/imports/"
NEW_NUMBER = {
    "number": "0571-8765 4321",
    "purpose": "collection",
    "user_name": "本机构",
    "carrier": "中国电信",
    "valid_from": "2026-02-01",
}
NEW_PARTNER = {
    "name": "浙江某营销策划有限公司",
    "credit_code": "91330100MA2PART020",
    "kind": "营销",
    "document_number": "WT-2026-009",
    "valid_from": "2026-01-01",
    "valid_to": "2027-12-31",
}


def numbers_in(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["results"]}


# --- numbers: reading ----------------------------------------------------------------------


def test_alice_lists_her_numbers(client_for, inst_alice, alice_number, bob_number):
    response = client_for(inst_alice).get(NUMBERS)
    assert numbers_in(response) == {"13800138000"}
    row = response.json()["results"][0]
    assert row["institution"]["name"] == "甲银行"
    assert row["purpose"] == "marketing" and row["purpose_display"] == "营销"
    assert row["kind_display"] == "手机"
    assert row["status"] == "active"


def test_bobs_list_does_not_contain_alices(client_for, inst_bob, alice_number, bob_number):
    assert numbers_in(client_for(inst_bob).get(NUMBERS)) == {"13700137000"}
    # The institution filter narrows what bob may see; it never widens it.
    response = client_for(inst_bob).get(NUMBERS, {"institution": alice_number.institution_id})
    assert numbers_in(response) == set()


def test_bob_gets_404_on_alices_number(client_for, inst_bob, alice_number):
    client = client_for(inst_bob)
    response = client.get(f"{NUMBERS}{alice_number.pk}/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "未找到"}
    assert client.get(f"{NUMBERS}{alice_number.pk}/history/").status_code == 404
    response = client.patch(
        f"{NUMBERS}{alice_number.pk}/", {"carrier": "中国联通"}, content_type="application/json"
    )
    assert response.status_code == 404
    response = client.post(
        f"{NUMBERS}{alice_number.pk}/end/",
        {"end_date": "2026-06-30", "reason": "x"},
        content_type="application/json",
    )
    assert response.status_code == 404
    alice_number.refresh_from_db()
    assert alice_number.status == Status.ACTIVE


def test_carrier_sees_nothing(client_for, carrier_carol, alice_number, alice_partner):
    """Issue 10 §6: carriers have no registry pages, and the API agrees (404, not an empty
    list)."""
    client = client_for(carrier_carol)
    for path in (
        NUMBERS,
        PARTNERS,
        IMPORTS,
        f"{NUMBERS}{alice_number.pk}/",
        f"{PARTNERS}{alice_partner.pk}/",
        f"{PARTNERS}{alice_partner.pk}/document/",
    ):
        assert client.get(path).status_code == 404
    response = client.post(NUMBERS, NEW_NUMBER, content_type="application/json")
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["regulator_rita", "financial_fiona"])
def test_regulators_read_everything_and_write_nothing(
    request, client_for, who, alice_number, bob_number, alice_partner
):
    client = client_for(request.getfixturevalue(who))
    assert numbers_in(client.get(NUMBERS)) == {"13800138000", "13700137000"}
    assert numbers_in(client.get(NUMBERS, {"institution": alice_number.institution_id})) == {
        "13800138000"
    }
    assert client.get(f"{NUMBERS}{alice_number.pk}/").status_code == 200
    response = client.post(NUMBERS, NEW_NUMBER, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "not_institution"
    response = client.patch(
        f"{NUMBERS}{alice_number.pk}/", {"carrier": "中国联通"}, content_type="application/json"
    )
    assert response.status_code == 403
    response = client.post(
        f"{NUMBERS}{alice_number.pk}/end/",
        {"end_date": "2026-06-30", "reason": "x"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert client.post(PARTNERS, NEW_PARTNER).status_code == 403
    assert (
        client.patch(
            f"{PARTNERS}{alice_partner.pk}/", {"name": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert RegisteredNumber.objects.count() == 2


def test_filters(client_for, inst_alice, alice_number):
    register(inst_alice, "95599", 用途="催收", 电信运营商="中国电信")
    register(inst_alice, "1069055599")
    register(inst_alice, "106905559901", 所属主端口="1069055599")
    client = client_for(inst_alice)
    assert numbers_in(client.get(NUMBERS, {"number": "+86 138-0013-8000"})) == {"13800138000"}
    assert numbers_in(client.get(NUMBERS, {"number": "0013"})) == {"13800138000"}
    assert numbers_in(client.get(NUMBERS, {"purpose": "collection"})) == {"95599"}
    assert numbers_in(client.get(NUMBERS, {"purpose": "催收"})) == {"95599"}
    assert client.get(NUMBERS, {"purpose": "推销"}).status_code == 400  # not in the enum
    assert numbers_in(client.get(NUMBERS, {"carrier": "电信"})) == {"95599"}
    assert numbers_in(client.get(NUMBERS, {"kind": "sub_port"})) == {"106905559901"}
    assert numbers_in(client.get(NUMBERS, {"kind": "sms_port"})) == {"1069055599"}
    assert client.get(NUMBERS, {"kind": "fax"}).status_code == 400


def test_status_defaults_to_active(client_for, inst_alice, alice_number):
    client = client_for(inst_alice)
    client.post(
        f"{NUMBERS}{alice_number.pk}/end/",
        {"end_date": "2026-06-30", "reason": "停用"},
        content_type="application/json",
    )
    assert numbers_in(client.get(NUMBERS)) == set()
    assert numbers_in(client.get(NUMBERS, {"status": "all"})) == {"13800138000"}
    assert numbers_in(client.get(NUMBERS, {"status": "ended"})) == {"13800138000"}
    # Fetched by id, an ended registration is still there.
    assert client.get(f"{NUMBERS}{alice_number.pk}/").json()["status"] == "ended"


def test_token_authentication(inst_alice, alice_number):
    from django.test import Client

    key = token_key(inst_alice)
    response = Client().get(NUMBERS, HTTP_AUTHORIZATION=f"Token {key}")
    assert numbers_in(response) == {"13800138000"}


def test_anonymous_is_refused(client, alice_number):
    assert client.get(NUMBERS).status_code in (401, 403)


# --- numbers: writing ----------------------------------------------------------------------


def test_create_with_english_fields(client_for, inst_alice):
    response = client_for(inst_alice).post(NUMBERS, NEW_NUMBER, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == "057187654321"
    assert body["kind"] == "landline"
    assert body["purpose"] == "collection"
    assert body["created_by"] == "alice"
    assert RegisteredNumber.objects.get().institution == inst_alice.organisation


@pytest.mark.parametrize("purpose", ["营销及催收", "both"])
def test_create_accepts_codes_or_chinese_labels(client_for, inst_alice, purpose):
    data = {**NEW_NUMBER, "purpose": purpose, "kind": "固话"}
    response = client_for(inst_alice).post(NUMBERS, data, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["purpose"] == "both"


def test_create_a_sub_port_and_a_partner_number(client_for, inst_alice, alice_partner):
    client = client_for(inst_alice)
    data = {
        **NEW_NUMBER,
        "number": "106905559901",
        "kind": "sub_port",
        "main_port": "1069055599",
        "purpose": "marketing",
    }
    response = client.post(NUMBERS, data, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["kind_display"] == "子端口"
    data = {
        **NEW_NUMBER,
        "number": "13900139000",
        "user_name": alice_partner.name,
        "user_credit_code": PARTNER_CODE,
    }
    response = client.post(NUMBERS, data, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["partner"] == alice_partner.pk
    assert response.json()["document_number"] == "WT-2026-001"


def test_create_errors_name_the_english_field(client_for, inst_alice, alice_number):
    client = client_for(inst_alice)
    response = client.post(
        NUMBERS, {**NEW_NUMBER, "number": "12345"}, content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_row"
    assert list(body["fields"]) == ["number"]
    response = client.post(
        NUMBERS, {**NEW_NUMBER, "purpose": "推销"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "purpose" in response.json()["fields"]
    response = client.post(NUMBERS, {"number": "13900139000"}, content_type="application/json")
    assert response.status_code == 400
    assert {"purpose", "user_name", "carrier", "valid_from"} <= set(response.json()["fields"])
    response = client.post(
        NUMBERS, {**NEW_NUMBER, "number": "13800138000"}, content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert list(response.json()["fields"]) == ["number"]


def test_a_number_of_another_institution_is_registered_and_nobody_named(
    client_for, inst_bob, regulator_rita, alice_number
):
    """Issue 16 item 8: no 409 naming the other institution; the row is registered with the
    多机构登记 mark (``shared``), and regulators filter the register by it."""
    response = client_for(inst_bob).post(
        NUMBERS, {**NEW_NUMBER, "number": "13800138000"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["shared"] is True
    assert "甲银行" not in response.content.decode()
    rita = client_for(regulator_rita)
    listed = rita.get(NUMBERS, {"shared": "true"}).json()["results"]
    assert sorted(r["institution"]["name"] for r in listed) == ["乙消费金融", "甲银行"]
    assert rita.get(NUMBERS, {"shared": "false"}).json()["results"] == []


def test_viewer_reads_but_gets_403_with_a_code(client_for, viewer_viola, alice_number):
    client = client_for(viewer_viola)
    assert numbers_in(client.get(NUMBERS)) == {"13800138000"}
    response = client.post(NUMBERS, NEW_NUMBER, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "viewer_read_only"
    response = client.patch(
        f"{NUMBERS}{alice_number.pk}/", {"carrier": "中国联通"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "viewer_read_only"
    response = client.post(
        f"{NUMBERS}{alice_number.pk}/end/",
        {"end_date": "2026-06-30", "reason": "x"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert RegisteredNumber.objects.get().status == Status.ACTIVE


def test_partial_update_keeps_history(client_for, inst_alice, alice_number):
    client = client_for(inst_alice)
    response = client.patch(
        f"{NUMBERS}{alice_number.pk}/", {"carrier": "中国联通"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["carrier"] == "中国联通"
    assert body["purpose"] == "marketing"  # untouched fields stay
    assert body["id"] != alice_number.pk
    alice_number.refresh_from_db()
    assert alice_number.status == Status.SUPERSEDED
    history = client.get(f"{NUMBERS}{body['id']}/history/").json()
    assert [v["event"] for v in history] == ["首次登记", "变更"]
    assert history[0]["status"] == "superseded"
    assert history[1]["changes"] == [
        {"field": "电信运营商", "before": "中国移动", "after": "中国联通"}
    ]


def test_the_number_itself_cannot_change(client_for, inst_alice, alice_number):
    response = client_for(inst_alice).patch(
        f"{NUMBERS}{alice_number.pk}/", {"number": "13900139000"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["number"]


def test_end_a_number(client_for, inst_alice, alice_number):
    client = client_for(inst_alice)
    url = f"{NUMBERS}{alice_number.pk}/end/"
    response = client.post(
        url, {"end_date": "2025-12-31", "reason": "停用"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["end_date"]
    response = client.post(
        url, {"end_date": "2026-06-30", "reason": "合作结束"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "ended"
    assert response.json()["end_reason"] == "合作结束"
    response = client.post(
        url, {"end_date": "2026-06-30", "reason": "again"}, content_type="application/json"
    )
    assert response.status_code == 409


# --- partners ----------------------------------------------------------------------------


def test_partners_are_per_institution(client_for, inst_alice, inst_bob, alice_partner, bob_partner):
    body = client_for(inst_alice).get(PARTNERS).json()
    assert [p["name"] for p in body["results"]] == [alice_partner.name]
    assert body["results"][0]["document_url"] == f"{PARTNERS}{alice_partner.pk}/document/"
    client = client_for(inst_bob)
    assert [p["name"] for p in client.get(PARTNERS).json()["results"]] == [bob_partner.name]
    assert client.get(f"{PARTNERS}{alice_partner.pk}/").status_code == 404
    assert client.get(f"{PARTNERS}{alice_partner.pk}/document/").status_code == 404
    response = client.patch(
        f"{PARTNERS}{alice_partner.pk}/", {"name": "x"}, content_type="application/json"
    )
    assert response.status_code == 404


def test_regulator_reads_partners_and_documents(
    client_for, regulator_rita, alice_partner, bob_partner
):
    client = client_for(regulator_rita)
    assert len(client.get(PARTNERS).json()["results"]) == 2
    response = client.get(f"{PARTNERS}{alice_partner.pk}/document/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    # Issue 17: served as application/pdf (or an image), documented so.
    assert response["Content-Type"] == "application/pdf"


def test_create_a_partner_with_a_document(client_for, inst_alice):
    response = client_for(inst_alice).post(
        PARTNERS, {**NEW_PARTNER, "document": pdf_upload("委托书2026.pdf")}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "marketing"
    assert body["document_name"] == "委托书2026.pdf"
    assert body["has_document"] is True
    assert body["active_numbers"] == 0
    assert Partner.objects.get().institution == inst_alice.organisation


def test_partner_document_is_checked(client_for, inst_alice):
    bad = SimpleUploadedFile("委托书.pdf", b"MZ\x90\x00")
    response = client_for(inst_alice).post(PARTNERS, {**NEW_PARTNER, "document": bad})
    assert response.status_code == 400
    assert "document" in response.json()["fields"]
    assert not Partner.objects.exists()


def test_partner_errors_name_the_field(client_for, inst_alice):
    response = client_for(inst_alice).post(
        PARTNERS, {**NEW_PARTNER, "credit_code": "91330100MA2PART021"}
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["credit_code"]


def test_update_a_partner(client_for, inst_alice, alice_partner):
    client = client_for(inst_alice)
    response = client.patch(
        f"{PARTNERS}{alice_partner.pk}/", {"contact": "李经理"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["contact"] == "李经理"
    assert response.json()["name"] == alice_partner.name
    data = {**NEW_PARTNER, "credit_code": PARTNER_CODE, "kind": "collection"}
    response = client.put(f"{PARTNERS}{alice_partner.pk}/", data, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == NEW_PARTNER["name"]
    assert response.json()["document_name"] == "委托书.pdf"  # kept when none is sent


def test_viewer_cannot_write_partners(client_for, viewer_viola, alice_partner):
    client = client_for(viewer_viola)
    assert client.get(f"{PARTNERS}{alice_partner.pk}/").status_code == 200
    response = client.post(PARTNERS, NEW_PARTNER)
    assert response.status_code == 403
    assert response.json()["code"] == "viewer_read_only"
    response = client.patch(
        f"{PARTNERS}{alice_partner.pk}/", {"name": "x"}, content_type="application/json"
    )
    assert response.status_code == 403


# --- imports -----------------------------------------------------------------------------


def post_file(client, eager, path, mode="merge"):
    with eager():
        return client.post(IMPORTS, {"file": upload_of(path), "mode": mode})


def test_upload_returns_201_and_the_job_finishes(client_for, inst_alice, tmp_path, eager):
    client = client_for(inst_alice)
    path = make_xlsx(tmp_path / "登记表.xlsx", GOOD_ROWS)
    response = post_file(client, eager, path)
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "status", "percent", "duplicate"} <= set(body)
    assert body["duplicate"] is False
    job = client.get(f"{IMPORTS}{body['id']}/").json()
    assert job["status"] == "done"
    assert job["percent"] == 100
    assert (job["created"], job["updated"], job["unchanged"], job["ended"]) == (3, 0, 0, 0)
    assert job["error_report_url"] is None
    assert RegisteredNumber.objects.count() == 3


def test_the_same_file_again_is_200_with_the_existing_job(client_for, inst_alice, tmp_path, eager):
    client = client_for(inst_alice)
    path = make_xlsx(tmp_path / "登记表.xlsx", GOOD_ROWS)
    first = post_file(client, eager, path).json()
    response = post_file(client, eager, path)
    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert response.json()["duplicate"] is True
    assert "未重复导入" in response.json()["detail"]
    assert UploadJob.objects.count() == 1


def test_a_rejected_job_has_an_error_report(client_for, inst_alice, inst_bob, tmp_path, eager):
    client = client_for(inst_alice)
    path = make_xlsx(tmp_path / "错误.xlsx", BAD_ROWS)
    job_id = post_file(client, eager, path).json()["id"]
    job = client.get(f"{IMPORTS}{job_id}/").json()
    assert job["status"] == ImportStatus.REJECTED
    assert job["error_count"] == 2
    assert job["error_report_url"] == f"{IMPORTS}{job_id}/error-report/"
    response = client.get(job["error_report_url"])
    assert response.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert wb.sheetnames[0] == "错误明细"
    # bob: 404 on the job and its report, and his list is empty
    other = client_for(inst_bob)
    assert other.get(f"{IMPORTS}{job_id}/").status_code == 404
    assert other.get(f"{IMPORTS}{job_id}/error-report/").status_code == 404
    assert other.get(IMPORTS).json()["results"] == []


def test_import_permissions(
    client_for, viewer_viola, regulator_rita, carrier_carol, inst_alice, tmp_path, eager
):
    path = make_xlsx(tmp_path / "登记表.xlsx", GOOD_ROWS)
    response = post_file(client_for(viewer_viola), eager, path)
    assert response.status_code == 403
    assert response.json()["code"] == "viewer_read_only"
    assert post_file(client_for(regulator_rita), eager, path).status_code == 403
    assert post_file(client_for(carrier_carol), eager, path).status_code == 404  # no registry
    assert not UploadJob.objects.exists()
    job_id = post_file(client_for(inst_alice), eager, path).json()["id"]
    assert len(client_for(regulator_rita).get(IMPORTS).json()["results"]) == 1
    assert client_for(regulator_rita).get(f"{IMPORTS}{job_id}/").status_code == 200
    assert client_for(carrier_carol).get(f"{IMPORTS}{job_id}/").status_code == 404
    assert client_for(viewer_viola).get(f"{IMPORTS}{job_id}/").status_code == 200


def test_upload_requires_a_file(client_for, inst_alice):
    response = client_for(inst_alice).post(IMPORTS, {"mode": "merge"})
    assert response.status_code == 400
    assert "file" in response.json()["fields"]


# --- documentation -------------------------------------------------------------------------


def test_schema_lists_the_registry_with_chinese_summaries(client_for, inst_alice):
    schema = client_for(inst_alice).get("/api/schema/", {"format": "json"}).json()
    assert "/api/registry/numbers/" in schema["paths"]
    assert "/api/registry/numbers/{id}/end/" in schema["paths"]
    assert "/api/registry/imports/{id}/error-report/" in schema["paths"]
    assert schema["paths"]["/api/registry/numbers/"]["post"]["summary"] == "登记号码"
    assert (
        "multipart/form-data"
        in (schema["paths"]["/api/registry/imports/"]["post"]["requestBody"]["content"])
    )


# --- the schema's facts, as the server keeps them (issue 17 §2) ------------------------


@pytest.mark.parametrize("value", ["7", "1", "yes", "True"])
def test_the_shared_filter_takes_true_or_false_only(client_for, regulator_rita, value):
    """schemathesis: ``?shared=7`` (not a boolean) was read as "no filter"."""
    response = client_for(regulator_rita).get(NUMBERS, {"shared": value})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["shared"]


@pytest.mark.parametrize("value", ["推销", "Marketing", "fax"])
def test_writes_refuse_a_value_outside_the_enum(client_for, inst_alice, value):
    response = client_for(inst_alice).post(
        NUMBERS, {**NEW_NUMBER, "purpose": value, "kind": value}, content_type="application/json"
    )
    assert response.status_code == 400
    assert {"purpose", "kind"} <= set(response.json()["fields"])
    response = client_for(inst_alice).post(PARTNERS, {**NEW_PARTNER, "kind": value})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["kind"]


def test_numbers_take_json_only(client_for, inst_alice):
    response = client_for(inst_alice).post(NUMBERS, NEW_NUMBER)  # multipart
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_an_empty_valid_to_in_a_form_is_none(client_for, inst_alice):
    """A form encoding has no null: an empty 委托截止日期 means none (the schema says so)."""
    response = client_for(inst_alice).post(PARTNERS, {**NEW_PARTNER, "valid_to": ""})
    assert response.status_code == 201, response.content
    assert response.json()["valid_to"] is None


def test_a_partner_without_a_document_has_a_null_url(client_for, inst_alice, alice_partner):
    body = client_for(inst_alice).get(f"{PARTNERS}{alice_partner.pk}/").json()
    assert body["has_document"] is (body["document_url"] is not None)


def test_a_text_field_takes_a_string_only(client_for, inst_alice):
    """schemathesis (issue 17): ``"remark": 0`` was stored as "0" though the schema says
    string."""
    client = client_for(inst_alice)
    response = client.post(NUMBERS, {**NEW_NUMBER, "remark": 0}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"remark": ["应为字符串"]}
    response = client.post(PARTNERS, {**NEW_PARTNER, "contact": 0}, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["contact"]
