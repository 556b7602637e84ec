"""/api/filings/ (issue 12 §7): file, check, submit, review, mark sent; tenancy for every
kind of organisation; errors in the one shape; the schema names the check codes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from filings.models import FilingStatus
from tests.filings.conftest import GOOD, file

pytestmark = pytest.mark.django_db

BODY = {
    "carrier_label": GOOD["报备单位"],
    "sender_name": GOOD["发送主体名称"],
    "sender_credit_code": GOOD["发送主体统一社会信用代码"],
    "signature": GOOD["短信签名"],
    "port": GOOD["发送端口"],
    "purpose": "营销",
    "content": GOOD["短信内容"],
    "start_at": GOOD["计划发送开始时间"],
    "end_at": GOOD["计划发送结束时间"],
    "planned_count": 50000,
    "recipients": GOOD["发送对象范围"],
    "consent": GOOD["发送对象同意情况"],
    "region": "浙江省",
    "opt_out": "回T退订",
    "contact_name": "张三",
    "contact_phone": "0571-87650001",
}


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_file_check_submit_review_sent(carrier_carol, alice_ports, regulator_rita):
    carol = api(carrier_carol)
    checked = carol.post(
        "/api/filings/check/", {**BODY, "start_at": "2026-03-11 09:00"}, format="json"
    )
    assert checked.status_code == 200
    assert [c["code"] for c in checked.data["checks"]] == ["LATE"]
    assert checked.data["deadline"].startswith("2026-03-04T23:59:59")
    created = carol.post("/api/filings/", BODY, format="json")
    assert created.status_code == 201, created.data
    pk = created.data["id"]
    assert created.data["status"] == "draft" and created.data["checks"] == []
    assert created.data["qualification"] == "licence" and created.data["register_entry"]
    assert carol.post(f"/api/filings/{pk}/submit/").data["status"] == "submitted"
    rita = api(regulator_rita)
    reviewed = rita.post(f"/api/filings/{pk}/review/", {"decision": "accept"}, format="json")
    assert reviewed.data["status"] == "accepted"
    sent = carol.post(f"/api/filings/{pk}/sent/", {"actual_count": 100}, format="json")
    assert sent.data["status"] == "sent" and sent.data["actual_count"] == 100
    versions = carol.get(f"/api/filings/{pk}/versions/").data
    assert versions[0]["version"] == 1 and versions[0]["values"]["发送端口"] == "1069055599"


def test_blocked_submission_is_a_409_in_the_one_shape(carrier_carol, alice_ports):
    filing = file(carrier_carol, 发送端口="1069099999")
    response = api(carrier_carol).post(f"/api/filings/{filing.pk}/submit/")
    assert response.status_code == 409
    assert response.data["code"] == "filing_blocked" and "1069099999" in response.data["detail"]


def test_invalid_values_name_their_fields(carrier_carol):
    response = api(carrier_carol).post(
        "/api/filings/", {**BODY, "start_at": "明天", "sender_credit_code": "123"}, format="json"
    )
    assert response.status_code == 400 and response.data["code"] == "invalid"
    assert set(response.data["fields"]) == {"start_at", "sender_credit_code"}


def test_amend_resets_the_review(carrier_carol, alice_ports):
    filing = file(carrier_carol)
    carol = api(carrier_carol)
    carol.post(f"/api/filings/{filing.pk}/submit/")
    amended = carol.post(
        f"/api/filings/{filing.pk}/amend/", {**BODY, "planned_count": 7}, format="json"
    )
    assert amended.data["version"] == 2 and amended.data["status"] == "draft"


def test_bulk_accept(carrier_carol, alice_ports, regulator_rita):
    from filings import services

    clean, warned = file(carrier_carol), file(carrier_carol, 退订方式="")
    services.filings_submit(actor=carrier_carol, filings=[clean, warned])
    response = api(regulator_rita).post(
        "/api/filings/accept-clean/", {"ids": [clean.pk, warned.pk]}, format="json"
    )
    assert response.data == {"accepted": [clean.pk], "skipped": [warned.pk]}


def test_tenancy(
    carrier_carol, alice_ports, carrier_bert, inst_bob, financial_fiona, regulator_rita
):
    filing = file(carrier_carol)
    url = f"/api/filings/{filing.pk}/"
    assert api(carrier_bert).get(url).status_code == 404
    assert api(carrier_bert).get("/api/filings/").data["count"] == 0
    assert api(carrier_bert).post(url + "withdraw/").status_code == 404
    assert api(inst_bob).get(url).status_code == 404
    assert api(alice_ports).get(url).status_code == 200
    assert api(alice_ports).post(url + "withdraw/").status_code == 403
    assert api(financial_fiona).get(url).status_code == 200
    assert api(financial_fiona).post(url + "review/", {"decision": "accept"}).status_code == 403
    assert api(regulator_rita).post(url + "withdraw/").status_code == 403
    assert APIClient().get(url).status_code == 401
    assert (
        api(carrier_bert).post("/api/filings/", BODY, format="json").status_code == 400
    )  # 报备单位


def test_list_filters(carrier_carol, alice_ports):
    file(carrier_carol)
    file(carrier_carol, 计划发送开始时间="2026-04-01 09:00", 计划发送结束时间="2026-04-01 18:00")
    carol = api(carrier_carol)
    assert carol.get("/api/filings/?start_before=2026-03-31T00:00:00%2B08:00").data["count"] == 1
    assert carol.get("/api/filings/?status=draft").data["count"] == 2
    assert carol.get("/api/filings/?status=nonsense").status_code == 400
    assert carol.get("/api/filings/?job=99999999999999999999").status_code in (200, 400)


def test_schema_names_the_check_codes_and_statuses(carrier_carol):
    response = api(carrier_carol).get("/api/schema/?format=json")
    schema = response.json()
    components = schema["components"]["schemas"]
    assert set(components["FilingCheckCodeEnum"]["enum"]) >= {
        "LATE",
        "PORT_OTHER_CARRIER",
        "BAD_PERIOD",
    }
    statuses = {s for name, c in components.items() if "enum" in c for s in c["enum"]}
    assert {FilingStatus.SENT, FilingStatus.WITHDRAWN} <= statuses
