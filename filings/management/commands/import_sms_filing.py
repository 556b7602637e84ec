"""python manage.py import_sms_filing --carrier CODE FILE [--submit]

Runs the same pipeline as the upload page, synchronously, and prints one JSON line
(issue 12 §7):

    {"status": "submitted"|"draft"|"rejected", "filings": [{"id", "row", "port", "checks":
    [{"code", "blocking", "message"}]}], "errors": n, "error_report": path|null, "message"}

``filings`` in row order (``row`` as Excel shows it), every check that fired. A blocking
check on any filing: nothing is submitted, status draft, exit 1. A rejected file: exit 1
with its error report. Otherwise exit 0 (draft without --submit, submitted with it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand

from filings import services
from filings.importers.sms_filing import FORM
from filings.models import SmsFiling
from portal.audit import SYSTEM
from portal.creditcode import CreditCodeError, validate_credit_code
from portal.errors import PortalError
from portal.models import Organisation, OrgKind, UploadStatus
from portal.spreadsheets.pipeline import duplicate_message, upload_job_create, upload_job_run


class Command(BaseCommand):
    help = "导入运营商的非应邀短信发送报备表（xlsx/xls/csv），可直接提交，输出一行 JSON"

    def add_arguments(self, parser):
        parser.add_argument("--carrier", required=True, help="运营商统一社会信用代码")
        parser.add_argument("--submit", action="store_true", help="没有阻断性问题时直接提交")
        parser.add_argument("file")

    def emit(self, payload: dict, code: int) -> None:
        self.stdout.write(json.dumps(payload, ensure_ascii=False))
        sys.exit(code)

    def reject(self, message: str, *, errors: int = 0, report: str | None = None) -> None:
        self.emit(
            {
                "status": "rejected",
                "filings": [],
                "errors": errors,
                "error_report": report,
                "message": message,
            },
            1,
        )

    def handle(self, *args, **options):
        try:
            code = validate_credit_code(options["carrier"])
        except CreditCodeError as exc:
            self.reject(exc.message)
        carrier = Organisation.objects.filter(credit_code=code, kind=OrgKind.CARRIER).first()
        if carrier is None:
            self.reject(f"未找到统一社会信用代码为 {code} 的电信业务经营者")
        path = Path(options["file"])
        if not path.is_file():
            self.reject(f"文件不存在：{path}")
        try:
            with open(path, "rb") as fh:
                job, created = upload_job_create(
                    actor=SYSTEM,
                    organisation=carrier,
                    form=FORM.code,
                    upload=File(fh, name=path.name),
                    original_name=path.name,
                    enqueue=False,
                )
        except PortalError as exc:
            self.reject(exc.message)
        if job.status == UploadStatus.QUEUED:
            job = upload_job_run(job_id=job.pk)
        elif not created:
            job.message = duplicate_message(job)
        if job.status != UploadStatus.DONE:
            self.reject(
                job.message,
                errors=job.error_count,
                report=job.error_report.path if job.error_report else None,
            )
        filings = list(SmsFiling.objects.filter(source_job=job).order_by("source_row", "pk"))
        status, message, exit_code = "draft", job.message, 0
        if any(f.blocking for f in filings):
            status, exit_code = "draft", 1
            message = f"{job.message}。有阻断性问题，未提交"
        elif options["submit"]:
            try:
                filings = services.filings_submit(actor=SYSTEM, filings=filings)
            except PortalError as exc:
                status, message, exit_code = "draft", exc.message, 1
                filings = list(
                    SmsFiling.objects.filter(source_job=job).order_by("source_row", "pk")
                )
            else:
                status, message = (
                    "submitted",
                    f"已提交 {len(filings)} 份短信报备，等待通信管理局审核",
                )
        self.emit(
            {
                "status": status,
                "filings": [
                    {"id": f.pk, "row": f.source_row, "port": f.port, "checks": f.checks}
                    for f in filings
                ],
                "errors": 0,
                "error_report": None,
                "message": message,
            },
            exit_code,
        )
