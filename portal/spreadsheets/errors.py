"""The downloadable error report of an import: the bad rows as the user wrote them, plus
which columns are wrong and why (docs: forms.md, "every error names the row number as the
user sees it in Excel, the column header, the value, and the reason")."""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment

from .xlsx import prepare_sheet, safe_cell

__all__ = ["ERROR_SHEET", "MAX_ROWS", "NOTES_SHEET", "write_error_workbook"]

ERROR_SHEET = "错误明细"
NOTES_SHEET = "说明"
MAX_ROWS = 100_000

NOTES = (
    "本文件列出了上传文件中未通过校验的行。“原行号”是该行在您上传的文件中的行号（与 Excel "
    "左侧显示的行号一致），中间各列是该行原样的内容，“错误列”指出有问题的列，“错误原因”说明"
    "需要如何修改。存在任何错误时，整个文件都不会导入（不会部分导入）：请在原文件中逐行改正"
    "后重新上传整个文件。为防止表格公式被执行，以 =、+、-、@ 开头的内容在本文件中前面加了"
    "一个单引号（'），原文件中无需添加。"
)


def write_error_workbook(
    path: str | PathLike[str],
    *,
    headers: list[str],
    rows: Iterable[tuple[int, list[str], list[tuple[str, str]]]],
    max_rows: int | None = MAX_ROWS,
) -> int:
    """Write the error report to ``path`` (xlsx, streamed with openpyxl's write-only mode).

    ``rows`` yields ``(excel_row_number, original cell texts, [(column header, reason)])``.
    Sheet "错误明细": 原行号, the original headers, 错误列 (columns joined with '、'),
    错误原因 (reasons joined with '；'); every cell is text, passed through
    :func:`~portal.spreadsheets.xlsx.safe_cell`. Sheet "说明": what the report means.
    Returns the number of error rows written.

    openpyxl's write-only mode writes about 4,000 such rows a second here, so at most
    ``max_rows`` rows are listed (``None``: no limit); the rest are counted and the last
    row of "错误明细" says how many were left out.
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(ERROR_SHEET)
    columns = ["原行号", *headers, "错误列", "错误原因"]
    widths: list[float | None] = [8, *([None] * len(headers)), 16, 60]
    prepare_sheet(ws, columns, widths=widths)

    width = len(headers)
    count = 0
    omitted = 0
    for number, cells, errors in rows:
        if max_rows is not None and count >= max_rows:
            omitted += 1
            continue
        values = [safe_cell(c) for c in cells[:width]]
        if len(values) < width:
            values.extend([""] * (width - len(values)))
        error_columns: list[str] = []
        for column, _reason in errors:
            if column and column not in error_columns:
                error_columns.append(column)
        reasons = "；".join(reason for _column, reason in errors if reason)
        # 原行号 is a number (sortable and filterable in Excel), the rest text.
        ws.append([number, *values, safe_cell("、".join(error_columns)), safe_cell(reasons)])
        count += 1
    if omitted:
        ws.append(["", f"……另有 {omitted} 行错误未列出（错误报告最多列出 {max_rows} 行）"])

    notes = wb.create_sheet(NOTES_SHEET)
    notes.column_dimensions["A"].width = 100
    cell = WriteOnlyCell(notes, value=safe_cell(NOTES))
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    notes.append([cell])
    wb.save(path)
    return count
