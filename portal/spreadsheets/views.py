"""The upload job's pages, one set for every form (issue 9 item 2): status, live progress
(an htmx fragment) and the error report. Scoped by ``UploadJob.objects.visible_to``: the
uploader's organisation sees its own jobs, regulators read all, anyone else gets 404."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from portal.models import OrgKind
from portal.views import stored_file_response

from .form import registered
from .models import UploadJob
from .pipeline import live_rows_done

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _job(request: HttpRequest, pk: int) -> UploadJob:
    jobs = UploadJob.objects.visible_to(request.user).select_related("organisation", "created_by")
    return live_rows_done(get_object_or_404(jobs, pk=pk))


def _page(request: HttpRequest, job: UploadJob) -> dict:
    spec = registered().get(job.form)
    user = request.user
    pages = spec.pages if spec else {}
    return {
        "job": job,
        # A form may keep its own addresses for these pages (the register's old links).
        "progress_url": reverse(pages.get("progress", "upload_progress"), args=[job.pk]),
        "errors_url": reverse(pages.get("errors", "upload_errors"), args=[job.pk]),
        "form_label": spec.label if spec else job.form,
        "pages": pages,
        "option_labels": spec.option_labels(job) if spec else [],
        "result_link": spec.result_link(job, user) if spec else None,
        "overseer": user.kind in (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR),
        "can_upload": bool(
            spec and user.organisation_id and user.kind in spec.uploader_kinds and user.can_write
        ),
    }


@login_required
def upload_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    return render(request, "spreadsheets/detail.html", _page(request, job))


@never_cache
@login_required
def upload_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The htmx fragment polled every second; once the job is finished it comes back
    without its trigger, which stops the polling."""
    job = _job(request, pk)
    return render(request, "spreadsheets/progress.html", _page(request, job))


def error_report_response(job: UploadJob) -> FileResponse:
    return stored_file_response(
        job.error_report,
        filename=f"{Path(job.original_name).stem}-错误报告.xlsx",
        content_type=XLSX,
    )


@login_required
def upload_error_report(request: HttpRequest, pk: int) -> FileResponse:
    return error_report_response(_job(request, pk))
