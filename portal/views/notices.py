"""The notice centre's page (portal/notices.py): a user's own notices, newest first; opening
one marks it read and follows its link. Another user's notice is a 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .. import notices
from ..models import Notice
from . import paginate


@login_required
def notice_list(request: HttpRequest) -> HttpResponse:
    mine = Notice.objects.visible_to(request.user)
    if request.GET.get("unread") == "1":
        mine = mine.unread()
    return render(
        request,
        "portal/notices/list.html",
        {"page": paginate(request, mine), "unread_only": request.GET.get("unread") == "1"},
    )


@require_POST
@login_required
def notice_open(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(Notice.objects.visible_to(request.user), pk=pk)
    notices.notice_read(actor=request.user, notice=notice)
    if notice.url and url_has_allowed_host_and_scheme(notice.url, allowed_hosts=None):
        return redirect(notice.url)
    return redirect("notice_list")


@require_POST
@login_required
def notice_read_all(request: HttpRequest) -> HttpResponse:
    notices.notices_read_all(actor=request.user)
    return redirect("notice_list")
