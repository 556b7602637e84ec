"""Issue 16 item 5: the session limits (30 minutes idle, 12 hours in total; settings
SESSION_IDLE_TIMEOUT_SECONDS / SESSION_ABSOLUTE_TIMEOUT_SECONDS) apply to API calls made with
the browser's session too (portal/middleware.py SessionTimeoutMiddleware). An expired session
gets 401 ``{"code": "session_expired", "detail": "…"}``, never data and never a redirect.
A token-authenticated call is governed by the token's expiry instead."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client

from portal.workdays import SHANGHAI
from registry.models import RegisteredNumber
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 16, 9, 0, tzinfo=SHANGHAI)
NUMBERS = "/api/registry/numbers/"
NEW_NUMBER = {
    "number": "0571-8765 4321",
    "purpose": "collection",
    "user_name": "本机构",
    "carrier": "中国电信",
    "valid_from": "2026-02-01",
}


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def logged_in(username: str = "alice") -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    return client


def api_get(client: Client):
    return client.get(NUMBERS)


def api_post(client: Client):
    return client.post(NUMBERS, NEW_NUMBER, content_type="application/json")


CALLS = {"GET": api_get, "POST": api_post}


def assert_session_expired(response, detail: str) -> None:
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/json")
    assert "Location" not in response
    assert response.json() == {"code": "session_expired", "detail": detail}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_api_call_after_thirty_idle_minutes_is_refused(inst_alice, frozen, method):
    """Item 5: a session idle for 31 minutes neither reads nor writes through the API."""
    client = logged_in()
    frozen.shift(dt.timedelta(minutes=5))
    assert api_get(client).status_code == 200
    frozen.shift(dt.timedelta(minutes=31))
    response = CALLS[method](client)
    assert_session_expired(response, "您已超过 30 分钟未操作，请重新登录")
    assert not RegisteredNumber.objects.exists()
    # The session is over: the next call is anonymous, the page asks for a login.
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


def test_api_calls_count_as_activity(inst_alice, frozen):
    """Item 5: a session used only through the API (e.g. the API docs page) stays alive
    while it is used, like a page."""
    client = logged_in()
    for _ in range(4):
        frozen.shift(dt.timedelta(minutes=25))
        assert api_get(client).status_code == 200
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("after", "detail"),
    [
        (dt.timedelta(minutes=20), "登录已超过 12 小时，请重新登录"),
        # 13 hours after the login, an hour after the last page: idle too.
        (dt.timedelta(hours=1), "您已超过 30 分钟未操作，请重新登录"),
    ],
)
def test_api_call_of_a_session_older_than_twelve_hours_is_refused(
    inst_alice, frozen, method, after, detail
):
    """Item 5 repro: a session kept busy with pages for 12 hours, then used through the API
    12 h 20 min (or 13 h) after the login, still read and changed the registry. Now: 401
    session_expired, nothing written."""
    client = logged_in()
    elapsed = dt.timedelta()
    while elapsed < dt.timedelta(hours=12):
        frozen.shift(dt.timedelta(minutes=20))
        elapsed += dt.timedelta(minutes=20)
        assert client.get("/").status_code == 200
    frozen.shift(after)
    assert_session_expired(CALLS[method](client), detail)
    assert not RegisteredNumber.objects.exists()


def test_token_call_is_governed_by_the_tokens_expiry_not_a_session(inst_alice, frozen):
    """Item 5: a token has no session; 13 hours (or 31 idle minutes) mean nothing to it,
    its expiry does (API_TOKEN_DAYS)."""
    from portal.accounts.tokens import api_token_issue

    _token, key = api_token_issue(actor=inst_alice, user=inst_alice, name="核心系统对接")
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(NUMBERS).status_code == 200
    frozen.shift(dt.timedelta(hours=13))
    assert client.get(NUMBERS).status_code == 200
    assert api_post(client).status_code == 201
    frozen.shift(dt.timedelta(days=settings.API_TOKEN_DAYS))
    response = client.get(NUMBERS)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_a_token_call_with_a_stale_session_cookie_uses_the_token(inst_alice, frozen):
    """Item 5: with both a token and an expired session, the token decides."""
    from portal.accounts.tokens import api_token_issue

    _token, key = api_token_issue(actor=inst_alice, user=inst_alice, name="核心系统对接")
    client = logged_in()
    frozen.shift(dt.timedelta(minutes=45))
    assert client.get(NUMBERS, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
