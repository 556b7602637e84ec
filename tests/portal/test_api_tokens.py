"""Issue 16 item 6: API tokens (portal.models.ApiToken, portal/accounts/tokens.py,
portal/authentication.py, the /tokens/ page).

Tokens are issued and revoked by the organisation's 管理员 on a page, through an audited
service, from a fully authenticated session; each has an expiry (API_TOKEN_DAYS, default 90)
and a last-used time; every token of a user is revoked when the password changes (or is
reset) or the account is deactivated. Only a hash of the key is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import re
import types

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.accounts import services as account_services
from portal.accounts.tokens import api_token_issue, api_token_revoke, hash_key
from portal.errors import NotPermitted
from portal.models import ApiToken, AuditEvent
from portal.views import tokens as views
from portal.workdays import SHANGHAI
from tests.conftest import PASSWORD, _user, with_totp

pytestmark = pytest.mark.django_db

ME = "/api/me/"
TOKENS = "/tokens/"
T0 = dt.datetime(2026, 3, 16, 9, 0, tzinfo=SHANGHAI)
NEW_PASSWORD = "Kestrel-Orbit-Lantern-73"


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def financial_frank(org_financial):
    """The financial regulator's 管理员 (fiona there is a viewer)."""
    return _user(org_financial, "frank")


@pytest.fixture
def alice_key(inst_alice) -> str:
    _token, key = api_token_issue(actor=inst_alice, user=inst_alice, name="甲银行信贷系统")
    return key


def call(key: str, path: str = ME):
    return Client().get(path, HTTP_AUTHORIZATION=f"Token {key}")


def refused_with(response, code: str) -> None:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Token")
    body = response.json()
    assert body["code"] == code
    assert re.search(r"[\u4e00-\u9fff]", body["detail"]), body


# --- the service and the stored token ------------------------------------------------------


def test_issue_stores_only_a_hash_and_audits_without_the_key(inst_alice, viewer_viola, frozen):
    """Item 6: the key is shown once; the database holds its SHA-256 only; the issuance is
    an audit event ``token.issue`` that does not contain the key."""
    token, key = api_token_issue(actor=inst_alice, user=viewer_viola, name="催收系统同步")
    assert key.startswith("ptk_") and len(key) > 40
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token.prefix == key[:12]
    assert token.created_by == inst_alice
    assert token.expires_at == T0 + dt.timedelta(days=90)
    assert token.last_used_at is None
    for value in ApiToken.objects.values_list().get(pk=token.pk):
        assert key not in str(value)
    event = AuditEvent.objects.get(action="token.issue")
    assert event.actor == inst_alice
    assert event.organisation == inst_alice.organisation
    assert event.summary["after"]["user"] == "viola"
    assert key not in str(event.summary)
    from portal.audit import action_label

    assert action_label("token.issue") == "签发 API 令牌"
    assert action_label("token.revoke") == "撤销 API 令牌"


def test_expiry_follows_the_setting(inst_alice, settings, frozen):
    """Item 6: API_TOKEN_DAYS (env var, default 90) sets the expiry."""
    assert settings.API_TOKEN_DAYS == 90
    settings.API_TOKEN_DAYS = 30
    token, _key = api_token_issue(actor=inst_alice, user=inst_alice, name="短期")
    assert token.expires_at == T0 + dt.timedelta(days=30)


def test_only_an_admin_of_the_users_own_organisation_issues_or_revokes(
    inst_alice, inst_bob, viewer_viola, regulator_rita
):
    """Item 6: the organisation's 管理员, for its own users; a regulator's admin is not an
    admin of an institution's users here."""
    for actor, holder in [
        (viewer_viola, viewer_viola),
        (inst_bob, inst_alice),
        (regulator_rita, inst_alice),
    ]:
        with pytest.raises(NotPermitted):
            api_token_issue(actor=actor, user=holder, name="x")
    token, _key = api_token_issue(actor=inst_alice, user=viewer_viola, name="x")
    with pytest.raises(NotPermitted):
        api_token_revoke(actor=inst_bob, token=token)
    assert not AuditEvent.objects.filter(action="token.revoke").exists()


def test_revoking_twice_writes_one_event(inst_alice):
    token, _key = api_token_issue(actor=inst_alice, user=inst_alice, name="x")
    api_token_revoke(actor=inst_alice, token=token)
    api_token_revoke(actor=inst_alice, token=token)
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


# --- the authentication ------------------------------------------------------------------------


def test_a_valid_token_authenticates(inst_alice, alice_key):
    response = call(alice_key)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_an_unknown_token_is_refused_with_a_code(inst_alice, alice_key):
    refused_with(call("ptk_" + "x" * 43), "token_invalid")
    refused_with(Client().get(ME, HTTP_AUTHORIZATION="Token"), "token_malformed")


def test_an_expired_token_is_refused(inst_alice, frozen):
    """Item 6: a token expires (API_TOKEN_DAYS)."""
    _token, key = api_token_issue(actor=inst_alice, user=inst_alice, name="x")
    frozen.shift(dt.timedelta(days=90) - dt.timedelta(seconds=1))
    assert call(key).status_code == 200
    frozen.shift(dt.timedelta(seconds=1))
    refused_with(call(key), "token_expired")


def test_a_revoked_token_is_refused(inst_alice):
    token, key = api_token_issue(actor=inst_alice, user=inst_alice, name="x")
    api_token_revoke(actor=inst_alice, token=token)
    refused_with(call(key), "token_revoked")


def test_the_token_of_an_inactive_user_is_refused(inst_alice, alice_key):
    type(inst_alice).objects.filter(pk=inst_alice.pk).update(is_active=False)
    refused_with(call(alice_key), "user_inactive")


def test_last_used_is_written_at_most_once_a_minute(inst_alice, alice_key, frozen):
    """Item 6: the last-used time, cheaply: one UPDATE a minute, not one per call."""
    token = ApiToken.objects.get()
    assert call(alice_key).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == T0
    frozen.shift(dt.timedelta(seconds=30))
    with CaptureQueriesContext(connection) as queries:
        assert call(alice_key).status_code == 200
    assert not [q for q in queries if "UPDATE" in q["sql"] and "apitoken" in q["sql"]]
    token.refresh_from_db()
    assert token.last_used_at == T0
    frozen.shift(dt.timedelta(seconds=31))
    assert call(alice_key).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == T0 + dt.timedelta(seconds=61)


def test_a_token_user_must_still_change_a_one_time_password(inst_alice, alice_key):
    type(inst_alice).objects.filter(pk=inst_alice.pk).update(must_change_password=True)
    response = call(alice_key)
    assert response.status_code == 403
    assert response.json()["code"] == "password_change_required"


# --- revoked with the password or the account ---------------------------------------------


def test_changing_the_password_revokes_every_token(client, inst_alice):
    """Item 6: a token does not survive a password change (the user's own, on the page)."""
    keys = [api_token_issue(actor=inst_alice, user=inst_alice, name=n)[1] for n in "ab"]
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content
    for key in keys:
        refused_with(call(key), "token_revoked")
    assert set(ApiToken.objects.values_list("revoked_reason", flat=True)) == {"password_change"}
    event = AuditEvent.objects.get(action="token.revoke")
    assert event.actor == inst_alice
    assert event.summary["reason"] == "password_change"
    assert len(event.summary["prefixes"]) == 2


@pytest.mark.parametrize(
    ("action", "reason"), [("reset_password", "password_reset"), ("deactivate", "deactivated")]
)
def test_reset_or_deactivation_by_the_admin_revokes_every_token(
    client_for, inst_alice, viewer_viola, action, reason
):
    """Item 6: resetting a user's password or deactivating the account revokes its tokens
    (the admin's user page, portal/accounts/services.py)."""
    _token, key = api_token_issue(actor=inst_alice, user=viewer_viola, name="x")
    assert call(key).status_code == 200
    response = client_for(inst_alice).post(
        reverse("user_edit", args=[viewer_viola.pk]), {"action": action}
    )
    assert response.status_code in (200, 302)
    refused_with(call(key), "token_revoked")
    assert ApiToken.objects.get().revoked_reason == reason
    event = AuditEvent.objects.get(action="token.revoke")
    assert event.actor == inst_alice and event.summary["reason"] == reason


def test_a_regulator_deactivating_an_institution_user_revokes_its_tokens(
    inst_alice, regulator_rita, alice_key
):
    account_services.user_update(actor=regulator_rita, user=inst_alice, is_active=False)
    assert ApiToken.objects.get().revoked_reason == "deactivated"


def test_a_role_change_keeps_the_tokens(inst_alice, viewer_viola):
    _token, key = api_token_issue(actor=inst_alice, user=viewer_viola, name="x")
    account_services.user_update(actor=inst_alice, user=viewer_viola, role="operator")
    assert call(key).status_code == 200
    assert not AuditEvent.objects.filter(action="token.revoke").exists()


# --- the page ------------------------------------------------------------------------------


def test_admin_issues_a_token_on_the_page_and_sees_it_once(client_for, inst_alice, viewer_viola):
    """Item 6: the organisation's 管理员 issues a token on /tokens/; the key is on the
    answer page once; the list shows only its beginning."""
    client = client_for(inst_alice)
    page = client.get(TOKENS)
    assert page.status_code == 200
    assert "签发令牌" in page.content.decode()
    response = client.post(TOKENS, {"user": viewer_viola.pk, "name": "催收系统同步"})
    assert response.status_code == 200
    text = response.content.decode()
    key = re.search(r'data-testid="api-token">(ptk_[^<]+)<', text).group(1)
    assert ApiToken.objects.get().key_hash == hash_key(key)
    assert call(key).json()["username"] == "viola"
    listing = client.get(TOKENS).content.decode()
    assert key not in listing
    assert ApiToken.objects.get().prefix in listing
    assert "催收系统同步" in listing


def test_admin_revokes_a_token_on_the_page(client_for, inst_alice, alice_key):
    client = client_for(inst_alice)
    token = ApiToken.objects.get()
    response = client.post(reverse("token_revoke", args=[token.pk]))
    assert response.status_code == 302
    refused_with(call(alice_key), "token_revoked")
    assert "已撤销" in client.get(TOKENS).content.decode()
    assert AuditEvent.objects.filter(action="token.revoke", actor=inst_alice).count() == 1


def test_the_page_lists_one_users_tokens_from_the_user_page(client_for, inst_alice, viewer_viola):
    api_token_issue(actor=inst_alice, user=viewer_viola, name="viola 的令牌")
    api_token_issue(actor=inst_alice, user=inst_alice, name="alice 的令牌")
    client = client_for(inst_alice)
    edit = client.get(reverse("user_edit", args=[viewer_viola.pk])).content.decode()
    assert f"{TOKENS}?user={viewer_viola.pk}" in edit
    assert 'href="/tokens/"' in client.get("/").content.decode()  # in the admin's menu
    listing = client.get(TOKENS, {"user": viewer_viola.pk}).content.decode()
    assert "viola 的令牌" in listing and "alice 的令牌" not in listing


def test_an_inactive_user_gets_no_token(client_for, inst_alice, viewer_viola):
    type(viewer_viola).objects.filter(pk=viewer_viola.pk).update(is_active=False)
    response = client_for(inst_alice).post(TOKENS, {"user": viewer_viola.pk, "name": "x"})
    assert response.status_code == 200
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("who", ["viewer_viola", "financial_fiona"])
def test_the_page_does_not_exist_for_non_admins(request, client_for, who, inst_alice):
    client = client_for(request.getfixturevalue(who))
    assert client.get(TOKENS).status_code == 404
    assert client.post(TOKENS, {"user": inst_alice.pk, "name": "x"}).status_code == 404
    assert not ApiToken.objects.exists()


def test_anonymous_goes_to_the_login(client, db):
    response = client.get(TOKENS)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "admin", ["inst_bob", "carrier_carol", "regulator_rita", "financial_frank"]
)
def test_b_cannot_see_or_touch_alices_tokens(request, client_for, inst_alice, alice_key, admin):
    """Item 6 tenancy: another organisation's 管理员 (institution, carrier, regulator,
    financial regulator) neither sees alice's token, nor revokes it (404), nor issues one
    for alice."""
    other = request.getfixturevalue(admin)
    token = ApiToken.objects.get()
    client = client_for(other)
    listing = client.get(TOKENS)
    assert listing.status_code == 200
    text = listing.content.decode()
    assert token.prefix not in text and "甲银行信贷系统" not in text
    assert client.get(TOKENS, {"user": inst_alice.pk}).status_code == 404
    assert client.post(reverse("token_revoke", args=[token.pk])).status_code == 404
    response = client.post(TOKENS, {"user": inst_alice.pk, "name": "偷偷签发"})
    assert response.status_code == 200  # the form refuses a user of another organisation
    assert ApiToken.objects.count() == 1
    assert call(alice_key).status_code == 200
    # And alice sees nothing of theirs.
    theirs = api_token_issue(actor=other, user=other, name="对方令牌")[0]
    alice = client_for(inst_alice)
    assert theirs.prefix not in alice.get(TOKENS).content.decode()
    assert alice.post(reverse("token_revoke", args=[theirs.pk])).status_code == 404


def _request(method: str, user, data=None):
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore

    factory = RequestFactory()
    request = factory.post(TOKENS, data or {}) if method == "POST" else factory.get(TOKENS)
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    request._dont_enforce_csrf_checks = True
    return request


def test_a_session_that_has_not_passed_the_second_factor_gets_no_token(
    regulator_rita, operator_rob
):
    """Item 6: only from a fully authenticated session. With django-otp the user object
    says whether the session passed the second factor (``is_verified()``); when it did not,
    the page refuses to list, issue or revoke."""
    regulator_rita.is_verified = lambda: False
    response = views.token_list(_request("POST", regulator_rita, {"user": operator_rob.pk}))
    assert response.status_code == 403
    assert "双因素认证" in response.content.decode()
    assert not ApiToken.objects.exists()
    token, _key = api_token_issue(actor=regulator_rita, user=operator_rob, name="x")
    response = views.token_revoke(_request("POST", regulator_rita), pk=token.pk)
    assert response.status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
    regulator_rita.is_verified = lambda: True
    response = views.token_list(_request("GET", regulator_rita))
    assert response.status_code == 200


def test_an_admin_without_a_second_factor_is_fully_authenticated_by_the_password(inst_alice):
    """Item 6: django-otp's ``is_verified()`` is False for a user with no second factor at
    all; alice (institution admin, no TOTP) passed everything she has, and gets the page."""
    inst_alice.is_verified = lambda: False
    response = views.token_list(_request("POST", inst_alice, {"user": inst_alice.pk, "name": "x"}))
    assert response.status_code == 200
    assert ApiToken.objects.filter(user=inst_alice).exists()
    with_totp(inst_alice)
    inst_alice.refresh_from_db()
    inst_alice.is_verified = lambda: False
    assert views.token_list(_request("GET", inst_alice)).status_code == 403


def test_the_admin_issues_no_tokens(client_for, superuser, inst_alice):
    """Item 6: tokens are no longer issued in the Django admin (rest_framework.authtoken is
    gone; the portal's tokens are read-only there)."""
    assert "rest_framework.authtoken" not in settings.INSTALLED_APPS
    client = client_for(superuser)
    assert client.get("/admin/authtoken/token/add/").status_code == 404
    assert client.get("/admin/portal/apitoken/").status_code == 200
    assert client.get("/admin/portal/apitoken/add/").status_code == 403


# --- the old rest_framework.authtoken tokens -------------------------------------------------


def test_old_authtoken_tokens_are_carried_over_hashed_and_the_plain_table_dropped(
    inst_alice, carrier_carol, regulator_rita, inst_bob, frozen
):
    """Item 6 migration (portal 0006_api_tokens): old keys keep working for institutions and
    carriers until API_TOKEN_DAYS after the migration; a regulator's old token (its way
    around the second factor) and an inactive user's are revoked; no plain key remains."""
    type(inst_bob).objects.filter(pk=inst_bob.pk).update(is_active=False)
    old = {
        inst_alice.pk: "a" * 40,
        carrier_carol.pk: "c" * 40,
        regulator_rita.pk: "r" * 40,
        inst_bob.pk: "b" * 40,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamp with time zone NOT NULL, user_id bigint NOT NULL)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created datetime NOT NULL, user_id bigint NOT NULL)"
        )
        for user_id, key in old.items():
            cursor.execute(
                "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
                [key, timezone.now() - dt.timedelta(days=400), user_id],
            )
    migration = importlib.import_module("portal.migrations.0006_api_tokens")
    from django.apps import apps

    migration.carry_over_authtoken(apps, types.SimpleNamespace(connection=connection))
    assert "authtoken_token" not in connection.introspection.table_names()
    assert call(old[inst_alice.pk]).json()["username"] == "alice"
    assert call(old[carrier_carol.pk]).json()["username"] == "carol"
    refused_with(call(old[regulator_rita.pk]), "token_revoked")
    refused_with(call(old[inst_bob.pk]), "token_revoked")
    carried = ApiToken.objects.get(user=inst_alice)
    assert carried.expires_at == T0 + dt.timedelta(days=settings.API_TOKEN_DAYS)
    assert carried.created_at == T0 - dt.timedelta(days=400)
    assert carried.key_hash == hash_key("a" * 40) and carried.prefix == "aaaaaaaa"
    frozen.shift(dt.timedelta(days=settings.API_TOKEN_DAYS))
    refused_with(call(old[inst_alice.pk]), "token_expired")
