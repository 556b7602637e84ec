"""Login, lockout, two-factor authentication, first-login password change, session limits,
CSRF and security headers (portal/accounts/views.py, portal/middleware.py).

The rules come from the settings module (GB/T 22239 level 2, cited in
portal/accounts/lockout.py): 5 failures in 15 minutes lock the account for 15 minutes;
regulator accounts must use TOTP; 30 minutes idle or 12 hours in total end a session;
passwords of at least 10 characters, not common, not all digits, not containing the username.
Personal data behind the login: domain.md "access control and audit" (000 §二(一)5).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from portal.accounts import services as account_services
from portal.accounts import totp
from portal.audit import SYSTEM
from portal.models import AuditEvent, User
from portal.workdays import SHANGHAI
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
T0 = dt.datetime(2026, 3, 16, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def frozen(time_machine):
    """Clock stopped at T0; tests move it with ``frozen.shift``."""
    time_machine.move_to(T0, tick=False)
    return time_machine


def login(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def page_text(response) -> str:
    return response.content.decode()


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- password step ----------------------------------------------------------------------------


def test_login_page_renders(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert "连续 5 次密码错误将锁定 15 分钟" in page_text(response)


def test_user_without_2fa_lands_on_the_dashboard(client, inst_alice):
    response = login(client, "alice")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", actor=inst_alice).count() == 1


def test_logged_in_user_visiting_login_goes_home(client_for, inst_alice):
    response = client_for(inst_alice).get(LOGIN)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_wrong_password_says_how_many_tries_remain(client, inst_alice, frozen):
    """Lockout after 5 failures: each failure says how many are left."""
    response = login(client, "alice", "wrong-password-1")
    assert response.status_code == 200
    assert "用户名或密码错误（再失败 4 次账户将被锁定 15 分钟）" in page_text(response)
    response = login(client, "alice", "wrong-password-2")
    assert "再失败 3 次" in page_text(response)
    assert not is_logged_in(client)
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 2


def test_unknown_user_gets_the_same_message(client, db):
    """No user enumeration: an unknown name reads like a wrong password."""
    response = login(client, "nobody", "whatever-123")
    assert "用户名或密码错误（再失败 4 次账户将被锁定 15 分钟）" in page_text(response)


def test_five_failures_lock_for_fifteen_minutes_even_the_right_password(client, inst_alice, frozen):
    """GB/T 22239 level 2 (settings): 5 failures in 15 minutes lock the account 15 minutes."""
    for n in range(4):
        login(client, "alice", f"wrong-{n}")
    response = login(client, "alice", "wrong-4")
    assert "登录失败次数过多，账户已锁定，请 15 分钟后再试" in page_text(response)
    assert AuditEvent.objects.filter(action="auth.locked").count() == 1

    frozen.shift(dt.timedelta(minutes=10))
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 200
    assert "请 5 分钟后再试" in page_text(response)
    assert "分钟" in page_text(response)
    assert not is_logged_in(client)

    frozen.shift(dt.timedelta(minutes=5, seconds=1))
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert is_logged_in(client)


def test_lockout_is_per_account(client, inst_alice, inst_bob, frozen):
    for n in range(5):
        login(client, "alice", f"wrong-{n}")
    assert login(client, "bob").status_code == 302


def test_failures_older_than_the_window_do_not_count(client, inst_alice, frozen):
    for n in range(4):
        login(client, "alice", f"wrong-{n}")
    frozen.shift(dt.timedelta(minutes=16))
    response = login(client, "alice", "wrong-again")
    assert "再失败 4 次" in page_text(response)


def test_a_successful_login_resets_the_count(client, inst_alice, frozen):
    for n in range(4):
        login(client, "alice", f"wrong-{n}")
    assert login(client, "alice").status_code == 302
    client.post(reverse("logout"))
    frozen.shift(dt.timedelta(seconds=1))
    response = login(client, "alice", "wrong-after-success")
    assert "再失败 4 次" in page_text(response)


# --- two-factor authentication ------------------------------------------------------------------


def test_regulator_needs_the_code(client, regulator_rita, frozen):
    """Regulator accounts must use TOTP (User.requires_totp)."""
    response = login(client, "rita")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    assert not is_logged_in(client)
    assert client.get("/").status_code == 302  # not in yet

    response = client.post("/accounts/2fa/", {"code": "000000"})
    assert response.status_code == 200
    assert "验证码错误或已使用" in page_text(response)
    assert not is_logged_in(client)

    response = client.post(
        "/accounts/2fa/", {"code": totp.current_code(regulator_rita.totp_secret)}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert is_logged_in(client)
    assert "监管工作台" in page_text(client.get("/"))


def test_a_code_cannot_be_replayed(client, regulator_rita, frozen):
    code = totp.current_code(regulator_rita.totp_secret)
    login(client, "rita")
    assert client.post("/accounts/2fa/", {"code": code}).status_code == 302
    client.post(reverse("logout"))

    other = Client()
    login(other, "rita")
    response = other.post("/accounts/2fa/", {"code": code})
    assert response.status_code == 200
    assert "验证码错误或已使用" in page_text(response)
    assert not is_logged_in(other)

    frozen.shift(dt.timedelta(seconds=30))
    response = other.post("/accounts/2fa/", {"code": totp.current_code(regulator_rita.totp_secret)})
    assert response.status_code == 302


def test_wrong_codes_count_toward_the_lockout(client, regulator_rita, frozen):
    login(client, "rita")
    for _ in range(5):
        client.post("/accounts/2fa/", {"code": "000000"})
    response = client.post(
        "/accounts/2fa/", {"code": totp.current_code(regulator_rita.totp_secret)}
    )
    assert "账户已锁定" in page_text(response)
    assert not is_logged_in(client)


def test_pending_second_step_expires_after_five_minutes(client, regulator_rita, frozen):
    login(client, "rita")
    frozen.shift(dt.timedelta(seconds=301))
    response = client.post(
        "/accounts/2fa/", {"code": totp.current_code(regulator_rita.totp_secret)}, follow=True
    )
    assert response.redirect_chain[0][0] == LOGIN
    assert "验证已超时，请重新登录" in page_text(response)
    assert not is_logged_in(client)


def test_2fa_page_without_a_password_step_goes_to_login(client, db):
    response = client.get("/accounts/2fa/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN


@pytest.fixture
def regulator_without_totp(org_regulator):
    from tests.conftest import _user

    return _user(org_regulator, "ruth")


def test_regulator_without_totp_must_enrol_before_the_dashboard(
    client, regulator_without_totp, frozen
):
    """Regulator accounts must use TOTP: without one they are sent to enrol and are not
    logged in until the authenticator shows the right code."""
    response = login(client, "ruth")
    assert response["Location"] == "/accounts/2fa/setup/"
    assert not is_logged_in(client)
    assert client.get("/").status_code == 302
    setup = client.get("/accounts/2fa/setup/")
    assert setup.status_code == 200
    secret = client.session["totp_new_secret"]
    assert "otpauth://totp/" in page_text(setup)
    assert client.get("/").status_code == 302

    response = client.post("/accounts/2fa/setup/", {"code": "000000"})
    assert "验证码不正确" in page_text(response)
    assert not is_logged_in(client)

    response = client.post("/accounts/2fa/setup/", {"code": totp.current_code(secret)})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert is_logged_in(client)
    assert client.get("/").status_code == 200
    regulator_without_totp.refresh_from_db()
    assert regulator_without_totp.totp_enabled
    device = account_services.totp_device(regulator_without_totp)
    assert totp.hex_to_base32(device.key) == secret


def test_setup_page_needs_a_login_or_a_pending_user(client, db):
    assert client.get("/accounts/2fa/setup/")["Location"] == LOGIN


def test_optional_totp_for_an_institution_user(client, inst_alice, frozen):
    """Others may opt in to TOTP; once on, their login asks for the code."""
    client.force_login(inst_alice)
    client.get("/accounts/2fa/setup/")
    secret = client.session["totp_new_secret"]
    response = client.post("/accounts/2fa/setup/", {"code": totp.current_code(secret)})
    assert response["Location"] == "/accounts/security/"
    inst_alice.refresh_from_db()
    assert inst_alice.totp_enabled
    assert AuditEvent.objects.filter(action="auth.totp_enable", actor=inst_alice).exists()
    client.post(reverse("logout"))

    frozen.shift(dt.timedelta(seconds=30))  # the enrolment code's step is used up
    assert login(client, "alice")["Location"] == "/accounts/2fa/"
    response = client.post("/accounts/2fa/", {"code": totp.current_code(secret)})
    assert response["Location"] == "/"
    assert is_logged_in(client)


def test_institution_user_may_turn_totp_off(client_for, inst_alice):
    secret = totp.new_secret()
    assert account_services.totp_enable(
        user=inst_alice, secret=secret, code=totp.current_code(secret)
    )
    client = client_for(inst_alice)
    assert "关闭双因素认证" in page_text(client.get("/accounts/security/"))
    response = client.post("/accounts/security/", {"action": "disable_totp"}, follow=True)
    assert "已关闭双因素认证" in page_text(response)
    inst_alice.refresh_from_db()
    assert not inst_alice.totp_enabled
    assert account_services.totp_device(inst_alice) is None


def test_regulator_may_not_turn_totp_off(client_for, regulator_rita):
    client = client_for(regulator_rita)
    assert "通信管理局账号必须使用双因素认证" in page_text(client.get("/accounts/security/"))
    response = client.post("/accounts/security/", {"action": "disable_totp"}, follow=True)
    assert "通信管理局账号必须使用双因素认证，不能关闭" in page_text(response)
    regulator_rita.refresh_from_db()
    assert regulator_rita.totp_enabled


def test_totp_codes_match_rfc_6238():
    """RFC 6238 appendix B, SHA-1 secret '12345678901234567890', 8 digits -> we use 6, the
    last 6 digits of the published values (computed by django-otp's ``oath.TOTP``)."""
    import base64

    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.base32_to_hex(secret) == b"12345678901234567890".hex()
    assert totp.current_code(secret, at=59) == "287082"
    assert totp.current_code(secret, at=1111111109) == "081804"
    assert totp.current_code(secret, at=1234567890) == "005924"
    assert totp.normalise_code("287 082") == "287082"
    assert totp.normalise_code("28708") is None


# --- first login: change the one-time password -----------------------------------------------


@pytest.fixture
def new_dave(org_alice):
    user, _, _ = account_services.user_create(
        actor=SYSTEM, organisation=org_alice, username="dave", role="operator", password=PASSWORD
    )
    assert user.must_change_password
    return user


def test_first_login_goes_to_the_password_page_from_everywhere(client, new_dave):
    response = login(client, "dave")
    assert response["Location"] == "/accounts/password/"
    for path in ("/", "/users/", "/organisations/", "/accounts/security/", "/audit/", "/calendar/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == "/accounts/password/", path
    assert client.get("/accounts/password/").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)


def test_api_refuses_until_the_password_is_changed(client, new_dave):
    login(client, "dave")
    response = client.get("/api/me/")
    assert response.status_code == 403
    assert response.json() == {
        "code": "password_change_required",
        "detail": "请先登录网页修改初始密码",
    }


def test_changing_the_password_opens_the_portal(client, new_dave):
    login(client, "dave")
    new = "Another-Strong-Pass-42"
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response["Location"] == "/"
    assert is_logged_in(client)
    assert client.get("/").status_code == 200
    new_dave.refresh_from_db()
    assert not new_dave.must_change_password
    assert new_dave.password_changed_at is not None
    assert new_dave.check_password(new)
    assert AuditEvent.objects.filter(action="auth.password_change", actor=new_dave).exists()


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("Sh0rt-pw!", "密码长度太短。密码必须包含至少 10 个字符。"),
        ("password123", "这个密码太常见了。"),
        ("alice-Secure-2026", "密码不能包含用户名"),
        ("Ecila-Strong-2026", "密码不能包含用户名"),  # reversed username
        ("20260316202603", "密码只包含数字。"),
        (PASSWORD, "新密码不能与原密码相同"),
    ],
)
def test_password_policy(client_for, inst_alice, new, message):
    """Settings AUTH_PASSWORD_VALIDATORS: at least 10 characters, not common, not all digits,
    not the username (nor reversed); Chinese messages."""
    response = client_for(inst_alice).post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 200
    assert message in page_text(response)
    inst_alice.refresh_from_db()
    assert inst_alice.check_password(PASSWORD)


# --- session limits -----------------------------------------------------------------------------


def test_idle_timeout_after_thirty_minutes(client, inst_alice, frozen):
    """Session limit (settings): 30 minutes without a request logs the user out."""
    login(client, "alice")
    frozen.shift(dt.timedelta(minutes=29))
    assert client.get("/accounts/security/").status_code == 200
    frozen.shift(dt.timedelta(minutes=29))
    assert client.get("/accounts/security/").status_code == 200  # activity kept it alive
    frozen.shift(dt.timedelta(minutes=31))
    response = client.get("/accounts/security/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/security/"
    assert not is_logged_in(client)
    assert "您已超过 30 分钟未操作，请重新登录" in page_text(client.get(response["Location"]))


def test_polling_does_not_keep_an_idle_session_alive(client, inst_alice, frozen):
    login(client, "alice")
    frozen.shift(dt.timedelta(minutes=20))
    assert client.get("/accounts/security/", HTTP_X_PORTAL_POLL="1").status_code == 200
    frozen.shift(dt.timedelta(minutes=11))
    assert client.get("/accounts/security/").status_code == 302


def test_absolute_timeout_after_twelve_hours(client, inst_alice, frozen):
    """Session limit (settings): 12 hours after login the session ends however active."""
    login(client, "alice")
    elapsed = dt.timedelta()
    while True:
        frozen.shift(dt.timedelta(minutes=20))
        elapsed += dt.timedelta(minutes=20)
        response = client.get("/accounts/security/")
        if response.status_code != 200:
            break
        assert elapsed <= dt.timedelta(hours=12)
    assert elapsed == dt.timedelta(hours=12, minutes=20)
    assert response.status_code == 302
    assert not is_logged_in(client)
    assert "登录已超过 12 小时，请重新登录" in page_text(client.get(response["Location"]))


# --- redirects, logout, CSRF, headers -------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/phish", "//evil.example/", "http://testserver.evil.example/"],
)
def test_open_redirect_in_next_is_refused(client, inst_alice, target):
    response = login(client, "alice", next=target)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_open_redirect_in_the_query_string_is_not_echoed(client, db):
    page = page_text(client.get(LOGIN, {"next": "https://evil.example/"}))
    assert "evil.example" not in page


def test_local_next_is_followed(client, inst_alice):
    response = login(client, "alice", next="/users/")
    assert response["Location"] == "/users/"


def test_next_survives_the_second_factor(client, regulator_rita, frozen):
    login(client, "rita", next="/audit/")
    response = client.post(
        "/accounts/2fa/", {"code": totp.current_code(regulator_rita.totp_secret)}
    )
    assert response["Location"] == "/audit/"


def test_logout_is_post_only(client_for, inst_alice):
    client = client_for(inst_alice)
    assert client.get("/accounts/logout/").status_code == 405
    assert is_logged_in(client)
    response = client.post("/accounts/logout/")
    assert response["Location"] == LOGIN
    assert not is_logged_in(client)
    assert client.get("/")["Location"].startswith(LOGIN)


def test_csrf_is_enforced(inst_alice):
    client = Client(enforce_csrf_checks=True)
    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert not is_logged_in(client)

    form = page_text(client.get(LOGIN))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    response = client.post(
        LOGIN, {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert is_logged_in(client)

    # logged in, a state change without the token is still refused
    response = client.post("/accounts/logout/")
    assert response.status_code == 403
    assert is_logged_in(client)


def test_security_headers(client, db):
    response = client.get(LOGIN)
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Request-ID"]
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


def test_request_id_is_echoed(client, db):
    response = client.get(LOGIN, HTTP_X_REQUEST_ID="abc123")
    assert response["X-Request-ID"] == "abc123"


def test_inactive_user_cannot_log_in(client, inst_alice):
    User.objects.filter(pk=inst_alice.pk).update(is_active=False)
    response = login(client, "alice")
    assert response.status_code == 200
    assert not is_logged_in(client)
