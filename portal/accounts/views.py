"""Login with lockout and TOTP, first-login password change, two-factor setup, logout."""

from __future__ import annotations

import time

import django_otp
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ..errors import PortalError
from ..middleware import client_ip
from ..models import User
from . import lockout, services, totp

PENDING_KEY = "pending_2fa"
PENDING_SECONDS = 300
NEW_SECRET_KEY = "totp_new_secret"  # noqa: S105 - a session key, not a secret


class LoginForm(forms.Form):
    username = forms.CharField(label="用户名", max_length=150)
    password = forms.CharField(label="密码", widget=forms.PasswordInput)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="动态验证码",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class ReplaceForm(CodeForm):
    """Replacing an authenticator: the old one's code proves the holder has it."""

    current_code = forms.CharField(
        label="原验证器当前验证码",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    field_order = ["current_code", "code"]


def _safe_next(request: HttpRequest, default: str = "") -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return settings.LOGIN_REDIRECT_URL


def _finish_login(request: HttpRequest, user: User, next_url: str, device=None) -> HttpResponse:
    """The only place a session becomes logged in: after the password, and after the code
    for an account that needs one (``device`` is then the TOTP device that accepted it)."""
    request.session.pop(PENDING_KEY, None)
    request.session.pop(NEW_SECRET_KEY, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        django_otp.login(request, device)
    now = time.time()
    request.session["auth_started"] = now
    request.session["last_seen"] = now
    services.login_recorded(user=user, ip=client_ip(request))
    if user.must_change_password:
        messages.info(request, "首次登录（或密码已被重置），请先设置新密码")
        return redirect("password_change")
    if next_url in ("", "/", settings.LOGIN_REDIRECT_URL):
        return redirect(settings.LOGIN_REDIRECT_URL)
    return redirect(next_url)


def _pending_user(request: HttpRequest) -> User | None:
    """The account whose password was right and whose code is still due (not logged in:
    ``request.user`` stays anonymous, so no other page opens to it)."""
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    return User.objects.filter(pk=pending["user"], is_active=True).first()


def _login_failed(request: HttpRequest, username: str) -> dict:
    """After a failure axes has counted: audit it (auth.locked when it locked the account
    or the address) and say how things stand."""
    current = lockout.state(request, username)
    services.login_failed_recorded(
        username=username, ip=client_ip(request), locked=bool(current["locked"])
    )
    return current


@never_cache
def login_view(request: HttpRequest, default_next: str = "") -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = LoginForm(request.POST or None)
    next_url = _safe_next(request, default_next)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"].strip()
        # axes' backend refuses a locked username or address before the password is checked
        # and counts every failure (django.contrib.auth's user_login_failed signal).
        user = authenticate(request, username=username, password=form.cleaned_data["password"])
        if user is None:
            form.add_error(None, lockout.failure_message(_login_failed(request, username)))
        elif user.requires_totp:
            request.session.cycle_key()
            request.session[PENDING_KEY] = {"user": user.pk, "at": time.time(), "next": next_url}
            if user.totp_enabled:
                return redirect("totp_verify")
            return redirect("totp_setup")
        else:
            return _finish_login(request, user, next_url)
    return render(request, "portal/accounts/login.html", {"form": form, "next": next_url})


@never_cache
def totp_verify_view(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        messages.warning(request, "验证已超时，请重新登录")
        return redirect("login")
    if not user.totp_enabled:
        return redirect("totp_setup")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        current = lockout.state(request, user.username)
        if current["locked"]:
            services.login_failed_recorded(
                username=user.username, ip=client_ip(request), locked=True
            )
            form.add_error(None, lockout.lock_message(current))
        elif device := services.totp_check(user=user, code=form.cleaned_data["code"]):
            next_url = request.session[PENDING_KEY].get("next", "")
            return _finish_login(request, user, next_url, device=device)
        else:
            # A wrong second factor counts toward the same lockout as a wrong password.
            lockout.record_failure(request, user.username)
            current = _login_failed(request, user.username)
            if current["locked"]:
                form.add_error(None, lockout.lock_message(current))
            else:
                form.add_error("code", "验证码错误或已使用，请输入验证器中当前显示的 6 位数字")
    return render(request, "portal/accounts/totp_verify.html", {"form": form, "pending": user})


def _new_secret(request: HttpRequest) -> str:
    secret = request.session.get(NEW_SECRET_KEY)
    if not secret or request.method == "GET":
        secret = totp.new_secret()
        request.session[NEW_SECRET_KEY] = secret
    return secret


@never_cache
def totp_setup_view(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator, or replace one.

    - During login (password right, code due): only an account with no device yet, which
      is how a regulator or a superuser enrols at first login. An account that has one goes
      to the code page: a password alone never shows a secret nor binds a device.
    - Logged in without a device (an institution user opting in): enrol.
    - Logged in with a device: replace it, from an OTP-verified session (the middleware
      ends any other), with the current device's code and then the new one's.
    """
    if request.user.is_authenticated:
        user = request.user
        replacing = user.totp_enabled
        if replacing and not user.is_verified():
            return redirect("account_security")
    else:
        user = _pending_user(request)
        if user is None:
            return redirect("login")
        if user.totp_enabled:
            request.session.pop(NEW_SECRET_KEY, None)
            return redirect("totp_verify")
        replacing = False
    secret = _new_secret(request)
    form = (ReplaceForm if replacing else CodeForm)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        device = None
        try:
            if replacing:
                current = lockout.state(request, user.username)
                if current["locked"]:
                    raise PortalError(lockout.lock_message(current), code="locked")
                device = services.totp_replace(
                    user=user,
                    current_code=form.cleaned_data["current_code"],
                    secret=secret,
                    code=code,
                )
            else:
                device = services.totp_enable(user=user, secret=secret, code=code)
        except PortalError as exc:
            if exc.code == "totp_current":
                lockout.record_failure(request, user.username)
                _login_failed(request, user.username)
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            if device is None:
                form.add_error("code", "验证码不正确，请确认手机时间准确后重试")
        if device is not None:
            request.session.pop(NEW_SECRET_KEY, None)
            if not request.user.is_authenticated:
                messages.success(request, "双因素认证已启用，以后登录需输入验证器中的动态验证码")
                next_url = request.session[PENDING_KEY].get("next", "")
                return _finish_login(request, user, next_url, device=device)
            django_otp.login(request, device)  # this session passed the new device
            messages.success(
                request,
                "验证器已更换，原验证器不再有效"
                if replacing
                else "双因素认证已启用，以后登录需输入验证器中的动态验证码",
            )
            return redirect("account_security")
    uri = totp.provisioning_uri(secret, account=user.username, issuer=settings.TOTP_ISSUER)
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(
        request,
        "portal/accounts/totp_setup.html",
        {
            "form": form,
            "secret": spaced,
            "uri": uri,
            "enrolling_user": user,
            "replacing": replacing,
        },
    )


@login_required
def account_security_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("action") == "disable_totp":
        try:
            services.totp_disable(user=request.user)
            messages.success(request, "已关闭双因素认证")
        except PortalError as exc:
            messages.error(request, exc.message)
        return redirect("account_security")
    return render(request, "portal/accounts/security.html")


@never_cache
@login_required
def password_change_view(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    for field in form.fields.values():
        field.widget.attrs["class"] = "form-control"
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["new_password1"] == form.cleaned_data["old_password"]:
            form.add_error("new_password1", "新密码不能与原密码相同")
        else:
            user = form.save(commit=False)
            services.password_changed(user=user)
            update_session_auth_hash(request, user)
            messages.success(request, "密码已修改")
            return redirect("home")
    return render(request, "portal/accounts/password_change.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "您已安全退出")
    return redirect("login")
