"""Export of filings to xlsx in the 非应邀短信发送报备表's own columns: every cell text,
formulas neutralised (portal.spreadsheets.xlsx.safe_cell, as registry/exports.py)."""

from __future__ import annotations

from django.utils import timezone

from portal.spreadsheets.xlsx import write_text_xlsx

from .importers.sms_filing import COLUMNS, column_texts
from .services import VALUE_FIELDS

EXTRA = ["报备编号", "版本", "状态", "检查结果", "审核意见", "实际发送数量", "提交时间"]


def export_filings(queryset, stream) -> int:
    """Write the filings of ``queryset`` (already scoped to the user) to ``stream``."""

    def values():
        for f in queryset.order_by("start_at", "pk").iterator(chunk_size=2000):
            texts = column_texts({name: getattr(f, name) for name in VALUE_FIELDS})
            yield [
                *(texts[c] for c in COLUMNS),
                str(f.pk),
                str(f.version),
                f.get_status_display(),
                "；".join(f"{c['code']} {c['message']}" for c in f.checks),
                f.review_reason,
                "" if f.actual_count is None else str(f.actual_count),
                timezone.localtime(f.submitted_at).strftime("%Y-%m-%d %H:%M")
                if f.submitted_at
                else "",
            ]

    return write_text_xlsx(
        stream, sheet_name="非应邀短信发送报备表", headers=COLUMNS + EXTRA, rows=values()
    )
