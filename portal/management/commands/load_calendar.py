"""python manage.py load_calendar --year 2026 [FILE]

Without FILE the year comes from the chinese-calendar package; with FILE from a CSV of
``date,kind`` rows (kind ``holiday`` or ``workday`` for the make-up days; weekends implied,
an optional third column names the holiday), as the State Council publishes it.
Prints one JSON line with the working days per month (to compare with the notice);
``--dry-run`` prints it without saving. Exits 1 with a Chinese message on bad input.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from portal import workdays
from portal.audit import SYSTEM
from portal.calendar_csv import CalendarFileError, parse_calendar_csv
from portal.errors import PortalError
from portal.services import calendar_load_year


class Command(BaseCommand):
    help = "加载某一年的工作日历（来自 chinese-calendar 或国务院通知的 CSV）"

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True, action="append")
        parser.add_argument("file", nargs="?", help="CSV: date,kind[,name]")
        parser.add_argument(
            "--dry-run", action="store_true", help="只显示每月工作日数，不保存（用于与通知核对）"
        )

    def handle(self, *args, **options):
        years = options["year"]
        path = options.get("file")
        results = []
        try:
            for year in years:
                if path:
                    with open(path, "rb") as fh:
                        days = parse_calendar_csv(fh.read(), year=year)
                    source = "CSV 文件"
                else:
                    days, source = workdays.chinese_calendar_days(year), "chinese-calendar"
                per_month = {
                    month: sum(1 for d, working, _ in days if working and d.month == month)
                    for month in range(1, 13)
                }
                if options["dry_run"]:
                    working, changed = sum(per_month.values()), False
                else:
                    working, changed = calendar_load_year(
                        actor=SYSTEM, year=year, days=days, source=source
                    )
                results.append(
                    {
                        "year": year,
                        "working_days": working,
                        "per_month": per_month,
                        "changed": changed,
                        "dry_run": options["dry_run"],
                    }
                )
        except (workdays.CalendarYearMissing, CalendarFileError, PortalError, OSError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            if isinstance(exc, workdays.CalendarYearMissing) and not path:
                message = (
                    f"chinese-calendar 尚不包含 {exc.year} 年的节假日安排："
                    f"请按国务院通知准备 CSV 后运行 load_calendar --year {exc.year} FILE"
                )
            self.stderr.write(message)
            sys.exit(1)
        out = results[0] if len(results) == 1 else results
        self.stdout.write(json.dumps(out, ensure_ascii=False))
