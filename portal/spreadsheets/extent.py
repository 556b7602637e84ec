"""A worksheet's real extent, learned from its XML before any reader allocates a dense range.

python-calamine turns a sheet into one dense ``rows x columns`` array of 32-byte cells,
sized by the outermost cells that carry a value. One cell at ``XFD1048576`` is 2^34 cells
(512 GiB: the allocation fails and the process aborts with SIGABRT); one empty-text cell at
row 1,048,576 under a 11-column header is 11.5 M cells (370 MB) for a 2 KB file. So before
calamine reads an ``.xlsx`` sheet, :func:`check_xlsx_sheet` streams the sheet's XML from the
zip (bounded chunks, nothing unpacked to disk) and looks at the cell references:

* fast pass (C-speed regexes): the rows and columns of every cell that calamine keeps (a
  ``<v>`` or ``<is>`` child) and how many there are;
* when that extent is absurd (wider than ``max_columns``, or far larger than the cells in
  it), a detailed pass tells data from blank text: blank cells are not data, and a copy of
  the workbook without them is read instead (trimmed); a value far out is refused with its
  row and column (:class:`~.files.FileRejected` ``sheet_too_wide`` / ``sheet_too_sparse``).

Cells without a value (``<c r="XFD1048576" s="1"/>``) cost calamine nothing and are ignored.
No Django here; limits are arguments (like ``inspect_upload``).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .files import FileRejected

__all__ = ["SheetExtent", "cell_name", "check_xlsx_sheet", "is_absurd", "sheet_part"]

CHUNK = 4 * 1024 * 1024
# A sheet whose XML is smaller than this is scanned before calamine opens it; a larger one
# while calamine parses it (calamine releases the GIL; the scan is done before any row is
# read, and the memory limit of the reader's process covers the parse meanwhile).
EAGER_SCAN_BYTES = 8 * 1024 * 1024
MAX_ROW_CARRY = 64 * 1024 * 1024
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384

_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


@dataclass
class SheetExtent:
    """1-based bounds of the cells calamine keeps (``cells`` of them); 0 when none."""

    first_row: int = 0
    last_row: int = 0
    first_column: int = 0
    last_column: int = 0
    cells: int = 0

    @property
    def dense_cells(self) -> int:
        if not self.cells:
            return 0
        return (self.last_row - self.first_row + 1) * (self.last_column - self.first_column + 1)

    def add(self, row: int, column: int) -> None:
        if not self.cells:
            self.first_row = self.last_row = row
            self.first_column = self.last_column = column
        else:
            self.first_row = min(self.first_row, row)
            self.last_row = max(self.last_row, row)
            self.first_column = min(self.first_column, column)
            self.last_column = max(self.last_column, column)
        self.cells += 1

    def merge(self, other: SheetExtent) -> None:
        if other.cells:
            self.add(other.first_row, other.first_column)
            self.add(other.last_row, other.last_column)
            self.cells += other.cells - 2


def column_number(letters: bytes | str) -> int:
    n = 0
    for ch in letters if isinstance(letters, str) else letters.decode("ascii"):
        n = n * 26 + (ord(ch) - 64)
    return n


def column_name(number: int) -> str:
    letters = ""
    while number:
        number, rem = divmod(number - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_name(row: int, column: int) -> str:
    return f"{column_name(column)}{row}"


# -- which part holds the sheet ---------------------------------------------------------

_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b([^>]*?)/?>")
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*?)/?>")
_ATTR = re.compile(rb'([\w:]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')


def _attrs(raw: bytes) -> dict[bytes, str]:
    return {
        m[1]: html.unescape((m[2] or m[3] or b"").decode("utf-8", "replace"))
        for m in _ATTR.finditer(raw)
    }


def _read_small(zf: zipfile.ZipFile, name: str, limit: int = 4 * 1024 * 1024) -> bytes:
    with zf.open(name) as fh:
        return fh.read(limit)


def sheet_part(zf: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member of the worksheet named ``sheet_name`` (workbook.xml + its rels)."""
    names = {n.lower(): n for n in zf.namelist()}
    workbook = names.get("xl/workbook.xml")
    rels = names.get("xl/_rels/workbook.xml.rels")
    if workbook is None or rels is None:
        return None
    rid = None
    for m in _SHEET_TAG.finditer(_read_small(zf, workbook)):
        attrs = _attrs(m[1])
        if attrs.get(b"name") == sheet_name:
            rid = next((v for k, v in attrs.items() if k.endswith(b":id") or k == b"id"), None)
            break
    if rid is None:
        return None
    for m in _REL_TAG.finditer(_read_small(zf, rels)):
        attrs = _attrs(m[1])
        if attrs.get(b"Id") == rid:
            target = attrs.get(b"Target", "")
            if target.startswith("/"):
                path = target.lstrip("/")
            else:
                path = str(PurePosixPath("xl") / target)
            parts: list[str] = []
            for piece in path.split("/"):
                if piece == "..":
                    if parts:
                        parts.pop()
                elif piece not in ("", "."):
                    parts.append(piece)
            return names.get("/".join(parts).lower())
    return None


# -- scanning ---------------------------------------------------------------------------


def _chunks(zf: zipfile.ZipFile, part: str, boundary: bytes):
    """The sheet XML in pieces that end just before a ``boundary`` tag (a row start)."""
    carry = b""
    with zf.open(part) as fh:
        while True:
            data = fh.read(CHUNK)
            if not data:
                break
            buf = carry + data
            cut = buf.rfind(boundary)
            if cut <= 0:
                if len(buf) > MAX_ROW_CARRY:
                    raise FileRejected(
                        "sheet_too_large", "工作表中单行内容过大（超过 64 MB），无法读取"
                    )
                carry = buf
                continue
            carry = buf[cut:]
            yield buf[:cut]
    if carry:
        yield carry


def _prefix(zf: zipfile.ZipFile, part: str) -> bytes:
    """The namespace prefix of the sheet's elements (``b"x:"`` in some .NET files)."""
    with zf.open(part) as fh:
        head = fh.read(64 * 1024)
    m = re.search(rb"<(\w+:)?worksheet\b", head)
    return (m[1] or b"") if m else b""


def fast_extent(zf: zipfile.ZipFile, part: str) -> tuple[SheetExtent, bool]:
    """Extent of the kept cells from their ``r`` references; ``exact`` is False when some
    cell has no leading ``r`` (position by counting) and the detailed pass must decide."""
    p = re.escape(_prefix(zf, part))
    kept = re.compile(
        rb"<" + p + rb'c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*>\s*'
        rb"(?:<" + p + rb"f\b[^>]*/>\s*|<" + p + rb"f\b[^>]*>[^<]*</" + p + rb"f>\s*)?"
        rb"<" + p + rb"(?:v|is)\b"
    )
    odd = re.compile(rb"<" + p + rb'c\b(?! r="[A-Z])')
    extent = SheetExtent()
    exact = True
    for chunk in _chunks(zf, part, b"<" + _prefix(zf, part) + b"row"):
        refs = kept.findall(chunk)
        if odd.search(chunk):
            exact = False
        if not refs:
            continue
        cols = {c for c, _r in refs}
        rows = {r for _c, r in refs}
        numbers = [column_number(c) for c in cols]
        row_numbers = [int(r) for r in rows]
        part_extent = SheetExtent(
            min(row_numbers), max(row_numbers), min(numbers), max(numbers), len(refs)
        )
        extent.merge(part_extent)
    return extent, exact


_CELL_OR_ROW = (
    rb"<P(row)\b([^>]*)>"  # 1, 2
    rb"|<Pc\b([^>]*?)(?:/>|>(.*?)</Pc>)"  # 3, 4
)
_V = rb"<Pv(?:\s[^>]*)?>([^<]*)</Pv>"
_T = rb"<Pt(?:\s[^>]*)?>([^<]*)</Pt>"
_IS = rb"<Pis\b"
_R_ATTR = re.compile(rb'\br="([A-Z]{1,3})?([0-9]{1,7})"')
_T_ATTR = re.compile(rb'\bt="(\w+)"')


class _Detail:
    """Per-cell pass (only for sheets whose fast extent is absurd): data vs blank cells."""

    def __init__(self, zf: zipfile.ZipFile, part: str) -> None:
        self.zf, self.part = zf, part
        self.prefix = _prefix(zf, part)
        p = re.escape(self.prefix)
        self.cell_or_row = re.compile(_CELL_OR_ROW.replace(b"P", p), re.S)
        self.v = re.compile(_V.replace(b"P", p))
        self.t = re.compile(_T.replace(b"P", p))
        self.is_ = re.compile(_IS.replace(b"P", p))
        self.blank_strings = _blank_shared_strings(zf)
        self.data = SheetExtent()
        self.blank = 0
        self.row = 0
        self.column = 0
        self.far: tuple[int, int] | None = None

    def kind(self, attrs: bytes, body: bytes | None) -> str:
        """'data', 'blank' (kept by calamine, no text) or 'none' (no value)."""
        if not body:
            return "none"
        tm = _T_ATTR.search(attrs)
        t = tm[1] if tm else b"n"
        vm = self.v.search(body)
        if vm is not None:
            text = vm[1]
            if t == b"s":
                try:
                    return "blank" if int(text) in self.blank_strings else "data"
                except ValueError:
                    return "data"
            return "data" if html.unescape(text.decode("utf-8", "replace")).strip() else "blank"
        if self.is_.search(body):
            text = b"".join(self.t.findall(body))
            return "data" if html.unescape(text.decode("utf-8", "replace")).strip() else "blank"
        return "none"

    def visit(self, m: re.Match) -> tuple[str, int, int]:
        if m[1]:  # a row
            rm = _R_ATTR.search(m[2])
            self.row = int(rm[2]) if rm and rm[1] is None else self.row + 1
            self.column = 0
            return "row", self.row, 0
        attrs = m[3]
        rm = _R_ATTR.search(attrs)
        if rm and rm[1]:
            self.column = column_number(rm[1])
            row = int(rm[2])
        else:
            self.column += 1
            row = self.row
        return self.kind(attrs, m[4]), row, self.column

    def scan(self) -> None:
        for chunk in _chunks(self.zf, self.part, b"<" + self.prefix + b"row"):
            for m in self.cell_or_row.finditer(chunk):
                kind, row, column = self.visit(m)
                if kind == "data":
                    self.data.add(row, column)
                elif kind == "blank":
                    self.blank += 1

    def write_trimmed(self, src: zipfile.ZipFile, dst: zipfile.ZipFile) -> None:
        """The same workbook without blank cells (each becomes a value-less ``<c/>``, so
        the positions of cells without ``r`` do not shift)."""
        self.row = self.column = 0

        def replace(m: re.Match) -> bytes:
            kind, row, column = self.visit(m)
            if kind != "blank":
                return m[0]
            rm = _R_ATTR.search(m[3])
            ref = b' r="' + rm[0][3:-1] + b'"' if rm and rm[1] else b""
            return b"<" + self.prefix + b"c" + ref + b"/>"

        for info in src.infolist():
            if info.filename == self.part:
                with dst.open(info.filename, "w", force_zip64=True) as out:
                    for chunk in _chunks(src, self.part, b"<" + self.prefix + b"row"):
                        out.write(self.cell_or_row.sub(replace, chunk))
            else:
                with src.open(info) as fin, dst.open(info.filename, "w", force_zip64=True) as out:
                    shutil.copyfileobj(fin, out, CHUNK)


def _blank_shared_strings(zf: zipfile.ZipFile) -> set[int]:
    names = {n.lower(): n for n in zf.namelist()}
    name = names.get("xl/sharedstrings.xml")
    if name is None:
        return set()
    p = re.escape(_prefix_of(zf, name, b"sst"))
    si = re.compile(rb"<" + p + rb"si\b[^>]*?(?:/>|>(.*?)</" + p + rb"si>)", re.S)
    t = re.compile(rb"<" + p + rb"t(?:\s[^>]*)?>([^<]*)</" + p + rb"t>")
    blank: set[int] = set()
    index = 0
    for chunk in _chunks(zf, name, b"<" + _prefix_of(zf, name, b"sst") + b"si"):
        for m in si.finditer(chunk):
            text = b"".join(t.findall(m[1] or b""))
            if not html.unescape(text.decode("utf-8", "replace")).strip():
                blank.add(index)
            index += 1
    return blank


def _prefix_of(zf: zipfile.ZipFile, name: str, root: bytes) -> bytes:
    with zf.open(name) as fh:
        head = fh.read(64 * 1024)
    m = re.search(rb"<(\w+:)?" + root + rb"\b", head)
    return (m[1] or b"") if m else b""


# -- the verdict ------------------------------------------------------------------------


def is_absurd(
    extent: SheetExtent,
    *,
    max_columns: int,
    max_dense_cells: int,
    sparse_floor: int,
    sparse_ratio: int,
) -> bool:
    dense = extent.dense_cells
    if extent.last_column > max_columns or dense > max_dense_cells:
        return True
    return dense > sparse_floor and dense > sparse_ratio * extent.cells


def check_xlsx_sheet(
    path: str | os.PathLike[str],
    sheet_name: str,
    *,
    max_columns: int = 1024,
    max_dense_cells: int = 30_000_000,
    sparse_floor: int = 1_000_000,
    sparse_ratio: int = 20,
    scratch_dir: str | os.PathLike[str] | None = None,
) -> tuple[SheetExtent, Path | None]:
    """Learn the sheet's extent; refuse an absurd one, or trim blank cells.

    Returns ``(extent, trimmed)``: ``trimmed`` is a copy of the workbook without blank
    cells to read instead (the caller deletes it), or None when the file is fine as it is.
    Absurd: a kept cell right of column ``max_columns``, more than ``max_dense_cells`` in
    the dense range, or a range of more than ``sparse_floor`` cells that is more than
    ``sparse_ratio`` times the cells in it. Raises FileRejected ``sheet_too_wide``,
    ``sheet_too_sparse``, ``sheet_too_large``.
    """
    limits = {
        "max_columns": max_columns,
        "max_dense_cells": max_dense_cells,
        "sparse_floor": sparse_floor,
        "sparse_ratio": sparse_ratio,
    }
    with zipfile.ZipFile(path) as zf:
        part = sheet_part(zf, sheet_name)
        if part is None:
            return SheetExtent(), None
        extent, exact = fast_extent(zf, part)
        if exact and not is_absurd(extent, **limits):
            return extent, None
        detail = _Detail(zf, part)
        detail.scan()
        data = detail.data
        if is_absurd(data, **limits):
            raise _refusal(data, detail, **limits)
        if not exact and not detail.blank:
            return data, None
        if not detail.blank:
            return data, None
        fd, name = tempfile.mkstemp(suffix=".xlsx", dir=scratch_dir)
        os.close(fd)
        try:
            with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
                detail.write_trimmed(zf, dst)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return data, Path(name)


def _refusal(
    data: SheetExtent, detail: _Detail, *, max_columns, max_dense_cells, sparse_floor, sparse_ratio
) -> FileRejected:
    far = _far_cell(detail, data, max_columns)
    where = f"第 {far[0]} 行第 {column_name(far[1])} 列" if far else "工作表末尾"
    first = cell_name(data.first_row, data.first_column)
    area = f"{first}:{cell_name(data.last_row, data.last_column)}"
    if data.last_column > max_columns:
        return FileRejected(
            "sheet_too_wide",
            f"{where}（第 {far[1] if far else data.last_column} 列）有数据，超出可读取的前 "
            f"{max_columns} 列（{column_name(max_columns)} 列）的范围。请删除多余的列后重新上传",
        )
    if data.dense_cells > max_dense_cells:
        return FileRejected(
            "sheet_too_large",
            f"工作表数据区域 {area} 共 {data.dense_cells:,} 个单元格，超过上限 "
            f"{max_dense_cells:,} 个，请拆分为多个文件后分批上传",
        )
    return FileRejected(
        "sheet_too_sparse",
        f"{where}有数据，超出表格其余数据的范围：数据区域 {area} 共 {data.dense_cells:,} 个"
        f"单元格，其中有内容的只有 {data.cells:,} 个。请删除远离表格的单元格（或其所在的行、列）"
        "后重新上传",
    )


def _far_cell(detail: _Detail, data: SheetExtent, max_columns: int) -> tuple[int, int] | None:
    """The first data cell in the outermost column (too wide) or row (too sparse)."""
    wide = data.last_column > max_columns
    detail.row = detail.column = 0
    for chunk in _chunks(detail.zf, detail.part, b"<" + detail.prefix + b"row"):
        for m in detail.cell_or_row.finditer(chunk):
            kind, row, column = detail.visit(m)
            if kind != "data":
                continue
            if (wide and column > max_columns) or (not wide and row == data.last_row):
                return row, column
    return None
