"""Find the header row of a sheet and map a form's columns to cell indexes (forms.md:
tolerant in form). Title rows above the header are skipped; labels are compared after
folding full-width characters, spaces and the required/optional markers (``*``, ``★``,
``（必填）``); synonyms are accepted; unknown columns are named in a warning.

    with read_rows(path, fmt) as sheet:                       # reader.py
        header = find_header(sheet, required=..., synonyms=...)
        for row in header.data_rows:                          # Row(number, cells)
            value = header.get(row.cells, "号码")

No Django here (the reader's child process never imports it either).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING

from .files import FileRejected

if TYPE_CHECKING:  # reader.py re-exports this module: no import of it at run time
    from .reader import Row

__all__ = [
    "HeaderMap",
    "column_letter",
    "find_header",
    "fold",
    "normalize_header",
]

MAX_LISTED_UNKNOWN = 20  # unknown columns named in the warning; the rest are counted

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_MARKER_SUFFIXES = ("(必填)", "(选填)", "(可选)", "*", "★", "☆")
_MARKER_PREFIXES = ("*", "★", "☆")


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Full-width to half-width and no spaces: how cell labels (用途, 运营商, 号码类型...) and
    command-line labels are compared."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def normalize_header(text: str) -> str:
    """Header text for matching: NFKC (full-width -> half-width), no whitespace, no
    required/optional markers (``*``, ``★``, ``（必填）``, ``(必填)``), case-folded."""
    s = unicodedata.normalize("NFKC", str(text)).translate(_INVISIBLE)
    s = "".join(s.split())
    changed = True
    while changed and s:
        changed = False
        for suffix in _MARKER_SUFFIXES:
            if s.endswith(suffix) and len(s) > len(suffix):
                s = s[: -len(suffix)]
                changed = True
        for prefix in _MARKER_PREFIXES:
            if s.startswith(prefix) and len(s) > len(prefix):
                s = s[len(prefix) :]
                changed = True
    return s.casefold()


def column_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass(eq=False)
class HeaderMap:
    """Where each known column is, found by :func:`find_header`.

    ``columns``: canonical name -> 0-based cell index. ``headers``: the header row's texts as
    written (for error reports). ``data_rows``: the rows after the header (continue reading
    here; rows above the header were titles and are dropped).
    """

    columns: dict[str, int]
    headers: list[str]
    row_number: int
    unknown: list[str]
    warnings: list[str]
    data_rows: Iterator[Row] = field(repr=False)

    def get(self, cells: list[str], name: str) -> str:
        """The text of column ``name`` in a row ('' when the column or the cell is absent)."""
        index = self.columns.get(name)
        if index is None or index >= len(cells):
            return ""
        return cells[index]

    def pick(self, cells: list[str]) -> dict[str, str]:
        """canonical name -> text, for every known column present in the file."""
        n = len(cells)
        return {name: (cells[i] if i < n else "") for name, i in self.columns.items()}


def find_header(
    rows_iter: Iterable[Row],
    *,
    required: Iterable[str],
    synonyms: dict[str, str],
    optional: Iterable[str] = (),
    max_scan: int = 10,
) -> HeaderMap:
    """Find and map the header row among the first ``max_scan`` non-blank rows.

    ``synonyms`` maps an accepted alternative name to its canonical name; the canonical
    names are ``required``, ``optional`` and the values of ``synonyms``. The row matching
    the most canonical columns (at least one of them required) wins; ties go to the
    earliest row. Raises FileRejected ``no_header``, ``missing_columns``,
    ``duplicate_column``.
    """
    order: list[str] = []
    for name in chain(synonyms.values(), required, optional):
        if name not in order:
            order.append(name)
    required_set = set(required)
    required_ordered = [n for n in order if n in required_set]

    lookup: dict[str, str] = {}
    for alias, canonical in synonyms.items():
        lookup[normalize_header(alias)] = canonical
    for canonical in order:  # a canonical name wins over a clashing alias
        lookup[normalize_header(canonical)] = canonical

    rows = iter(rows_iter)
    buffered: list[Row] = []
    best_index = -1
    best_score = 0
    for row in rows:
        buffered.append(row)
        matched = {lookup.get(normalize_header(c)) for c in row.cells if c} - {None}
        if matched & required_set and len(matched) > best_score:
            best_index, best_score = len(buffered) - 1, len(matched)
        if len(buffered) >= max_scan:
            break

    if best_index < 0:
        names = "”“".join(required_ordered[:3])
        raise FileRejected(
            "no_header",
            f"未找到表头行：前 {max_scan} 行中没有包含“{names}”等列名的行",
        )

    header_row = buffered[best_index]
    columns: dict[str, int] = {}
    unknown: list[str] = []
    for index, text in enumerate(header_row.cells):
        if not text:
            continue
        canonical = lookup.get(normalize_header(text))
        if canonical is None:
            unknown.append(text)
            continue
        if canonical in columns:
            first = columns[canonical]
            raise FileRejected(
                "duplicate_column",
                f"列“{canonical}”重复出现：第 {column_letter(first)} 列“"
                f"{header_row.cells[first]}”和第 {column_letter(index)} 列“{text}”，"
                "请删除其中一列后重新上传",
            )
        columns[canonical] = index

    missing = [n for n in required_ordered if n not in columns]
    if missing:
        raise FileRejected("missing_columns", f"缺少必填列：{'、'.join(missing)}")

    warnings = []
    if unknown:
        shown = "、".join(unknown[:MAX_LISTED_UNKNOWN])
        more = len(unknown) - MAX_LISTED_UNKNOWN
        warnings.append(f"已忽略未知列：{shown}" + (f" 等共 {len(unknown)} 列" if more > 0 else ""))
    return HeaderMap(
        columns=columns,
        headers=list(header_row.cells),
        row_number=header_row.number,
        unknown=unknown,
        warnings=warnings,
        data_rows=chain(buffered[best_index + 1 :], rows),
    )
