"""Request id, CSP, no caching of personal data, session time limits, forced password change."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from . import audit
from .logs import request_id

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def client_ip(request) -> str | None:
    # Behind the reverse proxy the first X-Forwarded-For hop is the client (README: proxy).
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR") if settings.USE_X_FORWARDED_FOR else None
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request.META.get("HTTP_X_REQUEST_ID", "")[:64] or uuid.uuid4().hex
        request.request_id = rid
        token = request_id.set(rid)
        ip_token = audit.current_ip.set(client_ip(request))
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
            audit.current_ip.reset(ip_token)
        response["X-Request-ID"] = rid
        return response


class ContentSecurityPolicyMiddleware:
    """Only the portal's own static files: no inline script or style, no CDN."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CSP)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


class NoStoreMiddleware:
    """Whatever a logged-in user gets (pages, downloads, API answers, error pages) is kept
    by no browser cache and no proxy: it holds personal data (issue 16 item 8). Static files
    are the same for everyone; whitenoise answers them before this middleware runs, and
    /static/ is skipped here too, should Django serve one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # Read after the view: DRF puts a token's user on the request while it runs.
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(settings.STATIC_URL)
        ):
            add_never_cache_headers(response)
        return response


class SessionTimeoutMiddleware:
    """Idle timeout (30 min) and absolute timeout (12 h) for logged-in sessions, pages and
    API alike (issue 16 item 5). A page redirects to the login; an API call gets 401
    ``session_expired``. A call with an API token has no session: the token's own expiry
    governs it (portal/authentication.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _uses_api_token(request):
            # The token alone decides; a session cookie sent along is never used for it.
            request.user = AnonymousUser()
        elif request.user.is_authenticated:
            now = time.time()
            session = request.session
            started = session.get("auth_started", now)
            last_seen = session.get("last_seen", now)
            idle = now - last_seen > settings.SESSION_IDLE_TIMEOUT_SECONDS
            expired = now - started > settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS
            if idle or expired:
                message = (
                    "您已超过 30 分钟未操作，请重新登录"
                    if idle
                    else "登录已超过 12 小时，请重新登录"
                )
                logout(request)
                if request.path.startswith("/api/"):
                    response = JsonResponse(
                        {"code": "session_expired", "detail": message}, status=401
                    )
                    response["WWW-Authenticate"] = 'Token realm="api"'
                    return response
                messages.warning(request, message)
                return redirect(f"{reverse('login')}?next={request.path}")
            session.setdefault("auth_started", now)
            # htmx polling (import progress) must not keep an idle session alive.
            if request.headers.get("X-Portal-Poll") != "1":
                session["last_seen"] = now
        return self.get_response(request)


def _uses_api_token(request) -> bool:
    """An API call that names a token is authenticated by that token alone."""
    if not request.path.startswith("/api/"):
        return False
    scheme = request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0]
    return scheme.lower() == "token"


class PasswordChangeRequiredMiddleware:
    """A user with a one-time password may only change it (or log out)."""

    allowed = ("password_change", "logout", "totp_setup")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.must_change_password:
            allowed = {reverse(name) for name in self.allowed}
            if request.path not in allowed and not request.path.startswith(
                (settings.STATIC_URL, "/healthz")
            ):
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"code": "password_change_required", "detail": "请先登录网页修改初始密码"},
                        status=403,
                    )
                return redirect("password_change")
        return self.get_response(request)
