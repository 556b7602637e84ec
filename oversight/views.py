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
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.errors import PortalError
from portal.filters import bounded_id
from portal.models import Organisation, OrgKind, Role
from portal.spreadsheets.models import UploadJob, UploadStatus
from portal.spreadsheets.pipeline import duplicate_message
from portal.spreadsheets.template import form_template
from portal.views import paginate, require_kind, stored_file_response
from registry.forms import PortalForm

from . import casework, services
from .cases import Review
from .evidence import evidence_for
from .importers import complaints as complaint_form
from .models import (
    FINDING_MEANINGS,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintGroup,
    ComplaintStatus,
    Finding,
    FindingCode,
    FindingState,
    GroupStatus,
    PublicCheckCount,
    ReconciliationRun,
    RunStatus,
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
    upload = bounded_id(g.get("upload"))
    if upload:
        qs = qs.filter(upload_job_id=upload)
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


# --- the cross-match: runs and findings (issue 13 item 3) --------------------------------------


def _can_reconcile(user) -> bool:
    return user.kind == OrgKind.REGULATOR and user.role in (Role.ADMIN, Role.OPERATOR)


class RunForm(PortalForm):
    as_of = forms.DateField(
        label="比对日",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="以该日在用的登记、该日所在季度的报送版本、报备和投诉为准",
    )


def _code_rows(run, previous) -> list[dict]:
    rows = []
    for code in FindingCode:
        count = run.counts.get(code.value, 0) if run.counts else 0
        before = previous.counts.get(code.value, 0) if previous and previous.counts else None
        rows.append(
            {
                "code": code.value,
                "label": code.label,
                "meaning": FINDING_MEANINGS[code],
                "count": count,
                "change": None if before is None else count - before,
            }
        )
    return rows


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR)
    user = request.user
    form = RunForm(request.POST or None, initial={"as_of": timezone.localdate()})
    if request.method == "POST":
        if not _can_reconcile(user):
            raise Http404
        if form.is_valid():
            try:
                run = services.reconciliation_start(actor=user, as_of=form.cleaned_data["as_of"])
            except PortalError as exc:
                form.add_portal_error(exc)
            else:
                messages.success(request, f"已发起 {run.as_of} 的比对，进度见下方")
                return redirect("run_detail", pk=run.pk)
    runs = ReconciliationRun.objects.visible_to(user).select_related("started_by")
    page = paginate(request, runs)
    done = {r.pk: r for r in ReconciliationRun.objects.filter(status=RunStatus.DONE)}
    for run in page:
        previous = done.get(run.previous_id)
        run.change = run.total - previous.total if previous else None
    return render(
        request,
        "oversight/runs/list.html",
        {"page": page, "form": form, "can_reconcile": _can_reconcile(user)},
    )


def _run(request: HttpRequest, pk: int) -> ReconciliationRun:
    require_kind(request, OrgKind.REGULATOR)
    return get_object_or_404(
        ReconciliationRun.objects.visible_to(request.user).select_related("previous"), pk=pk
    )


def _run_context(run: ReconciliationRun) -> dict:
    run.progress, run.step = services.live_progress(run)
    reports = (run.inputs or {}).get("reports", [])
    names = dict(
        Organisation.objects.filter(pk__in=[r["carrier"] for r in reports]).values_list(
            "pk", "name"
        )
    )
    return {
        "run": run,
        "reports": [r | {"carrier_name": names.get(r["carrier"], "")} for r in reports],
        "codes": _code_rows(run, run.previous),
        "finished": run.status in (RunStatus.DONE, RunStatus.FAILED),
    }


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    return render(request, "oversight/runs/detail.html", _run_context(run))


@never_cache
@login_required
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The htmx fragment polled every second until the run is finished."""
    run = _run(request, pk)
    return render(request, "oversight/runs/progress.html", _run_context(run))


@login_required
def run_report(request: HttpRequest, pk: int) -> FileResponse:
    run = _run(request, pk)
    return stored_file_response(
        run.report, filename=f"比对报告-{run.as_of.isoformat()}.xlsx", content_type=XLSX
    )


def _latest_run(user) -> ReconciliationRun | None:
    return ReconciliationRun.objects.filter(status=RunStatus.DONE).order_by("-pk").first()


def _orgs(kind: str):
    return Organisation.objects.filter(kind=kind).only("pk", "name").order_by("name")


def finding_filters(request: HttpRequest):
    """The findings a list (or a bulk review of it) covers: one run (the latest by default),
    filtered by code, state, review, number, institution and carrier. (run, queryset,
    filters); the queryset is already scoped to the user."""
    user = request.user
    g = request.GET if request.method == "GET" else request.POST
    run_id = bounded_id(g.get("run"))
    run = (
        ReconciliationRun.objects.filter(status=RunStatus.DONE, pk=run_id).first()
        if run_id
        else _latest_run(user)
    )
    keys = ("code", "state", "review", "q", "institution", "carrier")
    filters = {k: g.get(k, "").strip() for k in keys}
    qs = Finding.objects.visible_to(user).filter(run=run) if run else Finding.objects.none()
    if filters["code"] in FindingCode.values:
        qs = qs.filter(code=filters["code"])
    if filters["state"] in FindingState.values:
        qs = qs.filter(state=filters["state"])
    else:
        qs = qs.exclude(state=FindingState.RESOLVED)
    if filters["review"] in Review.values:
        qs = qs.filter(review=filters["review"])
    if filters["q"]:
        qs = qs.filter(number__contains="".join(ch for ch in filters["q"] if ch.isdigit()))
    overseer = user.kind in READERS
    institution = bounded_id(filters["institution"]) if overseer else None
    carrier = bounded_id(filters["carrier"]) if overseer else None
    if institution:
        qs = qs.filter(Q(institution_id=institution) | Q(other_institution_id=institution))
    if carrier:
        qs = qs.filter(carrier_id=carrier)
    return run, qs, filters


@login_required
def finding_list(request: HttpRequest) -> HttpResponse:
    """Findings of one run (the latest by default). Regulators see all, financial
    regulators those about the institutions they supervise; an institution those about its
    own numbers; a carrier those about its own services; nobody else has the page. The
    administration reviews them here one by one or in bulk (issue 14 §1)."""
    require_kind(request, *READERS, OrgKind.INSTITUTION, OrgKind.CARRIER)
    user = request.user
    run, qs, filters = finding_filters(request)
    overseer = user.kind in READERS
    scope = user.organisation.supervised() if user.kind == OrgKind.FINANCIAL_REGULATOR else None
    institutions = Organisation.objects.filter(kind=OrgKind.INSTITUTION)
    page = paginate(request, qs.select_related("institution", "other_institution", "carrier"))
    return render(
        request,
        "oversight/findings/list.html",
        {
            "run": run,
            "page": page,
            "filters": filters,
            "query": request.GET.urlencode(),
            "codes": FindingCode.choices,
            "states": FindingState.choices,
            "reviews": Review.choices,
            "overseer": overseer,
            "can_review": _can_reconcile(user),
            "bulk_max": casework.BULK_MAX,
            "institutions": (scope if scope is not None else institutions) if overseer else [],
            "carriers": Organisation.objects.filter(kind=OrgKind.CARRIER) if overseer else [],
            "runs": ReconciliationRun.objects.filter(status=RunStatus.DONE).only("pk", "as_of")[
                :20
            ],
        },
    )


@login_required
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require_kind(request, *READERS, OrgKind.INSTITUTION, OrgKind.CARRIER)
    finding = get_object_or_404(
        Finding.objects.visible_to(request.user).select_related(
            "run", "institution", "other_institution", "carrier"
        ),
        pk=pk,
    )
    return render(request, "oversight/findings/detail.html", finding_context(request, finding))


def finding_context(request: HttpRequest, finding: Finding, **forms_) -> dict:
    """The finding's page: evidence, history across runs, decisions, cases and appeals on
    its identity, and the forms the user may use (issue 14 §1–3)."""
    from . import case_views

    user = request.user
    evidence = evidence_for([finding], with_complaints=True)[finding.pk]
    history = (
        Finding.objects.visible_to(user)
        .filter(identity=finding.identity)
        .select_related("run")
        .order_by("-run_id")[:10]
    )
    return {
        "finding": finding,
        "e": evidence,
        "history": history,
        "overseer": user.kind in READERS,
        **case_views.finding_casework(request, finding, **forms_),
    }


def findings_panel(request: HttpRequest) -> dict:
    """The regulator dashboard's "latest findings": counts per code from the last run, with
    the change since the one before (issue 13 item 9)."""
    run = (
        ReconciliationRun.objects.visible_to(request.user)
        .filter(status=RunStatus.DONE)
        .select_related("previous")
        .first()
    )
    return {
        "run": run,
        "codes": _code_rows(run, run.previous) if run else [],
        "can_reconcile": _can_reconcile(request.user),
    }
