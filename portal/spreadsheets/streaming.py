"""A large ``.xlsx`` sheet read in pieces, so that its rows flow from the first one on.

python-calamine parses a whole sheet before it yields a row: for a 1M-row register that is
about 5 s during which the import, waiting for rows, does nothing. Here the sheet's XML is
streamed from the zip and cut at row starts into pieces; each piece becomes a small
workbook of its own (the file's workbook, relationships, styles and shared strings, and a
sheet holding only those rows) that calamine parses. Every cell is still read by
calamine (shared and inline strings, numbers, dates by the styles' number formats, the
1904 date system, booleans, errors, cached formula values), so a streamed read gives the
same rows as a whole-sheet read (tests/registry/test_reader.py compares them).

The extent rules of extent.py hold for the whole sheet: each piece is looked at before
calamine parses it (a cell right of ``max_columns``) and after (its dense range against
the cells in it), the pieces' ranges add up to the sheet's, and as soon as either looks
absurd the exact check (``extent.check_xlsx_sheet``) decides: a refusal, or, where the
far cells were blank, the rest is read from the copy without them. A piece costs at most
``piece_bytes`` of XML plus calamine's range of it. No Django here.
"""

from __future__ import annotations

import contextlib
import io
import queue
import re
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

from python_calamine import CalamineWorkbook

from . import extent as extents

__all__ = ["NotPieceable", "SheetPieces"]

# The first piece is small, so the first rows come at once; then pieces grow (x4) to
# ``piece_bytes`` (and to a few times the shared strings, which every piece parses again).
FIRST_PIECE_BYTES = 256 * 1024
READ_BYTES = 1024 * 1024
SHARED_STRINGS_FACTOR = 4
# The parts a piece's workbook keeps (lower-case names); the other sheets, drawings and
# media are left out.
_KEPT = ("[content_types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels")
_KEPT_PREFIXES = ("xl/styles", "xl/sharedstrings", "xl/theme/")


class NotPieceable(Exception):
    """The sheet's rows carry no ``r`` (position by counting): read it whole."""


class SheetPieces:
    """The rows of sheet ``index`` (zip member ``part``) as ``(row_number, cells)`` with
    cells as calamine gives them; see the module docstring. ``head()`` reads the sheet's
    start and raises :class:`NotPieceable` when it cannot be read in pieces."""

    def __init__(
        self,
        path: str | Path,
        *,
        part: str,
        name: str,
        index: int,
        limits: dict,
        piece_bytes: int,
    ) -> None:
        self.path, self.part, self.name, self.index = str(path), part, name, index
        self.limits = limits
        self.piece_bytes = piece_bytes
        self.total_rows: int | None = None
        self.extent = extents.SheetExtent()
        self.checked = False  # the exact check ran and let the sheet through

    # -- the sheet's start -----------------------------------------------------------

    def head(self) -> None:
        with zipfile.ZipFile(self.path) as zf:
            self._open_parts(zf)
            with zf.open(self.part) as fh:
                head = fh.read(64 * 1024)
        root = re.search(rb"<(\w+:)?worksheet\b[^>]*>", head)
        if root is None:
            raise NotPieceable
        self.p = root[1] or b""
        p = re.escape(self.p)
        self.row_start = b"<" + self.p + b"row"
        self.row_tag = re.compile(rb"<" + p + rb"row\b[^>]*>")
        self.has_r = re.compile(rb'\sr="[0-9]')
        # A column reference as long as the first one past ``max_columns`` (a quick search
        # of every piece), then each such cell looked at.
        letters = len(extents.column_name(self.limits["max_columns"] + 1))
        self.long_ref = re.compile(rb' r="[A-Z]{%d}' % letters)
        self.far = re.compile(rb'\sr="([A-Z]{%d,})[0-9]' % letters)
        # Cells with content (``<c ...>...</c>``; a value-less cell is ``<c .../>``).
        self.cell_end = b"</" + self.p + b"c>"
        self.prefix = root[0]
        self.suffix = b"</" + self.p + b"sheetData></" + self.p + b"worksheet>"
        dimension = re.search(rb"<" + p + rb'dimension\s+ref="[A-Z]+[0-9]+:[A-Z]+([0-9]+)"', head)
        if dimension:
            self.total_rows = min(int(dimension[1]), extents.EXCEL_MAX_ROWS)
        first = self.row_tag.search(head)
        if first is not None and not self.has_r.search(first[0]):
            raise NotPieceable

    def _open_parts(self, zf: zipfile.ZipFile) -> None:
        kept = {}
        for info in zf.infolist():
            lower = info.filename.lower()
            if info.filename == self.part:
                continue
            if lower in _KEPT or lower.startswith(_KEPT_PREFIXES):
                kept[info.filename] = zf.read(info)
        self.parts = kept
        strings = sum(len(v) for k, v in kept.items() if k.lower().startswith("xl/sharedstrings"))
        self.piece_bytes = max(self.piece_bytes, SHARED_STRINGS_FACTOR * strings)

    # -- the pieces ------------------------------------------------------------------

    def _pieces(self, path: str) -> Iterator[bytes]:
        """The XML between ``<sheetData>`` and ``</sheetData>`` in pieces that each start
        at a row with an ``r`` attribute."""
        target = min(FIRST_PIECE_BYTES, self.piece_bytes)
        sheet_data = re.compile(rb"<" + re.escape(self.p) + rb"sheetData\b[^>]*?(/?)>")
        with zipfile.ZipFile(path) as zf, zf.open(self.part) as fh:
            buf = b""
            while True:  # up to the rows
                data = fh.read(READ_BYTES)
                buf += data
                m = sheet_data.search(buf)
                if m is not None:
                    if m[1]:  # <sheetData/>
                        return
                    buf = buf[m.end() :]
                    break
                if not data:
                    return
            parts, size = [buf], len(buf)
            while True:
                data = fh.read(READ_BYTES)
                if data:
                    parts.append(data)
                    size += len(data)
                    if size < target:
                        continue
                buf = b"".join(parts)
                if not data:
                    end = buf.rfind(b"</" + self.p + b"sheetData")
                    yield buf[:end] if end >= 0 else buf
                    return
                cut = self._cut(buf)
                if cut > 0:
                    yield buf[:cut]
                    buf = buf[cut:]
                    target = min(target * 4, self.piece_bytes)
                parts, size = [buf], len(buf)

    def _cut(self, buf: bytes) -> int:
        """The start of the last row in ``buf`` whose tag is complete and carries ``r``
        (0: none; rows without ``r`` are positioned by counting, so a piece never
        starts with one)."""
        end = len(buf)
        for _ in range(8):
            at = buf.rfind(self.row_start, 0, end)
            if at <= 0:
                return 0
            tag = self.row_tag.match(buf, at)
            if tag is not None and self.has_r.search(tag[0]):
                return at
            end = at
        return 0

    def _workbook(self, piece: bytes):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
            for name, data in self.parts.items():
                zf.writestr(name, data)
            sheet_data = b"<" + self.p + b"sheetData>"
            zf.writestr(self.part, self.prefix + sheet_data + piece + self.suffix)
        out.seek(0)
        workbook = CalamineWorkbook.from_filelike(out)
        try:
            return workbook.get_sheet_by_index(self.index)
        finally:
            workbook.close()

    # -- the extent rules ------------------------------------------------------------

    def _far_cell(self, piece: bytes) -> bool:
        # (A reference after a tab or a line break is not seen here: then calamine's range of
        # the piece meets the reader's memory limit, and the exact check names the cell.)
        if self.long_ref.search(piece) is None:
            return False
        limit = self.limits["max_columns"]
        return any(extents.column_number(m[1]) > limit for m in self.far.finditer(piece))

    def _absurd(self, extent: extents.SheetExtent) -> bool:
        return extents.is_absurd(extent, **self.limits)

    def _check(self) -> Path | None:
        """The exact check of the whole sheet: raises its refusal, or returns the copy
        without blank cells to go on with (None: the sheet is fine as it is)."""
        self.checked = True
        _, trimmed = extents.check_xlsx_sheet(self.path, self.name, **self.limits)
        return trimmed

    def _sheets(self) -> Iterator[tuple]:
        """Each piece parsed by calamine, after the extent rules: ``(sheet, first row
        number, first column index)``. On a switch to the copy without blank cells, its
        pieces follow from its first row on (``rows`` skips those already given)."""
        source = self.path
        trimmed: Path | None = None
        try:
            while True:
                switched = False
                for piece in self._pieces(source):
                    if not self.checked and self._far_cell(piece):
                        trimmed = self._check()
                        if trimmed is not None:
                            source, switched = str(trimmed), True
                            break
                    sheet = self._workbook(piece)
                    start, end = sheet.start, sheet.end
                    if start is None:
                        continue
                    piece_extent = extents.SheetExtent(
                        start[0] + 1,
                        end[0] + 1,
                        start[1] + 1,
                        end[1] + 1,
                        piece.count(self.cell_end),
                    )
                    self.extent.merge(piece_extent)
                    if not self.checked and (
                        self._absurd(piece_extent) or self._absurd(self.extent)
                    ):
                        trimmed = self._check()
                        if trimmed is not None:
                            source, switched = str(trimmed), True
                            break
                    yield sheet, start[0] + 1, start[1]
                if not switched:
                    return
        finally:
            if trimmed is not None:
                trimmed.unlink(missing_ok=True)

    def rows(self) -> Iterator[tuple[int, list]]:
        """The rows, piece by piece. The next piece is read and parsed on a thread of its
        own (inflating and calamine's parse release the GIL) while this one's rows are
        handed on."""
        ahead = _Ahead(self._sheets())
        done = 0  # rows up to here were given (a switch to the trimmed copy skips them)
        try:
            for sheet, base, pad in ahead:
                rows = sheet.to_python(skip_empty_area=True)
                del sheet
                for offset, cells in enumerate(rows):
                    number = base + offset
                    if number > done:
                        done = number
                        yield number, ([""] * pad + cells) if pad else cells
        finally:
            ahead.close()


class _Ahead:
    """Runs an iterator on a thread, one item ahead; its exception is raised here."""

    _END = object()

    def __init__(self, items: Iterator) -> None:
        self.items = items
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sheet-pieces", daemon=True)
        self.thread.start()

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self.items:
                if not self._put(item):
                    break
        except BaseException as exc:  # noqa: BLE001 - raised by the consuming thread
            self._put(_Failed(exc))
            return
        finally:
            self.items.close()
        self._put(self._END)

    def __iter__(self) -> Iterator:
        while True:
            item = self.queue.get()
            if item is self._END:
                return
            if type(item) is _Failed:
                raise item.error
            yield item

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self.queue.get_nowait()
        self.thread.join()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error
