"""Pages of the carriers' quarterly service-object reports (issue 11): a carrier uploads or
edits online and submits its own; the administration reviews, compares versions, accepts or
returns; the financial regulator reads accepted reports, their lines only those of the
institutions in its scope, and has no compare (issue 14 §6). Every lookup starts from
``ServiceReport.objects.visible_to(user)``: another carrier's report is a 404, and so is
every report page for an institution."""

from __future__ import annotations

import contextlib
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal import workdays
from portal.errors import PortalError
from portal.filters import bounded_id
from portal.spreadsheets.template import form_template
from portal.views import paginate, require_kind

from . import selectors, services
from .forms import (
    ReportCreateForm,
    ReportLineEndForm,
    ReportLineForm,
    ReportReturnForm,
    ReportUploadForm,
    report_columns,
)
from .importers import service_report as report_form
from .models import Purpose, ReportStatus, ServiceReport, ServiceReportLine

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _reader(request: HttpRequest) -> None:
    require_kind(request, *selectors.REPORT_READERS)


def _writer(request: HttpRequest, carrier_id: int | None = None) -> None:
    """Write pages exist for carriers only (404 for everyone else); a carrier's 查看 gets
    a 403 saying what she can do."""
    if not request.user.is_carrier:
        raise Http404
    denial = services.report_write_denial(request.user, carrier_id)
    if denial is not None:
        raise PermissionDenied(denial.message)


def _reviewer(request: HttpRequest) -> None:
    if not request.user.is_regulator:
        raise Http404
    denial = services.review_denial(request.user)
    if denial is not None:
        raise PermissionDenied(denial.message)


def _report(request: HttpRequest, pk: int) -> ServiceReport:
    _reader(request)
    return get_object_or_404(selectors.reports_visible(request.user), pk=pk)


def _quarter(text: str) -> tuple[int, int]:
    try:
        return workdays.parse_quarter(text or "")
    except ValueError as exc:
        raise PortalError(str(exc), code="quarter", field="quarter") from exc


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    _reader(request)
    user = request.user
    reports = selectors.reports_visible(user)
    context: dict = {"can_write": services.report_write_denial(user) is None}
    if user.is_carrier:
        context["summary"] = selectors.carrier_report_summary(user=user)
        context["create_form"] = ReportCreateForm(
            initial={"quarter": context["summary"]["quarter_code"]}
        )
        reports = reports.order_by("-year", "-quarter", "-version")
    else:
        year, quarter = selectors.current_quarter()
        text = request.GET.get("quarter", "") or f"{year}Q{quarter}"
        with contextlib.suppress(ValueError):
            year, quarter = workdays.parse_quarter(text)
        context["quarter_code"] = f"{year}Q{quarter}"
        context["quarter_display"] = f"{year} 年第 {quarter} 季度"
        context["state"] = selectors.quarter_state(year=year, quarter=quarter)
        reports = reports.filter(year=year, quarter=quarter).order_by("carrier__name", "-version")
        if user.is_regulator:
            context["not_submitted"] = services.carriers_not_submitted(year, quarter).order_by(
                "name"
            )
    context["page"] = paginate(request, reports)
    return render(request, "registry/reports/list.html", context)


@require_POST
@login_required
def report_create(request: HttpRequest) -> HttpResponse:
    _writer(request)
    form = ReportCreateForm(request.POST)
    if form.is_valid():
        try:
            year, quarter = _quarter(form.cleaned_data["quarter"])
            report = services.service_report_create(
                actor=request.user,
                carrier=request.user.organisation,
                year=year,
                quarter=quarter,
                start_from=form.cleaned_data["start_from"],
            )
        except (PortalError, workdays.CalendarYearMissing) as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"已新建{report}，可在线编辑后提交")
            return redirect("service_report_detail", pk=report.pk)
    else:
        messages.error(request, "请填写季度，如 2026Q4")
    return redirect("service_report_list")


@login_required
def report_upload(request: HttpRequest) -> HttpResponse:
    _writer(request)
    summary = selectors.carrier_report_summary(user=request.user)
    form = ReportUploadForm(
        request.POST or None,
        request.FILES or None,
        initial={"quarter": request.GET.get("quarter") or summary["quarter_code"]},
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            year, quarter = _quarter(form.cleaned_data["quarter"])
            _report, job, created = services.service_report_upload(
                actor=request.user,
                carrier=request.user.organisation,
                year=year,
                quarter=quarter,
                upload=upload,
                original_name=upload.name,
            )
        except (PortalError, workdays.CalendarYearMissing) as exc:
            form.add_error(
                "quarter" if getattr(exc, "field", "") == "quarter" else "file", exc.message
            )
        else:
            if not created:
                messages.warning(request, services.duplicate_message(job))
            else:
                messages.success(request, f"已上传“{job.original_name}”，导入进度和结果见下方")
            return redirect("upload_detail", pk=job.pk)
    return render(request, "registry/reports/upload.html", {"form": form, "summary": summary})


@login_required
def report_template(request: HttpRequest) -> FileResponse:
    """The empty 服务对象报送表 with instructions and drop-downs (forms.md §2)."""
    _reader(request)
    return FileResponse(
        io.BytesIO(form_template(report_form.FORM)),
        as_attachment=True,
        filename="服务对象报送表模板.xlsx",
        content_type=XLSX,
    )


@login_required
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    user = request.user
    filters = {
        "q": request.GET.get("q", "").strip()[:100],
        "purpose": request.GET.get("purpose", ""),
        "flagged": request.GET.get("flagged", "") == "1",
    }
    lines = selectors.report_lines(user=user, report=report, **filters)
    can_edit = (
        report.status == ReportStatus.DRAFT
        and services.report_write_denial(user, report.carrier_id) is None
    )
    versions = selectors.reports_visible(user).filter(
        carrier_id=report.carrier_id, year=report.year, quarter=report.quarter
    )
    context = {
        "report": report,
        "page": paginate(request, lines),
        "filters": filters,
        "purposes": Purpose.choices,
        "can_edit": can_edit,
        "can_new_version": (
            not report.is_open
            and services.report_write_denial(user, report.carrier_id) is None
            and not versions.filter(
                status__in=[ReportStatus.DRAFT, ReportStatus.SUBMITTED]
            ).exists()
        ),
        "can_review": report.status == ReportStatus.SUBMITTED
        and services.review_denial(user) is None,
        "return_form": ReportReturnForm(),
        "versions": versions.order_by("-version"),
        "compare_with": selectors.compare_default(user=user, report=report)
        if selectors.can_compare(user)
        else None,
        # A financial regulator reads the lines of its scope only (issue 14 §6).
        "scoped_lines": user.is_financial_regulator,
        "state": selectors.quarter_state(year=report.year, quarter=report.quarter),
        "late_if_now": workdays.working_days_late(report.deadline, timezone.now())
        if report.status == ReportStatus.DRAFT
        else 0,
        "job": report.source_job,
    }
    return render(request, "registry/reports/detail.html", context)


def _line(report: ServiceReport, line_pk: int) -> ServiceReportLine:
    return get_object_or_404(ServiceReportLine, report=report, pk=line_pk)


@login_required
def line_edit(request: HttpRequest, pk: int, line_pk: int | None = None) -> HttpResponse:
    report = _report(request, pk)
    _writer(request, report.carrier_id)
    line = _line(report, line_pk) if line_pk else None
    initial = {}
    if line is not None:
        initial = {
            "number": line.number,
            "kind": line.kind_display,
            "main_port": line.main_port,
            "object_name": line.object_name,
            "object_credit_code": line.object_credit_code,
            "institution_name": line.institution_name,
            "institution_credit_code": line.institution_credit_code,
            "purpose": line.get_purpose_display(),
            "document_number": line.document_number,
            "valid_from": line.valid_from,
            "valid_to": line.valid_to,
        }
    form = ReportLineForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.service_report_line_save(
                actor=request.user,
                report=report,
                line=line,
                fields=report_columns(form.cleaned_data),
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, "已保存" if line else "已添加")
            return redirect("service_report_detail", pk=report.pk)
    return render(
        request, "registry/reports/line_form.html", {"report": report, "line": line, "form": form}
    )


@require_POST
@login_required
def line_end(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    report = _report(request, pk)
    _writer(request, report.carrier_id)
    line = _line(report, line_pk)
    form = ReportLineEndForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写合作截止日期")
    else:
        try:
            services.service_report_line_end(
                actor=request.user, report=report, line=line, end_date=form.cleaned_data["end_date"]
            )
        except PortalError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"号码 {line.number} 的合作截止日期已设为 {form.cleaned_data['end_date']}"
            )
    return redirect("service_report_detail", pk=report.pk)


@require_POST
@login_required
def line_delete(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    report = _report(request, pk)
    _writer(request, report.carrier_id)
    line = _line(report, line_pk)
    try:
        services.service_report_line_delete(actor=request.user, report=report, line=line)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已从草稿中删除号码 {line.number}")
    return redirect("service_report_detail", pk=report.pk)


@require_POST
@login_required
def report_new_version(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    _writer(request, report.carrier_id)
    try:
        draft = services.service_report_create(
            actor=request.user,
            carrier=report.carrier,
            year=report.year,
            quarter=report.quarter,
            start_from="latest",
        )
    except (PortalError, workdays.CalendarYearMissing) as exc:
        messages.error(request, exc.message)
        return redirect("service_report_detail", pk=report.pk)
    messages.success(request, f"已新建{draft}，内容取自第 {report.version} 版")
    return redirect("service_report_detail", pk=draft.pk)


@require_POST
@login_required
def report_submit(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    _writer(request, report.carrier_id)
    try:
        report = services.service_report_submit(actor=request.user, report=report)
    except (PortalError, workdays.CalendarYearMissing) as exc:
        messages.error(request, exc.message)
    else:
        late = (
            f"，逾期 {report.late_working_days} 个工作日，已标记为逾期"
            if report.late_working_days
            else ""
        )
        messages.success(request, f"已提交{report}{late}，等待通信管理局审核")
    return redirect("service_report_detail", pk=report.pk)


@require_POST
@login_required
def report_accept(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    _reviewer(request)
    try:
        services.service_report_accept(actor=request.user, report=report)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已受理{report}")
    return redirect("service_report_detail", pk=report.pk)


@require_POST
@login_required
def report_return(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    _reviewer(request)
    form = ReportReturnForm(request.POST)
    reason = form.data.get("reason", "")
    try:
        services.service_report_return(actor=request.user, report=report, reason=reason)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已退回{report}")
    return redirect("service_report_detail", pk=report.pk)


@login_required
def report_compare(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    user = request.user
    if not selectors.can_compare(user):
        raise Http404
    visible = selectors.reports_visible(user)
    other_pk = bounded_id(request.GET.get("with", ""))
    other = (
        get_object_or_404(visible, pk=other_pk)
        if other_pk
        else selectors.compare_default(user=user, report=report)
    )
    if "with" in request.GET and not other_pk:
        raise Http404
    comparison = selectors.report_compare(old=other, new=report) if other else None
    choices = visible.filter(carrier_id=report.carrier_id).exclude(pk=report.pk)
    return render(
        request,
        "registry/reports/compare.html",
        {
            "report": report,
            "other": other,
            "comparison": comparison,
            "choices": choices.order_by("-year", "-quarter", "-version")[:40],
            "field_labels": dict(selectors.COMPARE_FIELDS),
        },
    )


# --- dashboard panels (registered in apps.py) ----------------------------------------------


def carrier_panel(request: HttpRequest) -> dict:
    return selectors.carrier_report_summary(user=request.user)


def regulator_panel(request: HttpRequest) -> dict:
    return selectors.not_submitted_summary(user=request.user)
