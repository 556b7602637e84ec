"""Portal pages, one module per thing they serve: the dashboard and the shell
(``dashboard``), organisations and users (``organisations``), API tokens (``tokens``), the
audit trail (``audit``), the working-day calendar (``calendar``), health and error pages
(``errors``). What every page module, registry's included, shares is here."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest

from ..errors import PortalError

PAGE_SIZE = 25


def paginate(request: HttpRequest, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def require_kind(request: HttpRequest, *kinds: str) -> None:
    """Pages of another party's role do not exist for this user (404, not 403)."""
    if request.user.kind not in kinds:
        raise Http404


def form_errors_from(exc: PortalError, form: forms.Form) -> None:
    """A service's typed error on the form field it names, or on the form as a whole."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def stored_file_response(stored, *, filename: str, content_type: str | None = None):
    """A stored file (a FileField's value) as a download: 404 when there is none or it is
    gone (retention). Callers have looked the owning object up through ``visible_to``; no
    file is ever served from MEDIA_URL."""
    if not stored:
        raise Http404
    try:
        handle = stored.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
