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


# -- reading one file as the import does, in a process of its own -------------------------

REQUIRED = ["号码", "用途", "使用单位", "电信运营商", "合作起始日期"]
_MEASURE = """
import json, resource, sys, time
from pathlib import Path
from portal.spreadsheets import errors
from portal.spreadsheets.files import FileRejected, inspect_upload
from portal.spreadsheets.headers import find_header
from portal.spreadsheets.sandbox import read_rows_isolated

path, report = Path(sys.argv[1]), Path(sys.argv[2])
full, required = json.loads(sys.argv[3]), json.loads(sys.argv[4])
started = time.perf_counter()
outcome = {"code": None, "message": "", "rows": 0, "report": 0}
try:
    fmt = inspect_upload(path, original_name=path.name)
    with read_rows_isolated(path, fmt) as sheet:
        header = find_header(sheet, required=required, synonyms={}, optional=full)
        known = sorted(header.columns.values())
        outcome["rows"] = errors.write_error_workbook(
            report,
            headers=[header.headers[i] for i in known],
            rows=((r.number, [r.cells[i] if i < len(r.cells) else "" for i in known],
                   [("用途", "示例错误")]) for r in header.data_rows),
        )
    outcome["report"] = report.stat().st_size
except FileRejected as exc:
    outcome["code"], outcome["message"] = exc.code, exc.message
outcome["seconds"] = time.perf_counter() - started
# This process's own peak: ru_maxrss of RUSAGE_SELF keeps the peak of the process it was
# started from (Linux carries it across exec), i.e. the test runner's; VmHWM is this one's.
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as status:
        own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
kb = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
outcome["peak_mb"] = kb / 1024
print(json.dumps(outcome, ensure_ascii=False))
"""


def measure(path: Path, scratch: Path, *, timeout: float = 120) -> dict:
    """Inspect ``path``, read it through the contained reader (sandbox.py), find the header
    and write the error report of every row (the form's columns only), in a fresh process,
    as a worker would: its time, peak RSS (the reader's process included), report size and
    outcome (``code``: the refusal, or None). ``died``: the process's exit status when it
    did not survive, else None."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [
            sys.executable,
            "-c",
            _MEASURE,
            str(path),
            str(scratch / "report.xlsx"),
            json.dumps(FULL),
            json.dumps(REQUIRED),
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        return {
            "died": done.returncode,
            "stderr": done.stderr[-2000:],
            "code": None,
            "message": "",
            "rows": 0,
            "report": 0,
            "seconds": 0.0,
            "peak_mb": 0.0,
        }
    return {"died": None, **json.loads(done.stdout.strip().splitlines()[-1])}
