"""The public pages (issue 15): no login, a layout of their own made for phones, every
answer a fixed list of fields. Number check, complaint form, complaint tracking, agency
disclosure. Rate-limited per client address (limits.py); every check counted (counting.py)."""

from __future__ import annotations

import hashlib
import hmac

from django import forms
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from portal.audit import SYSTEM
from portal.errors import PortalError
from portal.middleware import client_ip
from registry.forms import PortalForm
from registry.models import Partner

from .. import services
from ..models import Complaint, ComplaintCategory, ComplaintStatus, normalise_tracking_code
from . import counting, limits
from .check import InvalidNumber, check_number


def _guard(request: HttpRequest, group: str, *, count: bool = False) -> HttpResponse | None:
    """The rate limit of this request: None to go on, else the refusal to send."""
    try:
        wait = limits.retry_after(request, group)
    except limits.Unavailable:
        response = render(
            request, "oversight/public/limited.html", {"message": limits.UNAVAILABLE}, status=503
        )
        response["Retry-After"] = "60"
        return response
    if count:
        counting.count(client_ip(request), limited=wait is not None)
    return _limited(request, wait) if wait is not None else None


def _limited(request: HttpRequest, seconds: int) -> HttpResponse:
    response = render(
        request,
        "oversight/public/limited.html",
        {"message": limits.limit_message(seconds)},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


def _public(response: HttpResponse) -> HttpResponse:
    # Answers about numbers and complaints are not for shared caches or the back button.
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def source_of(request: HttpRequest) -> str:
    """A keyed hash of the client address: bursts from one source are found without the
    address being kept with the complaint."""
    ip = client_ip(request) or ""
    return hmac.new(settings.SECRET_KEY.encode(), ip.encode(), hashlib.sha256).hexdigest()[:32]


@require_http_methods(["GET", "HEAD"])
def check_page(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("number", "")
    context: dict = {"number": raw[:64], "active": "check"}
    if raw:
        refused = _guard(request, limits.CHECK, count=True)
        if refused is not None:
            return refused
        try:
            context["result"] = check_number(raw)
        except InvalidNumber as exc:
            context["error"] = exc.message
    return _public(render(request, "oversight/public/check.html", context))


class PublicComplaintForm(PortalForm):
    number = forms.CharField(
        label="来电或短信号码",
        max_length=64,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    received_at = forms.DateTimeField(
        label="来电或短信时间",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="大概时间即可",
    )
    category = forms.ChoiceField(
        label="类别",
        choices=[("", "请选择")] + list(ComplaintCategory.choices),
        help_text="营销：推销贷款、信用卡、保险等；催收：催还欠款",
    )
    content = forms.CharField(
        label="发生了什么",
        max_length=services.PUBLIC_CONTENT_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="对方自称哪家机构、说了什么、打了几次。请不要填写身份证号、银行卡号。",
    )
    contact = forms.CharField(
        label="您的联系方式（选填）",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        help_text="只用于核查时联系您，保存后脱敏显示，不会告诉被投诉方",
    )
    # The honeypot: hidden from people (CSS and aria), filled in by bots.
    homepage = forms.CharField(
        label="个人主页",
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )


@require_http_methods(["GET", "HEAD", "POST"])
def complaint_page(request: HttpRequest) -> HttpResponse:
    initial = {
        "number": request.GET.get("number", "")[:64],
        "received_at": timezone.localtime().replace(second=0, microsecond=0),
    }
    form = PublicComplaintForm(request.POST or None, initial=initial)
    if request.method == "POST":
        refused = _guard(request, limits.COMPLAINT)
        if refused is not None:
            return refused
        if form.is_valid():
            data = form.cleaned_data
            if data.pop("homepage"):
                form.add_error(None, "提交未成功，请稍后再试")
            else:
                try:
                    complaint = services.complaint_submit_public(
                        actor=SYSTEM, source=source_of(request), **data
                    )
                except PortalError as exc:
                    form.add_portal_error(exc)
                else:
                    return _public(
                        render(
                            request,
                            "oversight/public/complaint_done.html",
                            {"complaint": complaint},
                        )
                    )
    return _public(
        render(request, "oversight/public/complaint.html", {"form": form, "active": "complaint"})
    )


@require_http_methods(["GET", "HEAD", "POST"])
def track_page(request: HttpRequest) -> HttpResponse:
    """Status by tracking code (POST, so codes stay out of access logs and history)."""
    context: dict = {"statuses": ComplaintStatus.choices, "active": "track"}
    if request.method == "POST":
        refused = _guard(request, limits.TRACK)
        if refused is not None:
            return refused
        code = normalise_tracking_code(request.POST.get("code", ""))
        context["code"] = request.POST.get("code", "")[:40]
        complaint = (
            Complaint.objects.filter(tracking_code=code)
            .only("number", "category", "received_at", "status", "outcome", "status_changed_at")
            .first()
            if code
            else None
        )
        if complaint is None:
            context["not_found"] = True
        else:
            context["complaint"] = complaint
    return _public(render(request, "oversight/public/track.html", context))


@require_http_methods(["GET", "HEAD"])
def agencies_page(request: HttpRequest) -> HttpResponse:
    """Entrusted agencies by institution (001 第十三条): only entrustments valid today."""
    today = timezone.localdate()
    q = request.GET.get("q", "").strip()[:50]
    partners = (
        Partner.objects.filter(valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .select_related("institution")
        .only("name", "kind", "valid_from", "valid_to", "public_contact", "institution__name")
        .order_by("institution__name", "name")
    )
    if q:
        partners = partners.filter(Q(name__icontains=q) | Q(institution__name__icontains=q))
    rows = list(partners[:501])
    institutions: dict[str, list[Partner]] = {}
    for partner in rows[:500]:
        institutions.setdefault(partner.institution.name, []).append(partner)
    return _public(
        render(
            request,
            "oversight/public/agencies.html",
            {
                "q": q,
                "institutions": institutions,
                "truncated": len(rows) > 500,
                "today": today,
                "active": "agencies",
            },
        )
    )
