"""python manage.py reconcile --as-of YYYY-MM-DD [--report FILE.xlsx]

Runs one cross-match (比对) at once, as the system, the same service the page and the
quarterly schedule use, and prints one JSON line
``{"run": id, "findings": {"CODE": count, ...}, "new": n, "resolved": n, "seconds": s}``.
``--report`` also writes the run's report workbook there. Exit 0; a date whose year the
working-day calendar does not cover, or a bad argument: one Chinese line on stderr, exit 1.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from portal.audit import SYSTEM
from portal.cli import JsonLineCommand
from portal.errors import PortalError
from portal.workdays import CalendarYearMissing, parse_iso_day

from ... import services
from ...models import RunStatus


class Command(JsonLineCommand):
    help = "按比对日执行一次比对，输出一行 JSON"

    def add_arguments(self, parser):
        parser.add_argument("--as-of", required=True, help="比对日，如 2026-12-01")
        parser.add_argument("--report", help="另存比对报告（xlsx）到该路径")

    def handle(self, *args, **options):
        try:
            as_of = parse_iso_day(options["as_of"])
            run = services.reconciliation_start(actor=SYSTEM, as_of=as_of, enqueue=False)
            run = services.reconciliation_execute(run_id=run.pk)
        except (PortalError, CalendarYearMissing, ValueError) as exc:
            self.fail(getattr(exc, "message", None) or str(exc))
        if run.status != RunStatus.DONE:
            self.fail(run.message or "比对未完成")
        if options["report"]:
            target = Path(options["report"])
            target.parent.mkdir(parents=True, exist_ok=True)
            with run.report.open("rb") as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
        self.emit(
            {
                "run": run.pk,
                "findings": run.counts,
                "new": run.new_count,
                "resolved": run.resolved_count,
                "seconds": run.seconds,
            }
        )
