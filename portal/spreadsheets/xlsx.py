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


# --- a fast, streaming, text-only xlsx writer ----------------------------------------------

_SML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Types xmlns="{_PKG}/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_SML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_SML}.worksheet+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_SML}.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# Style 1: text format (@); style 2: text, bold, light blue fill (the header row).
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="1" fillId="2" borderId="0" xfId="0" applyNumberFormat="1" '
    'applyFont="1" applyFill="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def write_text_xlsx(stream, *, sheet_name: str, headers: Sequence[str], rows) -> int:
    """Write one sheet where every cell is text (format ``@``), streaming.

    openpyxl writes about 70,000 cells/s; a register export of a million numbers would take
    minutes. This writes the few XML parts by hand (inline strings, one text style) at
    several times that speed. Values go through :func:`safe_cell` (formula neutralising).
    Returns the number of data rows.
    """
    import zipfile

    def row_xml(number: int, values, style: int) -> str:
        cells = "".join(
            f'<c r="{get_column_letter(i)}{number}" t="inlineStr" s="{style}">'
            f'<is><t xml:space="preserve">{safe_cell(v).translate(_XML_ESCAPES)}</t></is></c>'
            for i, v in enumerate(values, start=1)
        )
        return f'<row r="{number}">{cells}</row>'

    widths = "".join(
        f'<col min="{i}" max="{i}" width="{min(max(text_width(str(h)) + 4, 10), 60)}" '
        'customWidth="1" style="1"/>'
        for i, h in enumerate(headers, start=1)
    )
    count = 0
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'xmlns:r="{_REL}">'
            f'<sheets><sheet name="{sheet_name.translate(_XML_ESCAPES)}" sheetId="1" r:id="rId1"/>'
            "</sheets></workbook>",
        )
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        zf.writestr("xl/styles.xml", _STYLES)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
                    'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
                    f"<cols>{widths}</cols><sheetData>" + row_xml(1, headers, 2)
                ).encode()
            )
            buffer = []
            for count, values in enumerate(rows, start=1):
                buffer.append(row_xml(count + 1, values, 1))
                if len(buffer) >= 2000:
                    sheet.write("".join(buffer).encode())
                    buffer = []
            sheet.write(("".join(buffer) + "</sheetData></worksheet>").encode())
    return count
