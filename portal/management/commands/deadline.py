"""python manage.py deadline sms-filing 2026-03-16 | quarterly-report 2026Q2"""

from __future__ import annotations

import datetime as dt
import sys

from django.core.management.base import BaseCommand

from portal import workdays


class Command(BaseCommand):
    help = "按官方工作日历（含调休）计算短信报备或季度报送的截止日期"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["sms-filing", "quarterly-report"])
        parser.add_argument("subject", help="短信计划发送日期 2026-03-16，或季度 2026Q2")
        parser.add_argument("--time", action="store_true", help="同时输出截止时刻（上海时间）")

    def handle(self, *args, **options):
        subject = options["subject"]
        try:
            if options["kind"] == "sms-filing":
                try:
                    start = dt.date.fromisoformat(subject.strip())
                except ValueError:
                    raise ValueError(f"日期格式应为 2026-03-16，实际为“{subject}”") from None
                due = workdays.sms_filing_deadline(start)
            else:
                due = workdays.quarterly_report_deadline(*workdays.parse_quarter(subject))
        except (workdays.CalendarYearMissing, ValueError) as exc:
            self.stderr.write(getattr(exc, "message", None) or str(exc))
            sys.exit(1)
        self.stdout.write(due.isoformat() if options["time"] else due.date().isoformat())
