"""Lockout after 5 failed logins in 15 minutes (GB/T 22239 level 2)."""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.utils import timezone

from ..models import LoginAttempt


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LOGIN_LOCKOUT_WINDOW_SECONDS)


def _recent_failures(username: str):
    """Failures in the window since the last successful login."""
    attempts = LoginAttempt.objects.filter(
        username__iexact=username, at__gte=timezone.now() - _window()
    )
    failures = attempts.filter(succeeded=False)
    last_success = (
        attempts.filter(succeeded=True).order_by("-at").values_list("at", flat=True).first()
    )
    return failures.filter(at__gt=last_success) if last_success else failures


def lock_remaining(username: str) -> int:
    """Seconds the account stays locked (15 minutes from the 5th failure); 0 when open."""
    limit = settings.LOGIN_LOCKOUT_FAILURES
    times = list(_recent_failures(username).order_by("-at").values_list("at", flat=True)[:limit])
    if len(times) < limit:
        return 0
    return max(0, math.ceil((times[0] + _window() - timezone.now()).total_seconds()))


def failures_left(username: str) -> int:
    return max(0, settings.LOGIN_LOCKOUT_FAILURES - _recent_failures(username).count())


def lock_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"登录失败次数过多，账户已锁定，请 {minutes} 分钟后再试"


def record_attempt(username: str, *, ip: str | None, succeeded: bool) -> None:
    LoginAttempt.objects.create(username=username[:150], ip=ip, succeeded=succeeded)
