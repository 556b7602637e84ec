"""Oversight pages. Complaints (issue 13 item 1): the administration lists, records and
imports them; financial regulators read them; nobody else has these pages (404). Contacts
and the personal data inside a complaint's text are masked; the full contact is shown
once, on request, to the administration's 管理员/经办人, and that read is audited."""

from __future__ import annotations

import datetime as dt
import io

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, Sum
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.errors import PortalError
from portal.models import OrgKind, Role
from portal.spreadsheets.models import UploadJob, UploadStatus
from portal.spreadsheets.pipeline import duplicate_message
from portal.spreadsheets.template import form_template
from portal.views import paginate, require_kind
from registry.forms import PortalForm

from . import services
from .importers import complaints as complaint_form
from .models import (
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintGroup,
    ComplaintStatus,
    GroupStatus,
    PublicCheckCount,
)
from .public import counting

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READERS = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)


def _can_enter(user) -> bool:
    return user.kind == OrgKind.REGULATOR and user.role in (Role.ADMIN, Role.OPERATOR)


def _require_enter(request: HttpRequest) -> None:
    require_kind(request, *READERS)
    if not _can_enter(request.user):
        raise Http404


class ComplaintForm(PortalForm):
    number = forms.CharField(label="被投诉号码", max_length=64)
    received_at = forms.DateTimeField(
        label="投诉时间",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="北京时间",
    )
    channel = forms.ChoiceField(label="投诉渠道", choices=ComplaintChannel.choices)
    category = forms.ChoiceField(label="投诉类别", choices=ComplaintCategory.choices)
    content = forms.CharField(
        label="投诉内容",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=complaint_form.CONTENT_MAX,
    )
    institution_name = forms.CharField(label="涉及机构名称", max_length=200, required=False)
    contact = forms.CharField(
        label="投诉人联系方式",
        max_length=complaint_form.CONTACT_MAX,
        required=False,
        help_text="个人信息：保存后一律脱敏显示",
    )
    reference = forms.CharField(
        label="转办编号", max_length=complaint_form.REFERENCE_MAX, required=False
    )


class ComplaintImportForm(PortalForm):
    file = forms.FileField(
        label="投诉转办清单文件",
        widget=forms.FileInput(attrs={"accept": ".xlsx,.xls,.csv"}),
        help_text="支持 .xlsx、.xls、.csv（UTF-8 或 GB18030 编码）。",
    )


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


@login_required
def complaint_list(request: HttpRequest) -> HttpResponse:
    require_kind(request, *READERS)
    qs = Complaint.objects.visible_to(request.user).select_related("institution")
    g = request.GET
    filters = {k: g.get(k, "").strip() for k in ("q", "channel", "category", "since", "until")}
    if filters["q"]:
        qs = qs.filter(number__contains="".join(ch for ch in filters["q"] if ch.isdigit()))
    if filters["channel"] in ComplaintChannel.values:
        qs = qs.filter(channel=filters["channel"])
    if filters["category"] in ComplaintCategory.values:
        qs = qs.filter(category=filters["category"])
    zone = timezone.get_default_timezone()
    since, until = _day(filters["since"]), _day(filters["until"])
    if since:
        qs = qs.filter(received_at__gte=dt.datetime.combine(since, dt.time(), zone))
    if until:
        qs = qs.filter(
            received_at__lt=dt.datetime.combine(until + dt.timedelta(1), dt.time(), zone)
        )
    upload = g.get("upload", "")
    if upload.isdigit() and len(upload) < 12:
        qs = qs.filter(upload_job_id=int(upload))
    imports = (
        UploadJob.objects.visible_to(request.user)
        .filter(form=complaint_form.FORM.code)
        .select_related("created_by")
        .order_by("-created_at")[:5]
    )
    return render(
        request,
        "oversight/complaints/list.html",
        {
            "page": paginate(request, qs),
            "filters": filters,
            "channels": ComplaintChannel.choices,
            "categories": ComplaintCategory.choices,
            "can_enter": _can_enter(request.user),
            "imports": imports,
            "done": UploadStatus.DONE,
        },
    )


@login_required
def complaint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require_kind(request, *READERS)
    complaint = get_object_or_404(
        Complaint.objects.visible_to(request.user).select_related("institution", "entered_by"),
        pk=pk,
    )
    return render(
        request,
        "oversight/complaints/detail.html",
        {
            "complaint": complaint,
            "can_reveal": _can_enter(request.user),
            "status_form": ComplaintStatusForm(
                initial={"status": complaint.status, "outcome": complaint.outcome}
            )
            if _can_enter(request.user)
            else None,
        },
    )


@require_POST
@login_required
def complaint_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """The full contact, once, in this response only (never stored in the session)."""
    _require_enter(request)
    complaint = get_object_or_404(Complaint.objects.visible_to(request.user), pk=pk)
    contact = services.complaint_contact_reveal(actor=request.user, complaint=complaint)
    response = render(
        request,
        "oversight/complaints/detail.html",
        {"complaint": complaint, "can_reveal": True, "revealed": contact},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def complaint_create(request: HttpRequest) -> HttpResponse:
    _require_enter(request)
    form = ComplaintForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            complaint = services.complaint_create(actor=request.user, **form.cleaned_data)
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, f"已录入对 {complaint.number} 的投诉")
            return redirect("complaint_detail", pk=complaint.pk)
    return render(request, "oversight/complaints/form.html", {"form": form})


@login_required
def complaint_import(request: HttpRequest) -> HttpResponse:
    _require_enter(request)
    form = ComplaintImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job, created = services.complaint_import_create(
                actor=request.user, upload=upload, original_name=upload.name
            )
        except PortalError as exc:
            form.add_portal_error(exc, {None: "file"})
        else:
            if not created:
                messages.warning(request, duplicate_message(job))
            elif job.status == UploadStatus.REJECTED:
                messages.error(request, "文件未通过检查，未导入")
            else:
                messages.success(request, f"已上传“{job.original_name}”，导入进度和结果见下方")
            return redirect(reverse("upload_detail", args=[job.pk]))
    return render(request, "oversight/complaints/import.html", {"form": form})


@login_required
def complaint_template(request: HttpRequest) -> FileResponse:
    """The empty 投诉转办清单 with its 填写说明 and drop-downs (forms.md §4)."""
    require_kind(request, *READERS)
    return FileResponse(
        io.BytesIO(form_template(complaint_form.FORM)),
        as_attachment=True,
        filename="投诉转办清单模板.xlsx",
        content_type=XLSX,
    )


# --- the public side, regulator pages (issue 15) -------------------------------------------


class ComplaintStatusForm(PortalForm):
    status = forms.ChoiceField(label="处理状态", choices=ComplaintStatus.choices)
    outcome = forms.CharField(
        label="处理结果",
        required=False,
        max_length=services.PUBLIC_CONTENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="投诉人凭查询码在公众查询页看到这段文字；请不要写入个人信息",
    )


@require_POST
@login_required
def complaint_status(request: HttpRequest, pk: int) -> HttpResponse:
    _require_enter(request)
    complaint = get_object_or_404(Complaint.objects.visible_to(request.user), pk=pk)
    form = ComplaintStatusForm(request.POST)
    if form.is_valid():
        try:
            changed = services.complaint_set_status(
                actor=request.user, complaint=complaint, **form.cleaned_data
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            if changed:
                messages.success(request, f"已更新为“{complaint.get_status_display()}”")
            return redirect("complaint_detail", pk=complaint.pk)
    return render(
        request,
        "oversight/complaints/detail.html",
        {"complaint": complaint, "can_reveal": True, "status_form": form},
        status=400,
    )


def _regulator(request: HttpRequest) -> None:
    require_kind(request, OrgKind.REGULATOR)


@login_required
def public_checks(request: HttpRequest) -> HttpResponse:
    """Checks per day and the heavy callers (counts per address per day, never the
    numbers they asked): the administration only."""
    _regulator(request)
    counting.flush()
    today = timezone.localdate()
    since = today - dt.timedelta(days=29)
    daily = (
        PublicCheckCount.objects.filter(day__gte=since)
        .values("day")
        .annotate(checks=Sum("checks"), limited=Sum("limited"), clients=Count("client"))
        .order_by("-day")
    )
    threshold = settings.PUBLIC_HEAVY_CALLER_CHECKS
    heavy = (
        PublicCheckCount.objects.filter(day__gte=since)
        .filter(Q(checks__gte=threshold) | Q(limited__gt=0))
        .order_by("-day", "-checks")[:200]
    )
    return render(
        request,
        "oversight/public_checks.html",
        {
            "daily": daily,
            "heavy": heavy,
            "threshold": threshold,
            "minute": settings.PUBLIC_RATE_LIMIT_MINUTE,
            "day_limit": settings.PUBLIC_RATE_LIMIT_DAY,
        },
    )


def _quarter(request: HttpRequest) -> tuple[int, int]:
    from portal.workdays import quarter_of

    text = request.GET.get("quarter", "") or request.POST.get("quarter", "")
    if len(text) == 6 and text[:4].isdigit() and text[4] == "Q" and text[5] in "1234":
        return int(text[:4]), int(text[5])
    return quarter_of(timezone.localdate())


@login_required
def abnormal_list(request: HttpRequest) -> HttpResponse:
    _regulator(request)
    year, quarter = _quarter(request)
    label = f"{year}Q{quarter}"
    groups = ComplaintGroup.objects.visible_to(request.user).filter(quarter=label)
    status = request.GET.get("status", "")
    if status in GroupStatus.values:
        groups = groups.filter(status=status)
    quarters = sorted(
        set(ComplaintGroup.objects.visible_to(request.user).values_list("quarter", flat=True))
        | {label},
        reverse=True,
    )
    return render(
        request,
        "oversight/abnormal/list.html",
        {
            "page": paginate(request, groups),
            "quarter": label,
            "quarters": quarters,
            "status": status,
            "statuses": GroupStatus.choices,
            "can_enter": _can_enter(request.user),
            "excluded": Complaint.objects.visible_to(request.user)
            .exclude(excluded_reason="")
            .count(),
        },
    )


@require_POST
@login_required
def abnormal_detect(request: HttpRequest) -> HttpResponse:
    _regulator(request)
    if not _can_enter(request.user):
        raise Http404
    year, quarter = _quarter(request)
    counts = services.abnormal_detect(actor=request.user, year=year, quarter=quarter)
    messages.success(
        request,
        f"{counts['quarter']} 共 {counts['complaints']} 件投诉：新识别"
        f"内容雷同 {counts['text']} 组、同一联系方式 {counts['contact']} 组、"
        f"集中投诉 {counts['burst']} 组",
    )
    return redirect(f"{reverse('abnormal_list')}?quarter={counts['quarter']}")


class GroupDecisionForm(PortalForm):
    status = forms.ChoiceField(
        label="研判结论",
        choices=[
            (GroupStatus.ABNORMAL, "异常投诉（不计入比对）"),
            (GroupStatus.GENUINE, "正常投诉"),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label="研判说明", max_length=500, required=False)


@login_required
def abnormal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _regulator(request)
    group = get_object_or_404(ComplaintGroup.objects.visible_to(request.user), pk=pk)
    form = GroupDecisionForm(
        request.POST or None,
        initial={"status": group.status if group.status != GroupStatus.PENDING else None},
    )
    if request.method == "POST":
        if not _can_enter(request.user):
            raise Http404
        if form.is_valid():
            try:
                services.complaint_group_decide(
                    actor=request.user, group=group, **form.cleaned_data
                )
            except PortalError as exc:
                form.add_portal_error(exc)
            else:
                messages.success(request, f"已标记为“{group.get_status_display()}”")
                return redirect("abnormal_detail", pk=group.pk)
    members = (
        Complaint.objects.visible_to(request.user)
        .filter(groups=group)
        .select_related("institution")
        .order_by("received_at", "pk")
    )
    return render(
        request,
        "oversight/abnormal/detail.html",
        {
            "group": group,
            "form": form,
            "page": paginate(request, members),
            "can_enter": _can_enter(request.user),
        },
    )
