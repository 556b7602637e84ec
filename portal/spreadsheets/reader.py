"""Read spreadsheet rows as text: tolerant in form, strict in meaning (docs: forms.md intro).

Pipeline for an upload::

    fmt = inspect_upload(path, original_name=name)          # files.py: hostile-file checks
    with read_rows(path, fmt) as sheet:                       # rows of str + Excel row numbers
        header = find_header(sheet, required=..., synonyms=...)   # headers.py
        for row in header.data_rows:                          # Row(number, cells)
            value = header.get(row.cells, "号码")

* ``.xlsx``/``.xls`` are read with python-calamine, first *visible* worksheet only; the other
  sheets are named in ``SheetData.warnings``. Calamine never evaluates formulas: a formula
  cell yields the value cached by the program that saved the file, and a formula without a
  cached value (files written by openpyxl and similar libraries) yields ``''`` -- the row
  validator then reports the cell as empty.
* ``.csv`` is streamed with the csv module; encoding is UTF-8 (with or without BOM) or
  GB18030, decided on the first MB; the delimiter (comma, tab, semicolon) is sniffed.
* Every cell becomes ``str`` (see :func:`cell_text`); blank rows are skipped; row numbers
  are the ones the user sees in Excel (for CSV: the record number).

Memory: calamine materialises the chosen sheet's cells in Rust (about 30-40 bytes per
non-empty cell); Python only ever holds the current row. CSV is streamed.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from os import PathLike
from pathlib import Path
from typing import NamedTuple

from python_calamine import CalamineWorkbook, PasswordError, SheetTypeEnum, SheetVisibleEnum

from . import extent as extents
from . import streaming
from .files import FileFormat, FileRejected

# Header matching lives in headers.py; named here too for the callers that read rows and
# match their header from one import.
from .headers import HeaderMap, column_letter, find_header, fold, normalize_header

__all__ = [
    "HeaderMap",
    "ReadLimits",
    "Row",
    "SheetData",
    "cell_text",
    "column_letter",
    "detect_csv_delimiter",
    "detect_csv_encoding",
    "find_header",
    "fold",
    "normalize_header",
    "parse_date",
    "parse_datetime",
    "read_csv_bytes",
    "read_rows",
]

CSV_SAMPLE_BYTES = 1024 * 1024
SNIFF_CHARS = 32 * 1024

# Excel keeps 15 significant digits: an integral float with 16+ digits may have had its tail
# replaced by zeros when it was typed, so it is never turned back into a digit string.
# (This is stricter than 2**53, the limit of exact integers in a double.)
EXACT_INT_LIMIT = 10**15


@dataclass(frozen=True)
class ReadLimits:
    """How much of a sheet the reader takes on (see extent.check_xlsx_sheet).

    ``max_columns``: cells right of it are refused (xlsx: they would cost a dense range)
    or dropped with a warning (CSV); the other three bound calamine's dense range.
    An xlsx sheet whose XML is larger than ``stream_bytes`` is read in pieces of about
    ``piece_bytes`` (streaming.py), so its rows flow from the first one on.
    """

    max_columns: int = 1024
    max_dense_cells: int = 30_000_000
    sparse_floor: int = 1_000_000
    sparse_ratio: int = 20
    stream_bytes: int = 8 * 1024 * 1024
    piece_bytes: int = 16 * 1024 * 1024


class Row(NamedTuple):
    number: int  # Excel row number (1-based) as the user sees it; CSV: record number
    cells: list[str]


# A plain ``(number, cells)`` pair as a Row, in C (a NamedTuple's own constructor is a Python
# function: 0.3 us a row). The readers make plain pairs, which the sandbox's child can
# marshal as they are; SheetData hands them on as Rows.
as_row = partial(tuple.__new__, Row)


# --------------------------------------------------------------------------------------
# Cell to text
# --------------------------------------------------------------------------------------


def _float_text(value: float) -> str:
    if value.is_integer():
        if -EXACT_INT_LIMIT < value < EXACT_INT_LIMIT:
            return str(int(value))
        # Digits may have been lost: return scientific notation, which no number parser
        # accepts as a phone number, e.g. 1.2345678901234567e+19.
        text = repr(value)
        if "e" in text:  # already scientific
            return text
        digits = text.split(".")[0].lstrip("-").rstrip("0")
        return f"{value:.{max(len(digits) - 1, 0)}e}"
    return repr(value)


def cell_text(value: object) -> str:
    """One calamine cell value as text.

    str -> stripped; integral float below 10**15 -> digits ('13800138000'); larger
    integral float -> scientific notation (digits lost, rejected downstream); other float ->
    repr; int -> digits; bool -> 'TRUE'/'FALSE'; date -> '2026-03-01'; datetime ->
    '2026-03-01 08:30:00'; time -> '08:30:00'; timedelta -> str(); None -> ''.
    """
    t = type(value)
    if t is str:
        return value.strip()  # type: ignore[union-attr]
    if t is float:
        return _float_text(value)  # type: ignore[arg-type]
    if t is bool:
        return "TRUE" if value else "FALSE"
    if t is int:
        return str(value)
    if t is dt.datetime:
        return value.isoformat(sep=" ", timespec="seconds")  # type: ignore[union-attr]
    if t is dt.date:
        return value.isoformat()  # type: ignore[union-attr]
    if t is dt.time:
        return value.isoformat(timespec="seconds")  # type: ignore[union-attr]
    if value is None:
        return ""
    return str(value).strip()


_strip = str.strip


def _row_texts(row: list) -> list[str]:
    # Hot loop. A row of text only (the common case) in C; any other cell raises TypeError
    # there, and the row is converted cell by cell.
    try:
        return list(map(_strip, row))
    except TypeError:
        return [c.strip() if type(c) is str else cell_text(c) for c in row]


# --------------------------------------------------------------------------------------
# SheetData
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class SheetData:
    """The rows of one sheet: iterate once to get :class:`Row` objects (blank rows skipped).

    ``warnings`` are user-facing Chinese notes (other sheets ignored, ...). Use as a context
    manager or call ``close()`` to release the file early.
    """

    format: FileFormat
    sheet_name: str | None
    warnings: list[str] = field(default_factory=list)
    encoding: str | None = None  # CSV only
    delimiter: str | None = None  # CSV only
    # Workbooks: the last used Excel row number (an upper bound for progress bars, counts
    # title and blank rows too). CSV: None (unknown without reading the file).
    total_rows: int | None = None
    # Plain (number, cells) pairs (see ``pairs``); the source is what ``close`` closes.
    _rows: Iterator[tuple[int, list[str]]] | None = field(default=None, repr=False)
    _source: object | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator[Row]:
        return map(as_row, self.pairs())

    def pairs(self) -> Iterator[tuple[int, list[str]]]:
        """The rows as plain ``(number, cells)`` tuples (what ``__iter__`` makes Rows of)."""
        if self._rows is None:
            raise RuntimeError("SheetData can be iterated only once")
        rows, self._rows = self._rows, None
        return rows

    def close(self) -> None:
        """Release the file (CSV handle / calamine sheet) even if not fully iterated."""
        self._rows = None
        source, self._source = self._source, None
        close = getattr(source, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> SheetData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_rows(
    path: str | PathLike[str], fmt: FileFormat, *, limits: ReadLimits | None = None
) -> SheetData:
    """Open an inspected upload and return its rows as text (see module docstring).

    Raises FileRejected: ``empty_sheet`` (no non-blank row), ``no_visible_sheet``,
    ``macro`` (Excel 4.0 macro sheet), ``encrypted``, ``corrupt``, ``sheet_too_wide``,
    ``sheet_too_sparse``, ``sheet_too_large`` (extent.py); while iterating a CSV:
    ``bad_encoding``, ``bad_csv``.

    This runs the parser in the calling process: import code calls it through
    ``sandbox.read_rows_isolated``, in a child process with a memory limit.
    """
    fmt = FileFormat(fmt)
    limits = limits or ReadLimits()
    if fmt is FileFormat.CSV:
        return _read_csv(path, limits)
    return _read_workbook(path, fmt, limits)


def _peeked(data: SheetData, rows: Iterator[Row], empty_message: str) -> SheetData:
    """Fail early on an empty sheet: pull the first non-blank row, then put it back."""
    try:
        first = next(rows)
    except StopIteration:
        raise FileRejected("empty_sheet", empty_message) from None
    data._rows = chain((first,), rows)
    data._source = rows
    return data


# -- workbooks -------------------------------------------------------------------------


def _unreadable(exc: BaseException) -> FileRejected:
    if isinstance(exc, PasswordError):
        return FileRejected("encrypted", "文件已加密，请取消密码保护后重新上传")
    return FileRejected(
        "corrupt", "文件已损坏或格式不完整，无法读取，请在 Excel 中打开确认后重新保存再上传"
    )


def _extent_limits(limits: ReadLimits) -> dict:
    return {
        "max_columns": limits.max_columns,
        "max_dense_cells": limits.max_dense_cells,
        "sparse_floor": limits.sparse_floor,
        "sparse_ratio": limits.sparse_ratio,
    }


def _sheet_xml(path, name: str) -> tuple[str | None, int | None]:
    """The zip member of sheet ``name`` and its unpacked size (None, None: unknown)."""
    try:
        with zipfile.ZipFile(path) as zf:
            part = extents.sheet_part(zf, name)
            return (part, zf.getinfo(part).file_size) if part else (None, None)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, zlib.error):
        return None, None


def _pieces(path, part: str, name: str, index: int, limits: ReadLimits):
    """The sheet read in pieces (streaming.py), or None when it cannot be."""
    pieces = streaming.SheetPieces(
        path,
        part=part,
        name=name,
        index=index,
        limits=_extent_limits(limits),
        piece_bytes=limits.piece_bytes,
    )
    try:
        pieces.head()
    except streaming.NotPieceable:
        return None
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException:  # noqa: BLE001 - the whole-sheet read says what is wrong
        return None
    return pieces


def _piece_rows(pieces) -> Iterator[tuple[int, list[str]]]:
    # A piece's rows are as wide as that piece's range: padded to the widest row so far
    # (the header's, as a whole-sheet read would give them), so a form that indexes cells
    # by the header's positions finds every one.
    width = 0
    try:
        for number, raw in pieces.rows():
            cells = _row_texts(raw)
            if any(cells):
                n = len(cells)
                if n < width:
                    cells += [""] * (width - n)
                else:
                    width = n
                yield number, cells
    except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError, FileRejected):
        raise
    except BaseException as exc:  # noqa: BLE001 - includes pyo3's PanicException
        raise _unreadable(exc) from None


class _Check(threading.Thread):
    """extent.check_xlsx_sheet on a thread: python-calamine releases the GIL while it
    parses, so a large sheet is scanned meanwhile at no cost in time."""

    def __init__(self, path, name: str, limits: ReadLimits) -> None:
        super().__init__(name="extent-check", daemon=True)
        self.args_ = (path, name, limits)
        self.result: tuple | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        path, name, limits = self.args_
        try:
            self.result = extents.check_xlsx_sheet(path, name, **_extent_limits(limits))
        except BaseException as exc:  # noqa: BLE001 - re-raised by the reading thread
            self.error = exc

    def outcome(self) -> Path | None:
        if self.ident is not None:  # started as a thread (else run() ran in line)
            self.join()
        if self.error is not None:
            if isinstance(self.error, FileRejected | MemoryError):
                raise self.error
            raise _unreadable(self.error) from None
        return self.result[1] if self.result else None


def check_workbook_extent(
    path: str | PathLike[str], fmt: FileFormat, *, limits: ReadLimits | None = None
) -> None:
    """Only the extent check of the sheet read_rows would read (raises FileRejected);
    explains why a reader died."""
    if FileFormat(fmt) is not FileFormat.XLSX:
        return
    try:
        wb = CalamineWorkbook.from_path(str(path))
        metas = list(wb.sheets_metadata)
    except BaseException:  # noqa: BLE001
        return
    chosen = next(
        (
            m.name
            for m in metas
            if m.visible == SheetVisibleEnum.Visible and m.typ == SheetTypeEnum.WorkSheet
        ),
        None,
    )
    if chosen is not None:
        _, trimmed = extents.check_xlsx_sheet(
            path, chosen, **_extent_limits(limits or ReadLimits())
        )
        if trimmed is not None:
            trimmed.unlink(missing_ok=True)


def _read_workbook(path: str | PathLike[str], fmt: FileFormat, limits: ReadLimits) -> SheetData:
    # from_path picks the parser by the file's extension (and reads lazily); when the stored
    # file's name does not end with the checked format's extension, from_filelike sniffs
    # the content instead (it copies the file into memory, <= the upload limit).
    try:
        if str(path).lower().endswith("." + fmt.value):
            wb = CalamineWorkbook.from_path(str(path))
        else:
            with open(path, "rb") as fh:
                wb = CalamineWorkbook.from_filelike(fh)
        metas = list(wb.sheets_metadata)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as exc:  # noqa: BLE001 - includes pyo3's PanicException
        raise _unreadable(exc) from None

    if any(m.typ == SheetTypeEnum.MacroSheet for m in metas):
        raise FileRejected(
            "macro",
            "文件包含宏表（Excel 4.0 宏），出于安全原因拒绝接收，请另存为不含宏的 .xlsx 后上传",
        )
    chosen = next(
        (
            i
            for i, m in enumerate(metas)
            if m.visible == SheetVisibleEnum.Visible and m.typ == SheetTypeEnum.WorkSheet
        ),
        None,
    )
    if chosen is None:
        raise FileRejected("no_visible_sheet", "工作簿中没有可见的工作表，请取消隐藏后重新上传")
    name = metas[chosen].name

    warnings = []
    others = [
        m.name + ("（隐藏）" if m.visible != SheetVisibleEnum.Visible else "")
        for i, m in enumerate(metas)
        if i != chosen
    ]
    if others:
        warnings.append(f"只读取第一个可见工作表“{name}”，已忽略其他工作表：{'、'.join(others)}")

    empty = f"工作表“{name}”为空（只读取第一个可见工作表）"
    # The sheet's real extent, before calamine allocates its dense range (extent.py).
    check: _Check | None = None
    trimmed: Path | None = None
    if fmt is FileFormat.XLSX:
        part, size = _sheet_xml(path, name)
        if part is not None and size is not None and size > limits.stream_bytes:
            pieces = _pieces(path, part, name, chosen, limits)
            if pieces is not None:  # a large sheet: in pieces, checked piece by piece
                wb.close()
                data = SheetData(
                    format=fmt, sheet_name=name, warnings=warnings, total_rows=pieces.total_rows
                )
                return _peeked(data, _piece_rows(pieces), empty)
        check = _Check(path, name, limits)
        if size is None or size <= extents.EAGER_SCAN_BYTES:
            check.run()
            trimmed = check.outcome()
            check = None
        else:
            check.start()
    try:
        try:
            if trimmed is not None:  # blank cells far out: read the copy without them
                wb.close()
                wb = CalamineWorkbook.from_path(str(trimmed))
            sheet = wb.get_sheet_by_index(chosen)
            start, end = sheet.start, sheet.end
            wb.close()  # the sheet keeps its own copy of the cells
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except BaseException as exc:  # noqa: BLE001
            if check is not None:
                check.outcome()  # its refusal explains the failure better
            raise _unreadable(exc) from None
        if check is not None:
            trimmed = check.outcome()
            if trimmed is not None:
                del sheet
                wb = CalamineWorkbook.from_path(str(trimmed))
                sheet = wb.get_sheet_by_index(chosen)
                start, end = sheet.start, sheet.end
                wb.close()
    finally:
        if trimmed is not None:
            trimmed.unlink(missing_ok=True)

    total = end[0] + 1 if end is not None else 0
    data = SheetData(format=fmt, sheet_name=name, warnings=warnings, total_rows=total)
    if start is None:  # iter_rows() panics on an empty range
        raise FileRejected("empty_sheet", empty)
    return _peeked(data, _workbook_rows(sheet, start[1]), empty)


def _workbook_rows(sheet, col_offset: int) -> Iterator[tuple[int, list[str]]]:
    # python-calamine's iter_rows() yields absolute rows from row 0 (padding the rows above
    # the data with empty rows) but columns relative to the first used column: pad those so
    # cell indexes are absolute Excel columns.
    pad = [""] * col_offset
    number = 0
    try:
        for raw in sheet.iter_rows():
            number += 1
            cells = _row_texts(raw)
            if any(cells):
                yield number, (pad + cells if col_offset else cells)
    except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except BaseException as exc:  # noqa: BLE001
        raise _unreadable(exc) from None


# -- CSV -------------------------------------------------------------------------------


def detect_csv_encoding(sample: bytes, *, at_eof: bool) -> str:
    """UTF-8 with BOM, UTF-16 with BOM, UTF-8, else GB18030 (decided on ``sample``)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith(codecs.BOM_UTF16_LE) or sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    try:
        # final=False tolerates a multibyte character cut at the end of the sample
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=at_eof)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


_QUOTED = re.compile(r'"[^"]*"')
_DELIMITERS = (",", "\t", ";")


def detect_csv_delimiter(sample: str) -> str:
    """Comma, tab or semicolon: csv.Sniffer on a sample, cross-checked against how many of
    the first lines contain each candidate outside quotes (title rows above the header
    often contain none); falls back to comma."""
    if len(sample) >= SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    lines = [_QUOTED.sub("", ln) for ln in sample.splitlines() if ln.strip()][:20]
    support = {d: sum(1 for ln in lines if d in ln) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: support[d])  # ties: first in _DELIMITERS
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed in support and support[sniffed] and support[sniffed] >= support[best]:
        return sniffed
    return best if support[best] else ","


def _read_csv(path: str | PathLike[str], limits: ReadLimits) -> SheetData:
    with open(path, "rb") as fh:
        raw = fh.read(CSV_SAMPLE_BYTES)
        at_eof = not fh.read(1)
    encoding = detect_csv_encoding(raw, at_eof=at_eof)
    sample = codecs.getincrementaldecoder(encoding)(errors="replace").decode(
        raw[: SNIFF_CHARS * 4], final=False
    )[:SNIFF_CHARS]
    delimiter = detect_csv_delimiter(sample)
    data = SheetData(format=FileFormat.CSV, sheet_name=None, encoding=encoding, delimiter=delimiter)
    rows = _csv_rows(path, encoding, delimiter, limits.max_columns, data.warnings)
    return _peeked(data, rows, "CSV 文件中没有数据（工作表为空）")


def _csv_rows(
    path: str | PathLike[str], encoding: str, delimiter: str, max_columns: int, warnings: list
) -> Iterator[tuple[int, list[str]]]:
    with open(path, encoding=encoding, newline="") as fh:
        yield from _csv_records(fh, encoding, delimiter, max_columns, warnings)


def _csv_records(
    lines: Iterable[str], encoding: str, delimiter: str, max_columns: int, warnings: list
) -> Iterator[tuple[int, list[str]]]:
    number = 0
    dropped = False
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        for number, raw in enumerate(reader, 1):  # noqa: B007 - number used in except
            if len(raw) > max_columns:
                # Bounded width: a 100,000-column line costs one list, never a report.
                if not dropped and any(c.strip() for c in raw[max_columns:]):
                    dropped = True
                    warnings.append(
                        f"只读取前 {max_columns} 列：第 {number} 行等行在第 {max_columns} "
                        "列之后的内容已忽略"
                    )
                raw = raw[:max_columns]
            cells = [c.strip() for c in raw]
            if any(cells):
                yield number, cells
    except UnicodeDecodeError:
        raise FileRejected(
            "bad_encoding",
            f"CSV 文件第 {number + 1} 行附近的字符无法按 {_ENCODING_LABELS[encoding]} "
            "解码，请将文件另存为 UTF-8 或 GB18030（GBK）编码后重新上传",
        ) from None
    except csv.Error as exc:
        raise FileRejected(
            "bad_csv",
            f"CSV 文件第 {number + 1} 行格式错误（{exc}），请检查引号是否成对，"
            "或在 Excel 中另存为 .xlsx 后上传",
        ) from None


def read_csv_bytes(data: bytes, *, max_columns: int = ReadLimits.max_columns) -> list[Row]:
    """A small CSV already in memory (the calendar upload), read like an uploaded one:
    the same encodings (UTF-8, BOM, GB18030), delimiters, width bound and messages."""
    encoding = detect_csv_encoding(data, at_eof=True)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise FileRejected(
            "bad_encoding",
            f"CSV 文件无法按 {_ENCODING_LABELS[encoding]} 解码，"
            "请将文件另存为 UTF-8 或 GB18030（GBK）编码后重新上传",
        ) from None
    delimiter = detect_csv_delimiter(text[:SNIFF_CHARS])
    records = _csv_records(io.StringIO(text, newline=""), encoding, delimiter, max_columns, [])
    return list(map(as_row, records))


_ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "gb18030": "GB18030",
}


# --------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------

_TIME = r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?"
_DATE_SEP = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _TIME + "$")
_DATE_CN = re.compile(
    r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?"
    r"(?:(\d{1,2})[:时点](\d{1,2})(?:[:分](\d{1,2})秒?)?分?)?$"
)
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})" + _TIME + "$")
_SERIAL = re.compile(r"^(\d{5})(?:\.(\d+))?$")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # noqa: DTZ001 - naive: spreadsheet local time


def _unrecognised(text: str) -> ValueError:
    return ValueError(f"日期格式无法识别：{text}")


def _excel_serial(text: str, whole: str, frac: str | None) -> dt.datetime:
    """Excel 1900 date system, with its fake 1900-02-29 (serial 60).

    Only 5-digit serials (1927-05-18 .. 2173-10-14) are accepted: a shorter number such as
    '2026' is far more likely a mistyped year than a date in 1905.
    """
    serial = int(whole)
    if serial == 60:
        raise _unrecognised(text)
    if serial < 60:
        serial += 1
    fraction = float("0." + frac) if frac else 0.0
    seconds = round(fraction * 86400)
    return _EXCEL_EPOCH + dt.timedelta(days=serial, seconds=seconds)


def parse_datetime(text: str) -> dt.datetime:
    """A date or date-time as written in a cell; time defaults to 00:00 (naive, local).

    Accepts '2026-03-01', '2026/3/1', '2026.3.1', '2026年3月1日', '20260301', any of those
    followed by a time ('2026-03-01 08:30', '2026/3/1 8:30:15', '2026年3月1日8时30分'), ISO
    8601 ('2026-03-01T08:30:00+08:00': the offset is dropped, the wall time kept) and Excel
    serial numbers ('46082', '46082.5'). Raises ValueError with a Chinese message.
    """
    original = text
    s = unicodedata.normalize("NFKC", str(text)).strip()
    if not s:
        raise ValueError("日期为空")
    s_compact = "".join(s.split())
    try:
        m = _DATE_SEP.match(s)
        if m:
            y, _sep, mo, d, hh, mi, ss, us = m.groups()
            return _build(y, mo, d, hh, mi, ss, us)
        m = _DATE_CN.match(s_compact)
        if m:
            y, mo, d, hh, mi, ss = m.groups()
            return _build(y, mo, d, hh, mi, ss, None)
        m = _DATE_COMPACT.match(s)
        if m:
            return _build(*m.groups())
        m = _SERIAL.match(s)
        if m:
            return _excel_serial(original, m.group(1), m.group(2))
        return dt.datetime.fromisoformat(s).replace(tzinfo=None)
    except _NoSuchDay:
        raise
    except (ValueError, OverflowError):
        raise _unrecognised(original) from None


class _NoSuchDay(ValueError):
    """Well written, but the day does not exist (2026-02-30): said as such."""


def _build(y, mo, d, hh, mi, ss, us) -> dt.datetime:
    micro = int(us.ljust(6, "0")) if us else 0
    try:
        return dt.datetime(  # noqa: DTZ001 - naive: spreadsheet local time
            int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), micro
        )
    except ValueError:
        # Imported here, on the error path only: the reader (and its child process) stays
        # free of Django on the way in.
        from portal.workdays import no_such_day

        problem = no_such_day(int(y), int(mo), int(d))
        if problem:
            raise _NoSuchDay(problem) from None
        raise


def parse_date(text: str) -> dt.date:
    """A date as written in a cell (any format of :func:`parse_datetime`; a time part is
    ignored). Raises ValueError "日期格式无法识别：…", or, for a well-written day that does
    not exist, "日期 2026-02-30 不存在：2026 年 2 月只有 28 天"."""
    return parse_datetime(text).date()
