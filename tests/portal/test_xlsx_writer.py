"""The streaming xlsx writer (``write_sheets``) and its reader (``WrittenWorkbook``): several
sheets, text and whole numbers, formulas neutralised, XML's special characters, rows
consumed in an order of the caller's, and Excel's view (openpyxl) of the same file."""

from __future__ import annotations

import io

import openpyxl

from portal.spreadsheets.xlsx import Sheet, WrittenWorkbook, write_sheets, write_text_xlsx

AWKWARD = ['=cmd|" /C calc"!A0', "<b>&amp;</b>", '甲银行 "总行"', "", "13800138000", "a\nb"]


def workbook(order=None):
    stream = io.BytesIO()
    seen = []

    def later():
        seen.append("summary")
        return [["行数", 3]]

    def data():
        seen.append("data")
        yield from ([text, n] for n, text in enumerate(AWKWARD[:3]))

    counts = write_sheets(
        stream,
        [
            Sheet("说明", ["项目", "内容"], later, widths=[20, 80]),
            Sheet("数据 & 其他", ["文字", "数量"], data),
            Sheet("文本", ["全部为文本"], [[v] for v in AWKWARD] + [[7]], text_only=True),
        ],
        order=order,
    )
    return stream, counts, seen


def test_every_sheet_reads_back_as_written():
    stream, counts, _ = workbook()
    assert counts == [1, 3, 7]
    book = WrittenWorkbook(stream)
    assert book.sheet_names == ["说明", "数据 & 其他", "文本"]
    assert list(book.rows("说明")) == [["项目", "内容"], ["行数", 3]]
    assert list(book.rows("数据 & 其他")) == [
        ["文字", "数量"],
        ["'" + AWKWARD[0], 0],  # the formula neutralised, as Excel will show it
        [AWKWARD[1], 1],
        [AWKWARD[2], 2],
    ]
    text = list(book.rows("文本"))
    assert text[1:] == [["'" + AWKWARD[0]], *[[v] for v in AWKWARD[1:]], ["7"]]


def test_the_caller_chooses_which_sheet_is_written_first():
    _, _, seen = workbook(order=[1, 2, 0])
    assert seen == ["data", "summary"]
    _, _, seen = workbook()
    assert seen == ["summary", "data"]


def test_excel_sees_the_same_cells():
    stream, _, _ = workbook(order=[1, 2, 0])
    wb = openpyxl.load_workbook(stream)
    assert wb.sheetnames == ["说明", "数据 & 其他", "文本"]
    assert wb["说明"]["B2"].value == 3 and wb["说明"]["A1"].value == "项目"
    assert wb["数据 & 其他"]["A2"].value == "'" + AWKWARD[0]
    assert wb["数据 & 其他"]["A3"].value == AWKWARD[1]
    assert wb["文本"]["A6"].value == "13800138000"  # text, never 1.38E+10
    assert wb["文本"]["A8"].value == "7"
    assert wb["数据 & 其他"].freeze_panes == "A2"


def test_many_rows_across_read_chunks():
    stream = io.BytesIO()
    rows = ([f"138001{i:05d}", "营销" * (i % 7), i] for i in range(30000))
    write_sheets(stream, [Sheet("号码", ["号码", "用途", "序号"], rows)])
    read = list(WrittenWorkbook(stream).rows("号码"))
    assert len(read) == 30001
    assert read[1] == ["13800100000", "", 0]
    assert read[-1] == ["13800129999", "营销" * (29999 % 7), 29999]


def test_the_one_sheet_text_export_is_unchanged():
    stream = io.BytesIO()
    count = write_text_xlsx(stream, sheet_name="号码", headers=["号码"], rows=[["=1+1"], [5]])
    assert count == 2
    ws = openpyxl.load_workbook(stream)["号码"]
    assert [c.value for c in ws["A"]] == ["号码", "'=1+1", "5"]
