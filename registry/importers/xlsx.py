"""Helpers for writing xlsx files users will open (error reports, exports).

Everything here works with openpyxl's write-only mode (``Workbook(write_only=True)``):
styled cells are ``WriteOnlyCell`` objects and sheet settings are applied before the first
row is appended.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

__all__ = [
    "EXCEL_MAX_CELL_CHARS",
    "header_row",
    "prepare_sheet",
    "safe_cell",
    "text_width",
]

EXCEL_MAX_CELL_CHARS = 32767
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
HEADER_BORDER = Border(bottom=Side(style="thin", color="FF9BB7D4"))
HEADER_ALIGNMENT = Alignment(vertical="center", wrap_text=True)


def safe_cell(value: object) -> str:
    """Text that is safe to put in a spreadsheet cell a user will open.

    * Formula injection (OWASP "CSV injection"): a value starting with ``=``, ``+``, ``-``,
      ``@``, tab or carriage return gets a leading single quote, so neither openpyxl (which
      turns a string starting with ``=`` into a formula) nor Excel/WPS after an edit or a
      CSV round-trip evaluates it. ``=cmd|' /C calc'!A0`` -> ``'=cmd|' /C calc'!A0``.
    * Control characters that XML cannot carry (openpyxl would raise) become U+FFFD.
    * Text longer than Excel's 32,767-character cell limit is cut (Excel would otherwise
      report the file as damaged).
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if not text:
        return text
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    if text.startswith(FORMULA_TRIGGERS):
        text = "'" + text
    if len(text) > EXCEL_MAX_CELL_CHARS:
        text = text[: EXCEL_MAX_CELL_CHARS - 1] + "…"
    return text


def text_width(text: str) -> int:
    """Display width in Excel column units: CJK and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def header_row(ws, headers: Sequence[str]) -> list[WriteOnlyCell]:
    """Styled header cells (bold, light blue fill, bottom border) for ``ws.append``."""
    cells = []
    for title in headers:
        cell = WriteOnlyCell(ws, value=safe_cell(title))
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.border = HEADER_BORDER
        cell.alignment = HEADER_ALIGNMENT
        cells.append(cell)
    return cells


def prepare_sheet(
    ws,
    headers: Sequence[str],
    *,
    widths: Sequence[float | None] | None = None,
    min_width: float = 8,
    max_width: float = 60,
) -> None:
    """Freeze the header row, set column widths and append the styled header row.

    Call on a fresh (write-only or normal) worksheet before any other row. ``widths`` can
    give explicit widths per column (``None`` = from the header text).
    """
    ws.freeze_panes = "A2"
    for index, title in enumerate(headers):
        width = widths[index] if widths is not None and index < len(widths) else None
        if width is None:
            width = min(max(text_width(str(title)) + 4, min_width), max_width)
        ws.column_dimensions[get_column_letter(index + 1)].width = width
    ws.append(header_row(ws, headers))
