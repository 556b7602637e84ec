"""Bulk-SMS filing pages (issue 12): carriers file (online with live checks, or by
workbook), amend, submit, mark sent or withdraw; the administration reviews the queue;
carriers and overseers see the calendar; institutions read the filings naming them.
Every lookup starts from ``SmsFiling.objects.visible_to(user)``: another organisation's
filing is a 404."""

from __future__ import annotations

import io
import tempfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.errors import PortalError
from portal.models import OrgKind, UploadJob
from portal.spreadsheets.pipeline import duplicate_message, upload_job_create
from portal.spreadsheets.template import form_template
from portal.views import paginate, require_kind

from . import checks, exports, selectors, services
from .forms import FilingForm, initial_of
from .importers import sms_filing
from .importers.sms_filing import Context, clean_values
from .models import SUBMITTABLE, FilingStatus, Qualification, SmsFiling, SmsPurpose

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READERS = (OrgKind.CARRIER, OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR, OrgKind.INSTITUTION)
CALENDAR_READERS = (OrgKind.CARRIER, OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
LIST_FILTERS = ("status", "purpose", "q", "job", "from", "to", "carrier")


def _reader(request: HttpRequest, *kinds: str) -> None:
    require_kind(request, *(kinds or READERS))


def _filer(request: HttpRequest, carrier_id: int | None = None) -> None:
    """Filing pages exist for carriers only (404 for others); a carrier's 查看 gets a 403
    saying what she can do."""
    if not request.user.is_carrier:
        raise Http404
    denial = services.filer_denial(request.user, carrier_id)
    if denial is not None:
        raise PermissionDenied(denial.message)


def _reviewer(request: HttpRequest) -> None:
    if not request.user.is_regulator:
        raise Http404
    denial = services.reviewer_denial(request.user)
    if denial is not None:
        raise PermissionDenied(denial.message)


def _filing(request: HttpRequest, pk: int) -> SmsFiling:
    return get_object_or_404(
        SmsFiling.objects.visible_to(request.user).select_related(
            "carrier", "institution", "partner", "register_entry", "reviewed_by"
        ),
        pk=pk,
    )


def _filters(request: HttpRequest) -> dict:
    return {key: request.GET.get(key, "").strip() for key in LIST_FILTERS}


def _queryset(request: HttpRequest, filters: dict):
    return selectors.filings_for_list(
        user=request.user,
        status=filters["status"],
        purpose=filters["purpose"],
        q=filters["q"],
        job=filters["job"],
        start=selectors.parse_day(filters["from"]),
        end=selectors.parse_day(filters["to"]),
        carrier=filters["carrier"] if request.user.kind != OrgKind.CARRIER else "",
    )


@login_required
def filing_list(request: HttpRequest) -> HttpResponse:
    _reader(request)
    filters = _filters(request)
    rows = _queryset(request, filters)
    query = request.GET.copy()
    query.pop("page", None)
    job = None
    if filters["job"]:
        job = (
            UploadJob.objects.visible_to(request.user)
            .filter(pk=selectors.bounded_id(filters["job"]) or 0)
            .first()
        )
    can_file = request.user.is_carrier and services.filer_denial(request.user) is None
    submittable = job is not None and can_file and rows.filter(status__in=SUBMITTABLE).exists()
    return render(
        request,
        "filings/list.html",
        {
            "page": paginate(request, rows),
            "filters": filters,
            "query": query.urlencode(),
            "statuses": FilingStatus.choices,
            "purposes": SmsPurpose.choices,
            "can_file": can_file,
            "job": job,
            "job_submittable": submittable,
        },
    )


def _live_context(request: HttpRequest, form: FilingForm) -> dict:
    """What the live check shows: the problems of the values typed so far, every check
    that fires on them, and the deadline for the chosen start."""
    carrier = request.user.organisation
    values, errors = clean_values(form.column_texts().get, Context(carrier, carrier.name))
    fact = checks.Facts.from_values(values, carrier=carrier)
    outcome = checks.run_one(fact)
    calendar_problem = next(
        (c["message"] for c in outcome.checks if c["code"] == "CALENDAR_MISSING"), ""
    )
    return {
        # While she types, an empty column is listed as missing, not shouted as an error.
        "errors": [e for e in errors if form.data.get(sms_filing.FIELD_OF[e[0]], "")],
        "missing": [c for c, _ in errors if not form.data.get(sms_filing.FIELD_OF[c], "")],
        "checks": outcome.checks,
        "blocking": outcome.blocking,
        "deadline": outcome.deadline,
        "start": values.get("start_at"),
        "calendar_problem": calendar_problem,
        "document": outcome.document,
        "now": timezone.now(),
    }


@login_required
def filing_create(request: HttpRequest) -> HttpResponse:
    _filer(request)
    return _filing_form(request, None)


@login_required
def filing_edit(request: HttpRequest, pk: int) -> HttpResponse:
    filing = _filing(request, pk)
    _filer(request, filing.carrier_id)
    return _filing_form(request, filing)


def _filing_form(request: HttpRequest, filing: SmsFiling | None) -> HttpResponse:
    carrier = request.user.organisation
    if request.method == "POST":
        form = FilingForm(request.POST)
        action = request.POST.get("action", "draft")
        try:
            values = services.values_from_columns(form.column_texts(), carrier=carrier)
            if filing is None:
                filing = services.filing_create(actor=request.user, carrier=carrier, values=values)
            else:
                filing = services.filing_amend(actor=request.user, filing=filing, values=values)
        except services.FilingInvalid as exc:
            for column, reason in exc.errors:
                form.add_error(sms_filing.FIELD_OF[column], reason)
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            if action == "submit":
                return _submit(request, filing)
            messages.success(request, f"已保存为草稿（第 {filing.version} 版）")
            return redirect("filing_detail", pk=filing.pk)
    else:
        initial = initial_of(filing) if filing else {"carrier_label": carrier.name}
        form = FilingForm(initial=initial)
        form.data = initial  # the live check reads the form's data
    live = _live_context(request, form)
    return render(request, "filings/form.html", {"form": form, "filing": filing, "live": live})


@login_required
@require_POST
def filing_check(request: HttpRequest) -> HttpResponse:
    """The live check (htmx): the form's values so far -> the checks and the deadline."""
    _filer(request)
    form = FilingForm(request.POST)
    return render(
        request, "filings/includes/live_checks.html", {"live": _live_context(request, form)}
    )


def _submit(request: HttpRequest, filing: SmsFiling) -> HttpResponse:
    try:
        services.filing_submit(actor=request.user, filing=filing)
    except services.FilingBlocked as exc:
        messages.error(request, exc.message)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已提交，等待通信管理局审核")
    return redirect("filing_detail", pk=filing.pk)


@login_required
def filing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    filing = _filing(request, pk)
    user = request.user
    is_filer = user.is_carrier and services.filer_denial(user, filing.carrier_id) is None
    is_reviewer = user.is_regulator and services.reviewer_denial(user) is None
    return render(
        request,
        "filings/detail.html",
        {
            "filing": filing,
            "texts": sms_filing.column_texts(
                {name: getattr(filing, name) for name in services.VALUE_FIELDS}
            ),
            "versions": services.version_changes(filing),
            "is_filer": is_filer,
            "is_reviewer": is_reviewer,
            "can_amend": is_filer and filing.status in services.AMENDABLE,
            "can_submit": is_filer and filing.status in SUBMITTABLE,
            "can_withdraw": is_filer and filing.status in services.WITHDRAWABLE,
            "can_mark_sent": is_filer and filing.status == FilingStatus.ACCEPTED,
            "can_review": is_reviewer and filing.status == FilingStatus.SUBMITTED,
            "Qualification": Qualification,
            "document": _document(filing),
        },
    )


def _document(filing: SmsFiling) -> str:
    """The qualification document the filing relies on, as the checks described it."""
    if filing.qualification == Qualification.LICENCE and filing.institution:
        org = filing.institution
        parts = [
            p
            for p in (
                org.get_licence_category_display() if org.licence_category else "",
                org.get_licensing_authority_display() if org.licensing_authority else "",
            )
            if p
        ]
        return f"持牌金融机构“{org.name}”的金融业务许可" + (
            f"（{'，'.join(parts)}）" if parts else ""
        )
    if filing.qualification == Qualification.ENTRUSTMENT and filing.partner:
        p = filing.partner
        number = f" {p.document_number}" if p.document_number else ""
        return (
            f"“{filing.institution.name if filing.institution else ''}”出具的委托书{number}"
            f"（{p.get_kind_display()}，有效期 {p.valid_from} 至 {p.valid_to or '长期'}）"
        )
    return ""


@login_required
@require_POST
def filing_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    filing = _filing(request, pk)
    post = request.POST
    try:
        if action == "submit":
            _filer(request, filing.carrier_id)
            return _submit(request, filing)
        if action == "sent":
            _filer(request, filing.carrier_id)
            count = post.get("actual_count", "").strip()
            if not count.isdigit():
                raise PortalError("实际发送数量应为非负整数")
            services.filing_mark_sent(actor=request.user, filing=filing, actual_count=int(count))
            messages.success(request, f"已标记为已发送（实际发送 {int(count)} 条）")
        elif action == "withdraw":
            _filer(request, filing.carrier_id)
            services.filing_withdraw(
                actor=request.user, filing=filing, reason=post.get("reason", "")
            )
            messages.success(request, "已撤回")
        elif action in services.REVIEW_DECISIONS:
            _reviewer(request)
            services.filing_review(
                actor=request.user, filing=filing, decision=action, reason=post.get("reason", "")
            )
            messages.success(
                request, f"已{dict(FilingStatus.choices)[services.REVIEW_DECISIONS[action]]}"
            )
            if post.get("next") == "queue":
                return redirect("filing_review_queue")
        else:
            raise Http404
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("filing_detail", pk=filing.pk)


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    _reader(request, OrgKind.REGULATOR)
    rows = selectors.review_queue(user=request.user)
    if request.method == "POST":
        _reviewer(request)
        ids = [i for i in request.POST.getlist("ids") if i.isdigit()]
        chosen = rows.filter(pk__in=ids) if ids else rows
        accepted = services.filings_accept_clean(actor=request.user, filings=list(chosen))
        skipped = len(ids) - len(accepted) if ids else chosen.count()
        messages.success(
            request,
            f"已批量通过 {len(accepted)} 份无提示的报备"
            + (f"；{skipped} 份有提示，须逐份审核" if skipped > 0 else ""),
        )
        return redirect("filing_review_queue")
    return render(
        request,
        "filings/review.html",
        {
            "page": paginate(request, rows),
            "clean_count": sum(1 for f in rows if not f.checks),
            "can_review": services.reviewer_denial(request.user) is None,
        },
    )


@login_required
def filing_calendar(request: HttpRequest) -> HttpResponse:
    _reader(request, *CALENDAR_READERS)
    first = selectors.month_of(request.GET.get("month", ""), timezone.localdate())
    return render(
        request,
        "filings/calendar.html",
        {
            **selectors.calendar_month(user=request.user, first=first),
            "purposes": SmsPurpose.choices,
        },
    )


@login_required
def filing_export(request: HttpRequest) -> FileResponse:
    """The filings of a period (as filtered on the list) in the form's own columns."""
    _reader(request)
    filters = _filters(request)
    rows = _queryset(request, filters)
    stream = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    exports.export_filings(rows, stream)
    stream.seek(0)
    span = "-".join(x.replace("-", "") for x in (filters["from"], filters["to"]) if x)
    return FileResponse(
        stream,
        as_attachment=True,
        filename=f"短信报备-{span or timezone.localdate().strftime('%Y%m%d')}.xlsx",
        content_type=XLSX,
    )


@login_required
def filing_template(request: HttpRequest) -> FileResponse:
    """The empty 非应邀短信发送报备表 with drop-downs and 填写说明 (forms.md §3)."""
    _reader(request)
    return FileResponse(
        io.BytesIO(form_template(sms_filing.FORM)),
        as_attachment=True,
        filename="非应邀短信发送报备表模板.xlsx",
        content_type=XLSX,
    )


@login_required
def filing_upload(request: HttpRequest) -> HttpResponse:
    _filer(request)
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = "请选择要上传的文件"
        else:
            try:
                job, created = upload_job_create(
                    actor=request.user,
                    organisation=request.user.organisation,
                    form=sms_filing.FORM.code,
                    upload=upload,
                    original_name=upload.name,
                )
            except PortalError as exc:
                error = exc.message
            else:
                if not created:
                    messages.warning(request, duplicate_message(job))
                return redirect("upload_detail", pk=job.pk)
    return render(request, "filings/upload.html", {"error": error})


@login_required
@require_POST
def job_submit(request: HttpRequest, job_pk: int) -> HttpResponse:
    """Submit every draft of one uploaded workbook: all or nothing."""
    _filer(request)
    job = get_object_or_404(UploadJob.objects.visible_to(request.user), pk=job_pk)
    rows = list(
        SmsFiling.objects.visible_to(request.user).filter(source_job=job, status__in=SUBMITTABLE)
    )
    try:
        services.filings_submit(actor=request.user, filings=rows)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已提交 {len(rows)} 份报备")
    return redirect(f"{_list_url()}?job={job.pk}")


def _list_url() -> str:
    from django.urls import reverse

    return reverse("filing_list")


# --- dashboard panels (registered in apps.py) ----------------------------------------------


def carrier_panel(request: HttpRequest) -> dict:
    return {"counts": selectors.status_counts(user=request.user)}


def regulator_panel(request: HttpRequest) -> dict:
    return {
        "counts": selectors.status_counts(user=request.user),
        "queue": selectors.review_queue(user=request.user)[:5],
    }
