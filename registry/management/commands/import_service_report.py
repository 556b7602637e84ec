"""python manage.py import_service_report --carrier CODE --quarter 2026Q4 FILE [--submit]

Uploads a carrier's 服务对象报送表 into the quarter's draft through the same pipeline as the
upload page and the API, synchronously, and with ``--submit`` submits it. Prints one JSON
line (issue 11 §6); exit 0, or 1 when the file is rejected (or on bad arguments).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand

from portal import workdays
from portal.audit import SYSTEM
from portal.creditcode import CreditCodeError, validate_credit_code
from portal.errors import PortalError
from portal.models import Organisation, OrgKind, UploadStatus
from registry import services


class Command(BaseCommand):
    help = "导入运营商的服务对象报送表（xlsx/xls/csv）到季度草稿，可直接提交；输出一行 JSON"

    def add_arguments(self, parser):
        parser.add_argument("--carrier", required=True, help="运营商统一社会信用代码")
        parser.add_argument("--quarter", required=True, help="季度，如 2026Q4")
        parser.add_argument("--submit", action="store_true", help="导入成功后提交报送")
        parser.add_argument("file")

    def emit(self, payload: dict, code: int) -> None:
        self.stdout.write(json.dumps(payload, ensure_ascii=False))
        sys.exit(code)

    def reject(self, message: str, *, report=None, job=None) -> None:
        self.emit(
            {
                "status": "rejected",
                "report": report.pk if report else None,
                "version": report.version if report else 0,
                "rows": job.rows_total if job else 0,
                "errors": job.error_count if job else 0,
                "error_report": job.error_report.path if job and job.error_report else None,
                "late_working_days": 0,
                "message": message,
            },
            1,
        )

    def handle(self, *args, **options):
        try:
            code = validate_credit_code(options["carrier"])
            year, quarter = workdays.parse_quarter(options["quarter"])
        except CreditCodeError as exc:
            self.reject(exc.message)
        except ValueError as exc:
            self.reject(str(exc))
        carrier = Organisation.objects.filter(credit_code=code, kind=OrgKind.CARRIER).first()
        if carrier is None:
            self.reject(f"未找到统一社会信用代码为 {code} 的电信运营商")
        path = Path(options["file"])
        if not path.is_file():
            self.reject(f"文件不存在：{path}")
        try:
            with open(path, "rb") as fh:
                report, job, created = services.service_report_upload(
                    actor=SYSTEM,
                    carrier=carrier,
                    year=year,
                    quarter=quarter,
                    upload=File(fh, name=path.name),
                    original_name=path.name,
                    enqueue=False,
                )
        except (PortalError, workdays.CalendarYearMissing) as exc:
            self.reject(exc.message)
        if job.status == UploadStatus.QUEUED:
            job = services.upload_job_run(job_id=job.pk)
        message = job.message if created else services.duplicate_message(job)
        if job.status != UploadStatus.DONE:
            self.reject(message, report=report, job=job)
        report.refresh_from_db()
        if options["submit"]:
            try:
                report = services.service_report_submit(actor=SYSTEM, report=report)
            except (PortalError, workdays.CalendarYearMissing) as exc:
                self.reject(exc.message, report=report, job=job)
            late = f"，逾期 {report.late_working_days} 个工作日" if report.late_working_days else ""
            message = f"{message}；已提交{report}{late}"
        self.emit(
            {
                "status": "submitted" if report.status == "submitted" else "draft",
                "report": report.pk,
                "version": report.version,
                "rows": job.rows_total,
                "errors": job.error_count,
                "error_report": None,
                "late_working_days": report.late_working_days,
                "message": message,
            },
            0,
        )
