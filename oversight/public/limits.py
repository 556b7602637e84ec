"""Rate limits of the public pages, per client address (issue 15 §1): at most
``PUBLIC_RATE_LIMIT_MINUTE`` requests a minute and ``PUBLIC_RATE_LIMIT_DAY`` a day (30 and
300 by default), counted by django-ratelimit in the ``ratelimit`` cache, whose increment is
atomic (Redis; the database cache of portal/cache.py), so requests arriving at once never
pass beyond the limit. DRF's throttles read and write the count in two steps and are not
meant as a security control. The windows are fixed (django-ratelimit's, with a per-client
offset). ``PUBLIC_RATE_LIMIT_ENABLED=0`` turns them off (the bench only)."""

from __future__ import annotations

import logging

from django.conf import settings
from django_ratelimit.core import get_usage

from portal.middleware import client_ip

# One counter per kind of request: checking numbers (page and API together), submitting a
# complaint, looking a complaint up by its code.
CHECK = "public-check"
COMPLAINT = "public-complaint"
TRACK = "public-track"


log = logging.getLogger(__name__)
UNAVAILABLE = "公众服务暂时不可用，请稍后再试。"


class Unavailable(Exception):
    """The limiter's cache cannot be reached: the public pages refuse (503) rather than
    serve without limits."""


def client_key(group, request) -> str:
    return client_ip(request) or "unknown"


def retry_after(request, group: str) -> int | None:
    """Count this request; the seconds to wait when it is over a limit, else None."""
    if not settings.PUBLIC_RATE_LIMIT_ENABLED:
        return None
    rates = (
        f"{settings.PUBLIC_RATE_LIMIT_MINUTE}/m",
        f"{settings.PUBLIC_RATE_LIMIT_DAY}/d",
    )
    for rate in rates:
        try:
            usage = get_usage(request, group=group, key=client_key, rate=rate, increment=True)
        except Exception as exc:
            log.error("公众服务限频缓存不可用：%s", exc)
            raise Unavailable from exc
        if usage is not None and usage["should_limit"]:
            return max(1, int(usage["time_left"]))
    return None


def limit_message(seconds: int) -> str:
    if seconds >= 3600:
        wait = f"{(seconds + 3599) // 3600} 小时"
    elif seconds >= 60:
        wait = f"{(seconds + 59) // 60} 分钟"
    else:
        wait = f"{seconds} 秒"
    return (
        f"查询或提交过于频繁：每个网络地址每分钟最多 {settings.PUBLIC_RATE_LIMIT_MINUTE} 次、"
        f"每天最多 {settings.PUBLIC_RATE_LIMIT_DAY} 次。请 {wait}后再试。"
    )
