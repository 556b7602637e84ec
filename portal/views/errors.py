"""Health check and the portal's own error pages."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.cache import never_cache

log = logging.getLogger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachable: 200, else 503 with what failed."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        log.warning("healthz database: %s", exc)
        checks["database"] = "error"
    try:
        from ..celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        log.warning("healthz broker: %s", exc)
        checks["broker"] = "error"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", **checks}, status=200 if ok else 503)


def error_400(request: HttpRequest, exception=None) -> HttpResponse:
    """A request Django itself refuses (too large, a bad host, a broken multipart body)."""
    if _is_api(request):
        from ..api import error_body

        return JsonResponse(
            error_body("bad_request", "请求无法处理：请检查请求的格式与大小"), status=400
        )
    return defaults.bad_request(request, exception)


def error_403(request: HttpRequest, exception=None) -> HttpResponse:
    """The reason a view gave (what the user can do instead), or the general sentence."""
    reason = str(exception or "").strip()
    if _is_api(request):
        from ..api import error_body

        return JsonResponse(error_body("forbidden", reason or "无权执行此操作"), status=403)
    return render(request, "403.html", {"reason": reason}, status=403)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_404(request: HttpRequest, exception=None) -> HttpResponse:
    if _is_api(request):
        # A path no API route matches (``/api/registry/imports/0.5/``) answers in the one
        # error shape too, never a page (issue 17 §1).
        from ..api import error_body

        return JsonResponse(error_body("not_found", "未找到"), status=404)
    return render(request, "404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        # Outside DRF's handler (a middleware failed): still JSON with the request id.
        from ..api import server_error_body

        return JsonResponse(server_error_body(request), status=500)
    # No context processors: the database may be what failed.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
