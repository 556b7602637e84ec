"""Login with lockout and TOTP, first-login password change, two-factor setup, logout."""

from __future__ import annotations

import time

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


class LoginForm(forms.Form):
    username = forms.CharField(label="用户名", max_length=150)
    password = forms.CharField(label="密码", widget=forms.PasswordInput)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="动态验证码",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return settings.LOGIN_REDIRECT_URL


def _finish_login(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    now = time.time()
    request.session["auth_started"] = now
    request.session["last_seen"] = now
    lockout.record_attempt(user.username, ip=client_ip(request), succeeded=True)
    services.login_recorded(user=user, ip=client_ip(request))
    if user.must_change_password:
        messages.info(request, "首次登录（或密码已被重置），请先设置新密码")
        return redirect("password_change")
    if next_url in ("", "/", settings.LOGIN_REDIRECT_URL):
        return redirect(settings.LOGIN_REDIRECT_URL)
    return redirect(next_url)


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    return User.objects.filter(pk=pending["user"], is_active=True).first()


@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = LoginForm(request.POST or None)
    next_url = _safe_next(request)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"].strip()
        ip = client_ip(request)
        remaining = lockout.lock_remaining(username)
        if remaining:
            services.login_failed_recorded(username=username, ip=ip, locked=True)
            form.add_error(None, lockout.lock_message(remaining))
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None:
                lockout.record_attempt(username, ip=ip, succeeded=False)
                remaining = lockout.lock_remaining(username)
                services.login_failed_recorded(username=username, ip=ip, locked=bool(remaining))
                if remaining:
                    form.add_error(None, lockout.lock_message(remaining))
                else:
                    left = lockout.failures_left(username)
                    form.add_error(
                        None, f"用户名或密码错误（再失败 {left} 次账户将被锁定 15 分钟）"
                    )
            elif user.requires_totp:
                request.session.cycle_key()
                request.session[PENDING_KEY] = {
                    "user": user.pk,
                    "at": time.time(),
                    "next": next_url,
                }
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
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        remaining = lockout.lock_remaining(user.username)
        if remaining:
            form.add_error(None, lockout.lock_message(remaining))
        elif services.totp_check(user=user, code=form.cleaned_data["code"]):
            return _finish_login(request, user, request.session[PENDING_KEY].get("next", ""))
        else:
            # A wrong second factor counts toward the same lockout as a wrong password.
            lockout.record_attempt(user.username, ip=ip, succeeded=False)
            services.login_failed_recorded(username=user.username, ip=ip, locked=False)
            form.add_error("code", "验证码错误或已使用，请输入验证器中当前显示的 6 位数字")
    return render(request, "portal/accounts/totp_verify.html", {"form": form, "pending": user})


@never_cache
def totp_setup_view(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator: during login (regulators must) or later from 账户安全."""
    user = request.user if request.user.is_authenticated else _pending_user(request)
    if user is None:
        return redirect("login")
    secret = request.session.get("totp_new_secret")
    if not secret or request.method == "GET":
        secret = totp.new_secret()
        request.session["totp_new_secret"] = secret
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.totp_enable(user=user, secret=secret, code=form.cleaned_data["code"]):
            request.session.pop("totp_new_secret", None)
            messages.success(request, "双因素认证已启用，以后登录需输入验证器中的动态验证码")
            if not request.user.is_authenticated:
                return _finish_login(request, user, request.session[PENDING_KEY].get("next", ""))
            return redirect("account_security")
        form.add_error("code", "验证码不正确，请确认手机时间准确后重试")
    uri = totp.provisioning_uri(secret, account=user.username, issuer=settings.TOTP_ISSUER)
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(
        request,
        "portal/accounts/totp_setup.html",
        {"form": form, "secret": spaced, "uri": uri, "enrolling_user": user},
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
