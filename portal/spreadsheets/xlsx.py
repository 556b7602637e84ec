"""Helpers for writing xlsx files users will open (error reports, exports).

Everything here works with openpyxl's write-only mode (``Workbook(write_only=True)``):
styled cells are ``WriteOnlyCell`` objects and sheet settings are applied before the first
row is appended.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import column_index_from_string, get_column_letter

__all__ = [
    "EXCEL_MAX_CELL_CHARS",
    "header_row",
    "prepare_sheet",
    "Sheet",
    "WrittenWorkbook",
    "safe_cell",
    "text_width",
    "write_sheets",
    "write_text_xlsx",
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


# --- a fast, streaming xlsx writer (text cells, and whole numbers) --------------------------

_SML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
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


@dataclass
class Sheet:
    """One sheet for :func:`write_sheets`: its name, header row and data rows (an iterable,
    or a function returning one, called when the sheet is written). ``widths`` as for
    :func:`prepare_sheet` (``None``: from the header text). With ``text_only`` every value
    is written as text; otherwise an ``int`` is a number."""

    name: str
    headers: Sequence[str]
    rows: Iterable[Sequence] | Callable[[], Iterable[Sequence]]
    widths: Sequence[float | None] | None = None
    text_only: bool = False


def _cell_xml(ref: str, value, style: int, text_only: bool) -> str:
    if not text_only and isinstance(value, int) and not isinstance(value, bool):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return (
        f'<c r="{ref}" t="inlineStr" s="{style}">'
        f'<is><t xml:space="preserve">{safe_cell(value).translate(_XML_ESCAPES)}</t></is></c>'
    )


def _sheet_xml_head(sheet: Sheet) -> str:
    cols = []
    for i, header in enumerate(sheet.headers, start=1):
        width = sheet.widths[i - 1] if sheet.widths and i <= len(sheet.widths) else None
        if width is None:
            width = min(max(text_width(str(header)) + 4, 10), 60)
        cols.append(f'<col min="{i}" max="{i}" width="{width}" customWidth="1" style="1"/>')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
        'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
        f"<cols>{''.join(cols)}</cols><sheetData>"
    )


def write_sheets(stream, sheets: Sequence[Sheet], *, order: Sequence[int] | None = None):
    """Write a workbook of ``sheets`` (tabs in that order), streaming: returns the number of
    data rows of each sheet, in the same order.

    openpyxl writes about 70,000 cells/s; an export of a million numbers would take
    minutes. This writes the few XML parts by hand (inline strings, one text style, whole
    numbers as numbers) at several times that speed. Text goes through :func:`safe_cell`
    (formula neutralising). ``order`` is the order the sheets' rows are written in (by
    default as listed): a first sheet that summarises the others can be written last.
    """
    import zipfile

    letters = [get_column_letter(i) for i in range(1, 1 + max(len(s.headers) for s in sheets))]

    def row_xml(number: int, values, style: int, text_only: bool) -> str:
        cells = "".join(
            _cell_xml(f"{letters[i]}{number}", v, style, text_only) for i, v in enumerate(values)
        )
        return f'<row r="{number}">{cells}</row>'

    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SML}.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="{_PKG}/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_SML}.sheet.main+xml"/>'
        f'{overrides}<Override PartName="/xl/styles.xml" ContentType="{_SML}.styles+xml"/>'
        "</Types>"
    )
    tabs = "".join(
        f'<sheet name="{s.name.translate(_XML_ESCAPES)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, s in enumerate(sheets, start=1)
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    styles_id = len(sheets) + 1
    counts = [0] * len(sheets)
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", content_types)
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'xmlns:r="{_REL}"><sheets>{tabs}</sheets></workbook>',
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{_PKG}/relationships">{rels}'
            f'<Relationship Id="rId{styles_id}" Type="{_REL}/styles" Target="styles.xml"/>'
            "</Relationships>",
        )
        zf.writestr("xl/styles.xml", _STYLES)
        for index in order if order is not None else range(len(sheets)):
            sheet = sheets[index]
            rows = sheet.rows() if callable(sheet.rows) else sheet.rows
            part = f"xl/worksheets/sheet{index + 1}.xml"
            with zf.open(part, "w", force_zip64=True) as out:
                out.write((_sheet_xml_head(sheet) + row_xml(1, sheet.headers, 2, True)).encode())
                buffer, count = [], 0
                for count, values in enumerate(rows, start=1):
                    buffer.append(row_xml(count + 1, values, 1, sheet.text_only))
                    if len(buffer) >= 2000:
                        out.write("".join(buffer).encode())
                        buffer = []
                out.write(("".join(buffer) + "</sheetData></worksheet>").encode())
            counts[index] = count
    return counts


def write_text_xlsx(stream, *, sheet_name: str, headers: Sequence[str], rows) -> int:
    """Write one sheet where every cell is text (format ``@``), streaming (:func:`write_sheets`).
    Returns the number of data rows."""
    return write_sheets(stream, [Sheet(sheet_name, headers, rows, text_only=True)])[0]


_SHEET_TAB = re.compile(r'<sheet name="([^"]*)" sheetId="[0-9]+" r:id="rId([0-9]+)"/>')
_ROW_END = "</row>"
_CELL = re.compile(
    r'<c r="([A-Z]+)[0-9]+"(?: t="inlineStr" s="[0-9]+"><is><t xml:space="preserve">(.*?)</t>'
    r"</is>|><v>(-?[0-9]+)</v>)</c>",
    re.S,
)
_UNESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&"))


def _unescape(text: str) -> str:
    if "&" in text:
        for entity, char in _UNESCAPES:
            text = text.replace(entity, char)
    return text


class WrittenWorkbook:
    """A workbook that :func:`write_sheets` wrote (a stored export), read back a row at a
    time: its exact XML (inline strings, whole numbers) is matched by two expressions, many
    times faster than an XML parser and in constant memory. Not for anyone else's file:
    uploads go through the tolerant reader (``reader.py``)."""

    def __init__(self, stream):
        import zipfile

        self.zip = zipfile.ZipFile(stream)
        workbook = self.zip.read("xl/workbook.xml").decode("utf-8")
        self.parts = {
            _unescape(name): f"xl/worksheets/sheet{rid}.xml"
            for name, rid in _SHEET_TAB.findall(workbook)
        }

    @property
    def sheet_names(self) -> list[str]:
        return list(self.parts)

    def rows(self, sheet: str):
        """The sheet's rows, the header first: lists of text (as written before
        :func:`safe_cell`'s quote, which stays) and ``int``s."""
        import codecs

        decoder = codecs.getincrementaldecoder("utf-8")()
        pending = ""
        with self.zip.open(self.parts[sheet]) as xml:
            while True:
                chunk = xml.read(1 << 20)
                pending += decoder.decode(chunk, final=not chunk)
                cut = pending.rfind(_ROW_END) + len(_ROW_END) if chunk else len(pending)
                if cut < len(_ROW_END) and chunk:
                    continue
                complete, pending = pending[:cut], pending[cut:]
                for row in complete.split(_ROW_END):
                    start = row.find("<row ")
                    if start < 0:
                        continue
                    cells = {}
                    for column, text, number in _CELL.findall(row, start):
                        index = column_index_from_string(column) - 1
                        cells[index] = int(number) if number else _unescape(text)
                    yield [cells.get(i, "") for i in range(max(cells, default=-1) + 1)]
                if not chunk:
                    return
