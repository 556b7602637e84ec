"""The downloadable 号码登记表 template (forms.md §1): header row with required columns
marked, one example row, drop-downs for the enumerations, a visible 填写说明 sheet, and every
column formatted as text so Excel never turns a number into 1.38001E+10."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.datavalidation import DataValidation

from portal.spreadsheets.xlsx import header_row, text_width

from .importers import register

EXAMPLE = {
    register.NUMBER: "10690000123",
    register.KIND: "子端口",
    register.MAIN_PORT: "1069000",
    register.PURPOSE: "营销",
    register.USER: "本机构",
    register.USER_CODE: "",
    register.CARRIER: "中国移动",
    register.DOCUMENT: "",
    register.VALID_FROM: "2026-01-01",
    register.VALID_TO: "",
    register.REMARK: "示例行，填写时请删除",
}
ENUMS = {
    register.KIND: ["手机", "固话", "短号码", "400/800", "短信端口", "子端口"],
    register.PURPOSE: ["营销", "催收", "营销及催收"],
    register.CARRIER: ["中国移动", "中国联通", "中国电信", "中国广电"],
}
HELP = [
    (
        "号码",
        "必填",
        "手机号、固话（带区号，如 0571-87654321）、95/96 短号码、400/800 号码、106 开头的短信端口或子端口。请保持单元格为文本格式，以免被 Excel 变成科学计数法。",
    ),
    (
        "号码类型",
        "选填",
        "手机 / 固话 / 短号码 / 400/800 / 短信端口 / 子端口；留空时平台自动识别，填写时须与号码相符。",
    ),
    ("所属主端口", "子端口必填", "子端口所扩展的主端口，子端口必须以主端口开头。"),
    ("用途", "必填", "营销 / 催收 / 营销及催收。"),
    (
        "使用单位",
        "必填",
        "本机构；或分支机构：本机构名称加分支机构名称（如“某银行杭州分行”）；或已登记的委托合作单位名称。",
    ),
    (
        "使用单位统一社会信用代码",
        "使用单位非本机构时必填",
        "18 位统一社会信用代码；委托合作单位须先在平台“合作单位”中登记委托书。",
    ),
    (
        "电信运营商",
        "必填",
        "提供该号码或端口的运营商，如中国移动、中国联通、中国电信、中国广电，或短信服务商名称。",
    ),
    ("委托书编号", "选填", "委托合作单位使用时填写，须与登记的委托书编号一致。"),
    ("合作起始日期", "必填", "如 2026-03-01、2026/3/1 或 2026年3月1日。"),
    ("合作截止日期", "选填", "留空表示长期；不得早于起始日期，也不得晚于委托书截止日期。"),
    ("备注", "选填", "不超过 500 字。"),
]
NOTES = [
    "表头所在行之前可以有标题行；列的顺序不限；未知的列会被忽略并提示。",
    "只读取第一个可见的工作表（本“填写说明”表不会被读取，请在“号码登记表”中填写）。",
    "任何一行有错误，整个文件都不会导入；平台会返回错误报告，逐行列出错误列和原因。",
    "导入方式“合并”（默认）只新增或更新文件中的号码；“替换”还会终止文件中未包含的在用号码（设置截止日期，不删除）。",
    "同一号码不能同时由两家机构登记在用；如号码已转让，请原机构先终止登记。",
]


def build_register_template() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "号码登记表"
    titles = [f"{c}*" if c in register.REQUIRED else c for c in register.COLUMNS]
    ws.append(header_row(ws, titles))
    ws.append([EXAMPLE[c] for c in register.COLUMNS])
    ws.freeze_panes = "A2"
    for index, title in enumerate(titles, start=1):
        letter = ws.cell(row=1, column=index).column_letter
        ws.column_dimensions[letter].width = max(14, text_width(title) + 4)
        # Text format for the whole column, so numbers stay digits.
        ws.column_dimensions[letter].number_format = "@"
        for row in range(2, 5002):
            ws.cell(row=row, column=index).number_format = "@"
    for column, values in ENUMS.items():
        letter = ws.cell(row=1, column=register.COLUMNS.index(column) + 1).column_letter
        validation = DataValidation(
            type="list",
            formula1='"' + ",".join(values) + '"',
            allow_blank=True,
            showErrorMessage=column != register.CARRIER,  # carriers may be SMS providers
            errorTitle="取值无效",
            error=f"{column}只能填写：{'、'.join(values)}",
        )
        validation.add(f"{letter}2:{letter}5001")
        ws.add_data_validation(validation)

    help_ws = wb.create_sheet("填写说明")
    help_ws.append(header_row(help_ws, ["列名", "是否必填", "说明"]))
    for row in HELP:
        help_ws.append(list(row))
    help_ws.append([])
    for note in NOTES:
        help_ws.append(["注意", "", note])
    help_ws.column_dimensions["A"].width = 26
    help_ws.column_dimensions["B"].width = 22
    help_ws.column_dimensions["C"].width = 90
    for row in help_ws.iter_rows(min_row=2):
        row[2].alignment = Alignment(wrap_text=True, vertical="top")
        row[0].font = Font(bold=True)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
