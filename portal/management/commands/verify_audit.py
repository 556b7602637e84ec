"""python manage.py verify_audit: OK, or the first broken link of the audit chain."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from portal.audit import verify_chain


class Command(BaseCommand):
    help = "校验审计日志哈希链是否完整"

    def handle(self, *args, **options):
        report = verify_chain()
        if report.ok:
            self.stdout.write(f"OK：审计日志哈希链完整，共 {report.checked} 条")
            return
        self.stderr.write(
            f"BROKEN：第 {report.broken_id} 号审计记录处链条断裂：{report.reason}"
            f"（此前 {report.checked} 条完好）"
        )
        sys.exit(1)
