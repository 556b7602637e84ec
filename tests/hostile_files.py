"""The hostile spreadsheets of issue 16 item 2, built in a few milliseconds each (the xlsx
XML is written by hand with zipfile, as a hostile tool would), and normal peers of a
similar size. Used by tests/registry/test_hostile_sheets.py and bench/hostile_files.py."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

FULL = [
    "号码",
    "号码类型",
    "所属主端口",
    "用途",
    "使用单位",
    "使用单位统一社会信用代码",
    "电信运营商",
    "委托书编号",
    "合作起始日期",
    "合作截止日期",
    "备注",
]

_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
    '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WB = (
    '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
    'main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="号码登记表" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WBR = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def _col(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def _row(number: int, values, extra: str = "") -> str:
    cells = "".join(_cell(f"{_col(i)}{number}", v) for i, v in enumerate(values, 1) if v != "")
    return f'<row r="{number}">{cells}{extra}</row>'


def write_sheet_xlsx(path: Path, rows_xml: str, dimension: str = "A1") -> Path:
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats'
        f'.org/spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{rows_xml}'
        "</sheetData></worksheet>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WBR)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def good_row(i: int) -> list[str]:
    return [f"1380013{i:04d}", "", "", "营销", "本机构", "", "中国移动", "", "2026-01-01", "", ""]


def bad_row(i: int) -> list[str]:
    return [f"1380013{i:04d}", "", "", "推广", "本机构", "", "中国移动", "", "2026-13-45", "", ""]


def far_value(path: Path) -> Path:
    """A header row plus one cell at XFD1048576 (python-calamine: 512 GiB, SIGABRT)."""
    return write_sheet_xlsx(
        path,
        _row(1, FULL) + f'<row r="1048576">{_cell("XFD1048576", "x")}</row>',
        dimension="A1:XFD1048576",
    )


def wide_bad_rows(path: Path, rows: int = 600) -> Path:
    """A few KB: a cell in column XFD and ``rows`` bad rows (was 51 s, 418 MB, a 27 MB
    error report)."""
    body = _row(1, FULL, _cell("XFD1", "x"))
    body += "".join(_row(i, bad_row(i)) for i in range(2, rows + 2))
    return write_sheet_xlsx(path, body)


def stray_empty_cell(path: Path, rows: int = 0) -> Path:
    """A header (and ``rows`` good rows) plus one empty-text cell at row 1,048,576 (was
    446 MB): calamine keeps an empty string as a value."""
    body = _row(1, FULL) + "".join(_row(i, good_row(i)) for i in range(2, rows + 2))
    body += '<row r="1048576"><c r="K1048576" t="inlineStr"><is><t></t></is></c></row>'
    return write_sheet_xlsx(path, body)


def normal_xlsx(path: Path, rows: int) -> Path:
    """A plain register of ``rows`` good rows, written the same way (a peer)."""
    body = _row(1, FULL) + "".join(_row(i, good_row(i)) for i in range(2, rows + 2))
    return write_sheet_xlsx(path, body)


def wide_csv(path: Path, columns: int = 100_000, rows: int = 20) -> Path:
    """A CSV with ``columns`` columns (the form's 11, then unknown ones) and bad rows (its
    error report crashed: ValueError: Invalid column index 18279)."""
    extra = columns - len(FULL)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(FULL + [f"列{i}" for i in range(extra)]) + "\n")
        for i in range(rows):
            fh.write(",".join(bad_row(i) + ["x"] * extra) + "\n")
    return path


def normal_csv(path: Path, size: int) -> Path:
    """A plain CSV register of about ``size`` bytes (a peer)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(FULL) + "\n")
        i = 0
        while fh.tell() < size:
            fh.write(",".join(good_row(i % 10000)) + "\n")
            i += 1
    return path
