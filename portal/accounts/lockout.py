"""Lockout (GB/T 22239 level 2), counted by django-axes.

Two limits, each over the last 15 minutes (``AXES_COOLOFF_TIME``):
- per account: 5 failures (``LOGIN_LOCKOUT_FAILURES``) lock that username for 15 minutes;
- per client address: 20 failures (``LOGIN_LOCKOUT_IP_FAILURES``) lock every login from that
  address, so spraying one password over many usernames is stopped too.

A wrong password and a wrong TOTP code are both failures (the code page sends Django's
``user_login_failed`` for the pending user). axes keeps one ``AccessAttempt`` row per
(username, address, user agent); a login that passed both factors deletes that username's
rows (``AXES_RESET_ON_SUCCESS``), never another account's, so a sprayer cannot reset the
address's count with an account of their own except for its own failures.
"""

from __future__ import annotations

import datetime as dt
import math

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_credentials
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


def username_key(request, credentials) -> str | None:
    """The username as counted: trimmed and case-folded, so ``Alice`` and ``alice`` share
    one count (usernames are unique case-insensitively, accounts.services.user_create)."""
    if credentials:
        name = credentials.get("username")
    else:
        name = getattr(request, "data", request.POST).get("username")
    if name is None:
        return None
    return str(name).strip().lower()[:150] or None


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LOGIN_LOCKOUT_WINDOW_SECONDS)


class PortalAxesHandler(AxesDatabaseHandler):
    """axes' database handler with a limit per parameter: axes compares the largest count
    of its lockout parameters with one ``AXES_FAILURE_LIMIT``; here the username's count
    meets 5 and the address's count meets 20."""

    def counts(self, request, credentials=None) -> tuple[int, int]:
        by_user, by_ip = self.get_user_attempts(request, credentials)
        return tuple(
            qs.aggregate(n=Sum("failures_since_start"))["n"] or 0 for qs in (by_user, by_ip)
        )

    def get_failures(self, request, credentials=None) -> int:
        user_failures, ip_failures = self.counts(request, credentials)
        if ip_failures >= settings.LOGIN_LOCKOUT_IP_FAILURES:
            return max(user_failures, settings.LOGIN_LOCKOUT_FAILURES)
        return user_failures

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def _handler() -> PortalAxesHandler:
    return AxesProxyHandler.get_implementation()


def _credentials(username: str) -> dict:
    return get_credentials(username)


def state(request: HttpRequest, username: str) -> dict:
    """How things stand for this username from this client: ``locked`` (``"user"``,
    ``"ip"`` or ``""``), seconds it stays locked, and failures left before the account
    locks."""
    AxesProxyHandler.update_request(request)
    handler = _handler()
    credentials = _credentials(username)
    user_failures, ip_failures = handler.counts(request, credentials)
    by_user, by_ip = handler.get_user_attempts(request, credentials)
    now = timezone.now()

    def remaining(qs) -> int:
        last = qs.aggregate(at=Max("attempt_time"))["at"]
        if last is None:
            return 0
        return max(1, math.ceil((last + _window() - now).total_seconds()))

    if user_failures >= settings.LOGIN_LOCKOUT_FAILURES:
        return {"locked": "user", "seconds": remaining(by_user), "left": 0}
    if ip_failures >= settings.LOGIN_LOCKOUT_IP_FAILURES:
        return {"locked": "ip", "seconds": remaining(by_ip), "left": 0}
    return {
        "locked": "",
        "seconds": 0,
        "left": settings.LOGIN_LOCKOUT_FAILURES - user_failures,
    }


def lock_message(current: dict) -> str:
    minutes = max(1, math.ceil(current["seconds"] / 60))
    if current["locked"] == "ip":
        return f"该网络地址登录失败次数过多，已暂停登录，请 {minutes} 分钟后再试"
    return f"登录失败次数过多，账户已锁定，请 {minutes} 分钟后再试"


def failure_message(current: dict) -> str:
    if current["locked"]:
        return lock_message(current)
    minutes = settings.LOGIN_LOCKOUT_WINDOW_SECONDS // 60
    return f"用户名或密码错误（再失败 {current['left']} 次账户将被锁定 {minutes} 分钟）"


def record_failure(request: HttpRequest, username: str) -> None:
    """A failure that Django's ``authenticate`` did not see (a wrong TOTP code): the same
    signal, so axes counts it like a wrong password."""
    user_login_failed.send(sender=__name__, credentials=_credentials(username), request=request)


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """axes' middleware would replace a locked-out login's response with its own English
    one; the portal's login page has already said why, in Chinese."""
    if original_response is not None:
        return original_response
    return HttpResponse("登录失败次数过多，请稍后再试", status=429)
