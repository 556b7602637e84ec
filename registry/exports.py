"""Export of a register to xlsx: the 号码登记表 columns, every cell text, formula-safe."""

from __future__ import annotations

from django.utils import timezone
from openpyxl import Workbook

from .importers import register
from .importers.xlsx import prepare_sheet, safe_cell
from .models import Purpose, UserType

EXTRA = ["机构", "状态", "终止原因", "登记时间"]


def export_numbers(queryset, stream) -> int:
    """Write the numbers of ``queryset`` (already scoped to the user) to ``stream``.

    Values starting with ``= + - @``, tab or CR are neutralised (safe_cell); every cell is
    text so numbers stay digits when the file is opened. Returns the row count.
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("号码登记表")
    headers = register.COLUMNS + EXTRA
    prepare_sheet(ws, headers)
    count = 0
    rows = queryset.select_related("institution").order_by("institution_id", "number", "id")
    for n in rows.iterator(chunk_size=5000):
        user = "本机构" if n.user_type == UserType.SELF else n.user_name
        values = [
            n.number,
            "子端口" if n.is_sub_port else n.get_kind_display(),
            n.main_port,
            Purpose(n.purpose).label,
            user,
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
        # Plain strings (no per-cell style objects: three times faster); a string cell is
        # text in Excel, so numbers keep their digits.
        ws.append([safe_cell(v) for v in values])
        count += 1
    wb.save(stream)
    return count
