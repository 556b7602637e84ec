"""python manage.py import_numbers --institution CODE [--replace] FILE

Runs the same pipeline as the upload page and the API, synchronously, and prints one JSON
line. Exit 0 when imported, 1 when rejected (or on bad arguments); never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand

from portal.audit import SYSTEM
from portal.creditcode import CreditCodeError, validate_credit_code
from portal.errors import PortalError
from portal.models import Organisation, OrgKind
from registry import services
from registry.models import ImportMode, ImportStatus


class Command(BaseCommand):
    help = "导入机构的号码登记表（xlsx/xls/csv），输出一行 JSON"

    def add_arguments(self, parser):
        parser.add_argument("--institution", required=True, help="机构统一社会信用代码")
        parser.add_argument("--replace", action="store_true", help="替换模式：文件外的号码终止")
        parser.add_argument("file")

    def emit(self, payload: dict, code: int) -> None:
        self.stdout.write(json.dumps(payload, ensure_ascii=False))
        sys.exit(code)

    def reject(self, message: str) -> None:
        self.emit(
            {
                "status": "rejected",
                "rows": 0,
                "created": 0,
                "updated": 0,
                "ended": 0,
                "errors": 0,
                "error_report": None,
                "message": message,
            },
            1,
        )

    def handle(self, *args, **options):
        try:
            code = validate_credit_code(options["institution"])
        except CreditCodeError as exc:
            self.reject(exc.message)
        institution = Organisation.objects.filter(
            credit_code=code, kind=OrgKind.INSTITUTION
        ).first()
        if institution is None:
            self.reject(f"未找到统一社会信用代码为 {code} 的金融机构")
        path = Path(options["file"])
        if not path.is_file():
            self.reject(f"文件不存在：{path}")
        mode = ImportMode.REPLACE if options["replace"] else ImportMode.MERGE
        try:
            with open(path, "rb") as fh:
                job, created = services.import_job_create(
                    actor=SYSTEM,
                    institution=institution,
                    upload=File(fh, name=path.name),
                    original_name=path.name,
                    mode=mode,
                    enqueue=False,
                )
        except PortalError as exc:
            self.reject(exc.message)
        if job.status == ImportStatus.QUEUED:
            job = services.import_job_run(job_id=job.pk)
        elif not created:
            job.message = services.duplicate_message(job)
        imported = job.status == ImportStatus.DONE
        self.emit(
            {
                "status": "imported" if imported else "rejected",
                "rows": job.rows_total,
                "created": job.created if created else 0,
                "updated": job.updated if created else 0,
                "ended": job.ended if created else 0,
                "errors": job.error_count,
                "error_report": job.error_report.path if job.error_report else None,
                "message": job.message,
            },
            0 if imported else 1,
        )
