"""python manage.py purge_expired [--dry-run]

Deletes the stored files of import jobs finished before the retention cutoff
(``RETENTION_DAYS``, at least 2 years: 000 §二(一)2; 001 第十二条) and prints one JSON line.
Audit events and registered numbers are never deleted. ``--dry-run`` changes nothing.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from portal.spreadsheets.retention import imports_purge_expired


class Command(BaseCommand):
    help = "删除超过保存期限的导入文件和错误报告（审计日志和号码登记不删除），输出一行 JSON"

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="只统计将删除的内容，不修改")

    def handle(self, *args, **options):
        report = imports_purge_expired(dry_run=options["dry_run"])
        self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
