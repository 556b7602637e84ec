"""Issue 16 (security), the login's part, end to end through the real URLs:

- item 1: a password alone never gets past the second factor, nor binds a new
  authenticator (django-otp devices, ``user.is_verified()``);
- item 3: accounts outside every organisation, and superuser/staff accounts, are invisible
  to every portal role; superusers need the second factor;
- item 4: ``/admin/login/`` is the portal's login (lockout, second factor, audit) and the
  admin wants an OTP-verified staff session;
- item 8: a per-address limit beside the per-account one (password spraying); zxcvbn and a
  password history of 5; invite messages that do not confirm other organisations' usernames,
  and usernames of letters, digits and ``._-`` only.
"""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY

from portal.accounts import services as account_services
from portal.accounts import totp
from portal.accounts.views import NEW_SECRET_KEY
from portal.audit import SYSTEM
from portal.errors import NotPermitted, PortalError
from portal.models import AuditEvent, PasswordHistory, User
from portal.workdays import SHANGHAI
from tests.commands import run_failing
from tests.conftest import CODES, PASSWORD, _user, totp_code, with_totp

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
T0 = dt.datetime(2026, 3, 16, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def login(client: Client, username: str, password: str = PASSWORD, path: str = LOGIN, **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def root(db):
    """A superuser outside every organisation, as ``manage.py createsuperuser`` makes it."""
    user = User.objects.create_superuser("root", "root@example.invalid", PASSWORD)
    User.objects.filter(pk=user.pk).update(must_change_password=False)
    user.refresh_from_db()
    return user


# --- item 1: the second factor cannot be skipped -------------------------------------------------


def test_password_only_rita_gets_no_fresh_secret(client, regulator_rita, frozen):
    """Issue 16 item 1 repro, first half: after the password, the setup page shows no
    secret to an account that has an authenticator; it sends her to the code page."""
    assert login(client, "rita")["Location"] == "/accounts/2fa/"
    response = client.get("/accounts/2fa/setup/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    assert NEW_SECRET_KEY not in client.session
    assert "otpauth://" not in text(client.get("/accounts/2fa/setup/", follow=True))
    assert not is_logged_in(client)


def test_password_only_rita_cannot_bind_a_new_authenticator(client, regulator_rita, frozen):
    """Issue 16 item 1 repro, second half: a code for a secret of the attacker's choosing
    (planted in the session, as the old setup page handed one out) neither logs her in nor
    replaces her device."""
    device = account_services.totp_device(regulator_rita)
    login(client, "rita")
    attacker_secret = totp.new_secret()
    session = client.session
    session[NEW_SECRET_KEY] = attacker_secret
    session.save()

    response = client.post("/accounts/2fa/setup/", {"code": totp.current_code(attacker_secret)})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    assert not is_logged_in(client)
    assert client.get("/").status_code == 302
    same = account_services.totp_device(regulator_rita)
    assert (same.pk, same.key) == (device.pk, device.key)
    assert not AuditEvent.objects.filter(action="auth.totp_enable", actor=regulator_rita).exists()

    # her own authenticator still lets her in
    response = client.post("/accounts/2fa/", {"code": totp_code(regulator_rita)})
    assert response["Location"] == "/"
    assert is_logged_in(client)


@pytest.mark.parametrize(
    "path",
    ["/", "/users/", "/organisations/", "/audit/", "/accounts/security/", "/admin/", "/api/me/"],
)
def test_a_half_logged_in_user_reaches_nothing_but_the_code_page(
    client, regulator_rita, frozen, path
):
    """Issue 16 item 1: password right, code not yet given: no page opens."""
    login(client, "rita")
    response = client.get(path)
    assert response.status_code in (302, 401, 403), path
    if response.status_code == 302:
        assert response["Location"].startswith((LOGIN, "/admin/login/")), path
    assert client.get("/accounts/2fa/").status_code == 200
    assert not is_logged_in(client)


def test_a_session_that_skipped_the_code_is_ended(client, regulator_rita):
    """Issue 16 item 1: a logged-in session of an account that needs the second factor but
    did not pass a device (django-otp ``is_verified()`` false) reaches nothing."""
    client.force_login(regulator_rita)  # no device in the session
    response = client.get("/audit/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert not is_logged_in(client)
    assert client.get("/api/me/").status_code in (401, 403)


def test_replacing_the_authenticator_needs_the_current_code(client_for, regulator_rita, frozen):
    """Issue 16 item 1: an account that has a device changes it only from a fully
    authenticated session, after the current code."""
    client = client_for(regulator_rita)
    old = account_services.totp_device(regulator_rita)
    page = client.get("/accounts/2fa/setup/")
    assert page.status_code == 200
    assert "更换验证器" in text(page)
    assert "原验证器当前验证码" in text(page)
    secret = client.session[NEW_SECRET_KEY]

    response = client.post(
        "/accounts/2fa/setup/", {"current_code": "000000", "code": totp.current_code(secret)}
    )
    assert response.status_code == 200
    assert "当前验证码错误或已使用" in text(response)
    assert account_services.totp_device(regulator_rita).pk == old.pk
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 1  # counted

    response = client.post(
        "/accounts/2fa/setup/",
        {"current_code": totp_code(regulator_rita), "code": totp.current_code(secret)},
    )
    assert response["Location"] == "/accounts/security/"
    new = account_services.totp_device(regulator_rita)
    assert new.pk != old.pk
    assert totp.hex_to_base32(new.key) == secret
    assert client.session[DEVICE_ID_SESSION_KEY] == new.persistent_id
    assert client.get("/audit/").status_code == 200  # still verified, with the new device
    event = AuditEvent.objects.filter(action="auth.totp_enable", actor=regulator_rita).get()
    assert event.summary == {"replaced": True}

    # the old authenticator no longer logs in; the new one does
    client.post(reverse("logout"))
    frozen.shift(dt.timedelta(seconds=60))
    login(client, "rita")
    old_code = totp.device_code(old)
    if old_code != totp.current_code(secret):
        assert "验证码错误" in text(client.post("/accounts/2fa/", {"code": old_code}))
    response = client.post("/accounts/2fa/", {"code": totp.current_code(secret)})
    assert response["Location"] == "/"


def test_enrolment_service_refuses_an_account_that_has_a_device(regulator_rita):
    """Issue 16 item 1: ``totp_enable`` is first enrolment only."""
    secret = totp.new_secret()
    with pytest.raises(PortalError) as exc:
        account_services.totp_enable(
            user=regulator_rita, secret=secret, code=totp.current_code(secret)
        )
    assert exc.value.code == "totp_exists"


def test_a_wrong_code_is_a_failed_login(client, regulator_rita, frozen):
    """Issue 16 item 8: a wrong TOTP code counts like a wrong password (axes and audit)."""
    login(client, "rita")
    client.post("/accounts/2fa/", {"code": "000000"})
    assert AuditEvent.objects.filter(action="auth.login_failed", object_repr="rita").count() == 1
    assert AccessAttempt.objects.get(username="rita").failures_since_start == 1
    assert AccessFailureLog.objects.filter(username="rita").count() == 1


# --- item 3: accounts outside every organisation -------------------------------------------------


def test_root_is_invisible_to_a_regulator(client_for, regulator_rita, root):
    """Issue 16 item 3 repro: rita opens root's page and resets its password: 404."""
    client = client_for(regulator_rita)
    old_hash = root.password
    assert client.get(f"/users/{root.pk}/").status_code == 404
    response = client.post(f"/users/{root.pk}/", {"action": "reset_password"})
    assert response.status_code == 404
    root.refresh_from_db()
    assert root.password == old_hash
    assert not AuditEvent.objects.filter(action="user.reset_password").exists()
    assert root not in User.objects.visible_to(regulator_rita)


def test_staff_accounts_are_no_portal_role_s_to_manage(client_for, inst_alice, regulator_rita):
    """Issue 16 item 3: a superuser or staff account inside an organisation is invisible
    too, to its organisation's admin and to the regulator."""
    staff = _user(inst_alice.organisation, "sam", role="viewer")
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    for actor in (inst_alice, regulator_rita):
        client = client_for(actor)
        assert client.get(f"/users/{staff.pk}/").status_code == 404
        client.post(reverse("logout"))
    assert "sam" not in text(client_for(inst_alice).get("/users/"))


def test_services_refuse_accounts_outside_every_organisation(regulator_rita, root):
    """Issue 16 item 3: the services refuse too, whatever a view lets through."""
    with pytest.raises(NotPermitted):
        account_services.user_reset_password(actor=regulator_rita, user=root)
    with pytest.raises(NotPermitted):
        account_services.user_update(actor=regulator_rita, user=root, is_active=False)


def test_a_superuser_must_enrol_the_second_factor_at_first_login(client, root, frozen):
    """Issue 16 item 3: superusers need the second factor; without a device they enrol
    during login and are not in until the authenticator shows the right code."""
    assert root.requires_totp
    response = login(client, "root")
    assert response["Location"] == "/accounts/2fa/setup/"
    assert not is_logged_in(client)
    page = client.get("/accounts/2fa/setup/")
    assert "管理后台账号必须启用双因素认证后才能登录" in text(page)
    secret = client.session[NEW_SECRET_KEY]
    response = client.post("/accounts/2fa/setup/", {"code": totp.current_code(secret)})
    assert response["Location"] == "/"
    assert client.get("/")["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert "管理后台账号必须使用双因素认证" in text(client.get("/accounts/security/"))


# --- item 4: the admin's login is the portal's ---------------------------------------------------


def test_admin_login_page_sends_to_the_portal_login(client, db):
    """Issue 16 item 4."""
    response = client.get("/admin/login/?next=/admin/portal/user/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=%2Fadmin%2Fportal%2Fuser%2F"
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_ten_wrong_passwords_at_admin_login_are_recorded_and_lock(client, root, frozen):
    """Issue 16 item 4 repro: ten wrong passwords at /admin/login/ were not recorded and a
    locked account logged in there. Now: counted, audited, locked, and the right password
    does not open /admin/."""
    root = with_totp(root)
    for n in range(10):
        response = login(client, "root", f"wrong-{n}", path="/admin/login/")
        assert response.status_code == 200
    assert AuditEvent.objects.filter(action="auth.login_failed", object_repr="root").count() == 4
    assert AuditEvent.objects.filter(action="auth.locked", object_repr="root").count() == 6
    assert AccessAttempt.objects.get(username="root").failures_since_start == 5
    assert "账户已锁定" in text(response)

    response = login(client, "root", path="/admin/login/")
    assert "账户已锁定" in text(response)
    assert not is_logged_in(client)
    assert "pending_2fa" not in client.session
    assert client.get("/admin/").status_code == 302
    response = login(client, "root")  # nor through the portal's own page
    assert "账户已锁定" in text(response)


def test_a_password_only_session_cannot_open_the_admin(client, root, frozen):
    """Issue 16 item 4: the password at /admin/login/ leads to the code page, not in."""
    with_totp(root)
    response = login(client, "root", path="/admin/login/")
    assert response["Location"] == "/accounts/2fa/"
    assert not is_logged_in(client)
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/portal/user/").status_code == 302


def test_a_staff_session_not_verified_by_otp_cannot_open_the_admin(client, root):
    """Issue 16 item 4: the admin site itself checks ``is_verified()`` (OTPAdminSite)."""
    from django.contrib import admin

    from portal.admin_site import PortalAdminSite

    assert isinstance(admin.site, PortalAdminSite)
    client.force_login(root)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert not is_logged_in(client)


def test_the_admin_login_writes_auth_login_and_opens_the_admin(client, root, frozen):
    """Issue 16 item 4: password and code at the admin's login, audited as auth.login."""
    with_totp(root)
    login(client, "root", path="/admin/login/")
    response = client.post("/accounts/2fa/", {"code": totp_code(root)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", actor=root).count() == 1


# --- item 8: password spraying -------------------------------------------------------------------


SPRAYER = "203.0.113.7"


def test_spraying_one_password_over_thirty_usernames_locks_the_address(client, inst_alice, frozen):
    """Issue 16 item 8 repro: 30 usernames from one address with one password each were
    never slowed. From the 21st failure (LOGIN_LOCKOUT_IP_FAILURES) the address is locked,
    for the right password of a real account too; other addresses are not."""
    messages = []
    for n in range(30):
        response = login(client, f"user{n:02d}", "Spring-2026!", REMOTE_ADDR=SPRAYER)
        messages.append(text(response))
    assert all("用户名或密码错误" in m for m in messages[:19])
    assert all("该网络地址登录失败次数过多" in m for m in messages[19:])
    assert AuditEvent.objects.filter(action="auth.locked").count() == 11

    response = login(client, "alice", REMOTE_ADDR=SPRAYER)
    assert "该网络地址登录失败次数过多，已暂停登录，请 15 分钟后再试" in text(response)
    assert not is_logged_in(client)

    other = Client()
    assert login(other, "alice", REMOTE_ADDR="198.51.100.9").status_code == 302

    frozen.shift(dt.timedelta(minutes=15, seconds=1))
    assert login(Client(), "alice", REMOTE_ADDR=SPRAYER).status_code == 302


def test_the_address_limit_is_a_setting(client, settings, inst_alice, frozen):
    """Issue 16 item 8: LOGIN_LOCKOUT_IP_FAILURES."""
    settings.LOGIN_LOCKOUT_IP_FAILURES = 3
    for n in range(3):
        login(client, f"nobody{n}", "whatever-123", REMOTE_ADDR=SPRAYER)
    assert "该网络地址登录失败次数过多" in text(login(client, "alice", REMOTE_ADDR=SPRAYER))


def test_a_login_resets_only_its_own_account_s_count(client, inst_alice, frozen):
    """Issue 16 item 8: a sprayer's own account logging in does not wipe the address's
    count of failures on other accounts."""
    for n in range(19):
        login(client, f"victim{n}", "Spring-2026!", REMOTE_ADDR=SPRAYER)
    assert login(client, "alice", REMOTE_ADDR=SPRAYER).status_code == 302
    client.post(reverse("logout"))
    login(client, "victim99", "Spring-2026!", REMOTE_ADDR=SPRAYER)
    assert "该网络地址登录失败次数过多" in text(login(client, "alice", REMOTE_ADDR=SPRAYER))


def test_usernames_are_counted_case_insensitively(client, inst_alice, frozen):
    """Lockout per account: ``ALICE`` and ``alice`` share one count."""
    for n in range(5):
        login(client, "ALICE" if n % 2 else "alice", f"wrong-{n}")
    assert "账户已锁定" in text(login(client, "alice"))


# --- item 8: weak passwords, password history ----------------------------------------------------


def change(client: Client, old: str, new: str):
    return client.post(
        "/accounts/password/", {"old_password": old, "new_password1": new, "new_password2": new}
    )


def test_a_weak_password_is_refused_by_zxcvbn(client_for, inst_alice):
    """Issue 16 item 8 repro: ``zzzzzzzzzzzz`` was accepted."""
    response = change(client_for(inst_alice), PASSWORD, "zzzzzzzzzzzz")
    assert response.status_code == 200
    assert "密码强度不足" in text(response)
    inst_alice.refresh_from_db()
    assert inst_alice.check_password(PASSWORD)


def test_a_weak_password_on_the_command_line_is_refused(org_alice):
    """Issue 16 item 8: create_user --password-stdin applies the same validators."""
    message = run_failing(
        "create_user",
        "--organisation",
        CODES["alice"],
        "--username",
        "dave",
        "--role",
        "operator",
        "--password-stdin",
        stdin="zzzzzzzzzzzz\n",
    )
    assert "密码强度不足" in message
    assert not User.objects.filter(username="dave").exists()


def test_none_of_the_last_five_passwords_comes_back(client_for, inst_alice):
    """Issue 16 item 8: a password history of 5 (settings.PASSWORD_HISTORY_COUNT), kept as
    hashes only."""
    client = client_for(inst_alice)
    passwords = [PASSWORD] + [f"Kestrel-Meadow-{n}-Quartz" for n in range(5)]
    for old, new in zip(passwords, passwords[1:], strict=False):
        assert change(client, old, new)["Location"] == "/"
    current = passwords[-1]
    for reused in passwords[1:-1]:  # the 4 before the current one: the last 5 with it
        response = change(client, current, reused)
        assert "新密码不能与最近 5 次使用过的密码相同" in text(response), reused
    assert "新密码不能与原密码相同" in text(change(client, current, current))
    # the 6th most recent (the first, set when the account was created) has left the history
    assert change(client, current, PASSWORD)["Location"] == "/"

    hashes = list(
        PasswordHistory.objects.filter(user=inst_alice).values_list("password", flat=True)
    )
    assert len(hashes) == 5
    assert all(h.startswith("md5$") for h in hashes)  # the tests' hasher: hashes only
    assert not any(p in h for h in hashes for p in passwords)


# --- item 8: username enumeration and validation -------------------------------------------------


def test_inviting_another_organisation_s_username_does_not_confirm_it(
    client_for, inst_alice, regulator_rita
):
    """Issue 16 item 8 repro: the invite form said 用户名“rita”已被其他单位使用."""
    response = client_for(inst_alice).post(
        reverse("user_create"), {"username": "rita", "role": "viewer"}
    )
    page = text(response)
    assert "该用户名不可用，请换一个" in page
    assert "其他单位" not in page
    assert "“rita”" not in page


@pytest.mark.parametrize("username", ["张三", "dave smith", "dave@bank", "dave+1", "o'brien"])
def test_usernames_are_letters_digits_and_dot_underscore_dash(org_alice, username):
    """Issue 16 item 8: usernames: letters, digits and ``._-`` only (code username_invalid)."""
    with pytest.raises(PortalError) as exc:
        account_services.user_create(
            actor=SYSTEM, organisation=org_alice, username=username, role="viewer"
        )
    assert exc.value.code == "username_invalid"
    assert exc.value.message == "用户名只能包含英文字母、数字和 . _ - 符号"
    assert not User.objects.filter(organisation=org_alice).exists()


def test_a_valid_username_with_dot_underscore_dash(org_alice):
    user, _, created = account_services.user_create(
        actor=SYSTEM, organisation=org_alice, username="li.ming_2-a", role="viewer"
    )
    assert created and user.username == "li.ming_2-a"


def test_the_invite_form_shows_the_username_rule(client_for, inst_alice):
    response = client_for(inst_alice).post(
        reverse("user_create"), {"username": "张三", "role": "viewer"}
    )
    assert "用户名只能包含英文字母、数字和 . _ - 符号" in text(response)
