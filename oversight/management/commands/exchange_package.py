"""python manage.py exchange_package --quarter 2026Q4 [--out FILE.xlsx]

Generates (or refreshes) the quarter's exchange package (000 §三(二)) for every active
financial regulator, each scoped to the institutions it supervises, as the system (each
regulator is told through the notice centre). With ``--out`` it also writes the whole
province's package (every institution) to FILE. Prints one JSON line
``{"quarter", "packages", "institutions", "resources", "findings", "cases", "complaints",
"appeals", "out"}``: the number of packages generated and the province's counts (each
institution once); ``out`` is the file written, or null. Bad input (a quarter that is
malformed or has not begun, a file that cannot be written): one Chinese line on stderr,
exit 1.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from portal.audit import SYSTEM
from portal.cli import JsonLineCommand
from portal.errors import PortalError
from portal.models import Organisation, OrgKind

from ... import exchange


class Command(JsonLineCommand):
    help = "生成某季度各金融管理部门的信息交换数据包（可另存全省数据包），输出一行 JSON"

    def add_arguments(self, parser):
        parser.add_argument("--quarter", required=True, help="季度，如 2026Q4")
        parser.add_argument("--out", help="另存全省（全部金融机构）数据包（xlsx）到该路径")

    def handle(self, *args, **options):
        try:
            year, quarter = exchange.parse_quarter(options["quarter"])
            exchange.quarter_as_of(year, quarter)
        except PortalError as exc:
            self.fail(exc.message)
        out = Path(options["out"]) if options["out"] else None
        try:
            packages = [
                exchange.exchange_package_generate(
                    actor=SYSTEM, year=year, quarter=quarter, recipient=recipient
                )
                for recipient in Organisation.objects.filter(
                    kind=OrgKind.FINANCIAL_REGULATOR, is_active=True
                ).order_by("pk")
            ]
            if out is None:
                counts = exchange.province_counts(year=year, quarter=quarter)
            else:
                counts = self._write(out, year, quarter)
        except PortalError as exc:
            self.fail(exc.message)
        except OSError as exc:
            self.fail(f"无法写入文件 {out}：{exc.strerror or exc}")
        self.emit(
            {
                "quarter": f"{year}Q{quarter}",
                "packages": len(packages),
                **{key: counts[key] for key in exchange.COUNT_KEYS},
                "out": str(out) if out else None,
            }
        )

    @staticmethod
    def _write(out: Path, year: int, quarter: int) -> dict:
        """Into a temporary file beside the target, then renamed: never half a workbook."""
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=out.parent, prefix=".exchange-", suffix=".xlsx")
        try:
            with os.fdopen(handle, "wb") as stream:
                counts = exchange.exchange_province_write(
                    actor=SYSTEM, year=year, quarter=quarter, stream=stream
                )
            os.replace(name, out)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return counts
