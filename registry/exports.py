"""Export of a register to xlsx: the 号码登记表 columns, every cell text, formula-safe."""

from __future__ import annotations

from django.utils import timezone

from portal.spreadsheets.xlsx import write_text_xlsx

from .importers import register
from .models import Purpose, UserType

EXTRA = ["机构", "状态", "终止原因", "登记时间"]


def export_numbers(queryset, stream) -> int:
    """Write the numbers of ``queryset`` (already scoped to the user) to ``stream``.

    Every cell is text (format ``@``) so numbers keep their digits; values starting with
    ``= + - @``, tab or CR are neutralised (safe_cell). Returns the row count.
    """
    rows = queryset.select_related("institution").order_by("institution_id", "number", "id")

    def values():
        for n in rows.iterator(chunk_size=5000):
            yield [
                n.number,
                "子端口" if n.is_sub_port else n.get_kind_display(),
                n.main_port,
                Purpose(n.purpose).label,
                "本机构" if n.user_type == UserType.SELF else n.user_name,
                n.user_credit_code,
                n.carrier,
                n.document_number,
                n.valid_from.isoformat(),
                n.valid_to.isoformat() if n.valid_to else "",
                n.remark,
                n.institution.name,
                n.get_status_display(),
                n.end_reason,
                timezone.localtime(n.created_at).strftime("%Y-%m-%d %H:%M"),
            ]

    return write_text_xlsx(
        stream, sheet_name="号码登记表", headers=register.COLUMNS + EXTRA, rows=values()
    )
