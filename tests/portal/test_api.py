"""The API shell: who am I, deadlines, errors as code + message, the OpenAPI document
(portal/api.py; domain.md "Working days"; house style: typed errors with a Chinese message
and a stable code)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from portal.accounts.tokens import api_token_issue
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def token_key(user) -> str:
    """A token issued by the user's own admin (here the user is one), as on /tokens/."""
    return api_token_issue(actor=user, user=user, name="测试")[1]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """The throttles count in the process-wide cache; start every test from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize(
    ("who", "name", "kind"),
    [
        ("inst_alice", "甲银行", "institution"),
        ("inst_bob", "乙消费金融", "institution"),
        ("carrier_carol", "某移动公司", "carrier"),
        ("regulator_rita", "某省通信管理局", "regulator"),
        ("financial_fiona", "某金融监管局", "financial_regulator"),
    ],
)
def test_me_returns_the_users_organisation(request, client_for, who, name, kind):
    user = request.getfixturevalue(who)
    response = client_for(user).get("/api/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == user.username
    assert body["role"] == user.role
    assert body["organisation"]["id"] == user.organisation_id
    assert body["organisation"]["name"] == name
    assert body["organisation"]["kind"] == kind
    assert body["organisation"]["credit_code"] == user.organisation.credit_code


def test_anonymous_is_refused(client, db):
    for path in ("/api/me/", "/api/deadlines/?quarter=2026Q2"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert "organisation" not in response.json()


def test_token_authentication(inst_alice):
    key = token_key(inst_alice)
    response = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_bad_token_is_refused(inst_alice):
    token_key(inst_alice)
    response = Client().get("/api/me/", HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_token_of_an_inactive_user_is_refused(inst_alice):
    key = token_key(inst_alice)
    inst_alice.is_active = False
    inst_alice.save(update_fields=["is_active"])
    response = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code in (401, 403)


def test_token_user_must_change_password_first(inst_alice):
    inst_alice.must_change_password = True
    inst_alice.save(update_fields=["must_change_password"])
    key = token_key(inst_alice)
    response = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 403
    assert response.json()["code"] == "password_change_required"


def test_deadlines(client_for, carrier_carol):
    """domain.md examples: SMS start 2026-03-16 -> due 2026-03-09 (000 §二(二)3); Q2 2026
    -> due 2026-06-23 (000 §三(一)2); both at 23:59:59 Asia/Shanghai."""
    response = client_for(carrier_carol).get(
        "/api/deadlines/", {"sms_start": "2026-03-16", "quarter": "2026Q2"}
    )
    assert response.status_code == 200
    assert response.json() == [
        {
            "kind": "sms_filing",
            "subject": "2026-03-16",
            "due": "2026-03-09T23:59:59+08:00",
            "due_date": "2026-03-09",
        },
        {
            "kind": "quarterly_report",
            "subject": "2026Q2",
            "due": "2026-06-23T23:59:59+08:00",
            "due_date": "2026-06-23",
        },
    ]


def test_deadlines_around_spring_festival_via_token(carrier_carol):
    """000 §二(二)3: start 2026-02-24 -> Feb 14 (Saturday, 调休) 13 12 11 10 -> Feb 10."""
    key = token_key(carrier_carol)
    response = Client().get(
        "/api/deadlines/", {"sms_start": "2026-02-24"}, HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert response.json()[0]["due_date"] == "2026-02-10"


def test_deadlines_without_parameters_is_an_empty_list(client_for, inst_alice):
    assert client_for(inst_alice).get("/api/deadlines/").json() == []


def test_year_not_loaded_is_409_with_a_code_and_chinese_detail(client_for, carrier_carol):
    """domain.md: a year the table does not cover is an explicit error telling the
    regulator to load it."""
    response = client_for(carrier_carol).get("/api/deadlines/", {"sms_start": "2027-01-11"})
    assert response.status_code == 409
    assert response.json() == {
        "code": "calendar_year_missing",
        "detail": "工作日历未包含 2027 年：请监管人员在“工作日历”中加载 2027 年的节假日安排后再试",
    }


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"quarter": "2026Q5"}, "季度应为 1–4，实际为“2026Q5”"),
        ({"sms_start": "16/03/2026"}, None),
    ],
)
def test_bad_input_is_400_with_a_code(client_for, carrier_carol, params, detail):
    response = client_for(carrier_carol).get("/api/deadlines/", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_date"
    if detail:
        assert body["detail"] == detail


def test_session_api_does_not_need_a_password_every_time(client, inst_alice):
    """The browser's session works for the API too (SessionAuthentication)."""
    login = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert login.status_code == 302 and login["Location"] == "/"  # logged in, not refused
    assert client.get("/api/me/").json()["username"] == "alice"


def test_schema_is_openapi_and_lists_me(client_for, inst_alice):
    response = client_for(inst_alice).get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    text = response.content.decode()
    assert text.startswith("openapi: 3")
    assert "/api/me/:" in text
    assert "/api/deadlines/:" in text


def test_schema_as_json(client_for, inst_alice):
    response = client_for(inst_alice).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert "/api/me/" in schema["paths"]
    assert schema["info"]["title"] == "金融营销催收号码备案与比对平台 API"


def test_docs_render_for_a_logged_in_user(client_for, inst_alice):
    response = client_for(inst_alice).get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger" in page.lower()
    # The split view serves its script from a URL, not inline, so the CSP needs no
    # 'unsafe-inline'; the script points the UI at the schema.
    assert '<script src="/api/docs/?script="></script>' in page
    script = client_for(inst_alice).get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()


def test_docs_and_schema_need_a_login(client, db):
    """Issue 16 item 8 "API docs open to anonymous users": the Swagger page (and its
    script) sends an anonymous visitor to the login; the schema answers 401."""
    for params in ({}, {"script": ""}):
        response = client.get("/api/docs/", params)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=/api/docs/")
    for params in ({}, {"format": "json"}):
        response = client.get("/api/schema/", params)
        assert response.status_code in (401, 403)
        assert b"openapi:" not in response.content and b"paths" not in response.content
        assert b"not_authenticated" in response.content


def test_schema_with_a_token(inst_alice):
    """An integration may fetch the schema with its token."""
    key = token_key(inst_alice)
    response = Client().get("/api/schema/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200


def test_docs_page_has_chinese_tags_a_way_back_and_no_inline_style(client_for, inst_alice):
    """Issue 10 §13: tags were English (deadlines, me), no link back to the portal, and an
    inline <style> the CSP refused."""
    client = client_for(inst_alice)
    page = client.get("/api/docs/").content.decode()
    assert 'data-testid="back-to-portal"' in page
    assert "<style" not in page and "style=" not in page
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    tags = {tag for op in schema["paths"].values() for m in op.values() for tag in m["tags"]}
    assert tags and all(not tag.isascii() for tag in tags), tags


def test_a_bad_date_is_explained_in_chinese(client_for, carrier_carol):
    """Issue 17: bad_date leaked Python's English (Invalid isoformat string)."""
    response = client_for(carrier_carol).get("/api/deadlines/", {"sms_start": "2026-02-30"})
    assert response.status_code == 400
    assert response.json()["detail"] == "日期 2026-02-30 不存在：2026 年 2 月只有 28 天"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"quarter": "2026q2"}, "quarter"),
        ({"quarter": "2026-Q2"}, "quarter"),
        ({"quarter": "٢٠٢٦Q2"}, "quarter"),
        ({"sms_start": "2026-3-16"}, "sms_start"),
        ({"sms_start": ""}, "sms_start"),
    ],
)
def test_deadline_parameters_follow_the_schema(client_for, carrier_carol, params, field):
    """Issue 17: the schema says a date and ``^[0-9]{4}Q[1-4]$``; the API forgave other
    spellings (and Unicode digits)."""
    response = client_for(carrier_carol).get("/api/deadlines/", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_date" and list(body["fields"]) == [field]


def test_year_zero_is_a_year_the_calendar_does_not_know(client_for, carrier_carol):
    """schemathesis: ``0000Q1`` matches the pattern and leaked ``year 0 is out of range``."""
    response = client_for(carrier_carol).get("/api/deadlines/", {"quarter": "0000Q1"})
    assert response.status_code == 409
    assert response.json()["code"] == "calendar_year_missing"
