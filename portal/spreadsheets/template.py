"""The downloadable template of a form, generated from its declaration (issue 9 item 1):
a header row (required columns marked ``*``), every column formatted as text (so Excel
never turns a number into 1.38001E+10), drop-downs for enumerations, and a 填写说明 sheet
with each column's help, the notes and the example row. The example is on 填写说明 only,
never on the sheet that is read (item 5): a user who types their rows under it imports
only their own rows. Built once per form version, then served from memory."""

from __future__ import annotations

import io
from functools import lru_cache

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.datavalidation import DataValidation

from .form import SpreadsheetForm, get_form
from .xlsx import header_row, text_width

HELP_SHEET = "填写说明"
# Rows the drop-downs cover below the header.
VALIDATED_ROWS = 5000


def form_template(form: SpreadsheetForm) -> bytes:
    """The template's bytes, built at the first download of this form version."""
    return _built(form.code, form.version)


@lru_cache(maxsize=32)
def _built(code: str, version: int) -> bytes:
    return build_template(get_form(code))


def build_template(form: SpreadsheetForm) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = form.sheet_title or form.label
    titles = [f"{c.name}*" if c.required else c.name for c in form.columns]
    ws.append(header_row(ws, titles))
    ws.freeze_panes = "A2"
    last = VALIDATED_ROWS + 1
    for index, (column, title) in enumerate(zip(form.columns, titles, strict=True), start=1):
        letter = ws.cell(row=1, column=index).column_letter
        dimension = ws.column_dimensions[letter]
        dimension.width = max(14, text_width(title) + 4)
        dimension.number_format = "@"  # the whole column is text: numbers stay digits
        if column.choices:
            validation = DataValidation(
                type="list",
                formula1='"' + ",".join(column.choices) + '"',
                allow_blank=True,
                showErrorMessage=column.strict,
                errorTitle="取值无效",
                error=f"{column.name}只能填写：{'、'.join(column.choices)}",
            )
            validation.add(f"{letter}2:{letter}{last}")
            ws.add_data_validation(validation)

    help_ws = wb.create_sheet(HELP_SHEET)
    help_ws.append(header_row(help_ws, ["列名", "是否必填", "说明", "示例"]))
    for column in form.columns:
        help_ws.append([column.name, column.requirement_text, column.help, column.example])
    help_ws.append([])
    for note in form.notes:
        help_ws.append(["注意", "", note])
    if any(c.example for c in form.columns):
        help_ws.append([])
        help_ws.append(["示例行", "", f"在“{ws.title}”表中一行的写法（示例本身不要填入）："])
        help_ws.append([c.name for c in form.columns])
        help_ws.append([c.example for c in form.columns])
    for letter, width in (("A", 26), ("B", 22), ("C", 90), ("D", 18)):
        help_ws.column_dimensions[letter].width = width
    for row in help_ws.iter_rows(min_row=2, max_row=len(form.columns) + 1):
        row[2].alignment = Alignment(wrap_text=True, vertical="top")
        row[0].font = Font(bold=True)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
