"""Reading rows as text, finding the header, dates, and the error report
(registry/importers/reader.py, errors.py, xlsx.py).

forms.md (intro): "the reader is tolerant in form and strict in meaning" -- headers matched
after trimming, full-width folding and dropping `*`/`（必填）`; title rows above the header;
first visible sheet only; every cell read as text with floats recovered when exact and
rejected when digits were lost; dates from Excel serials and common spellings; blank rows
skipped; errors name the Excel row number. Every file is built in tmp_path.
"""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
import xlwt
from python_calamine import CalamineWorkbook

from portal.spreadsheets import reader
from portal.spreadsheets.errors import write_error_workbook
from portal.spreadsheets.files import FileFormat, FileRejected, inspect_upload
from portal.spreadsheets.headers import column_letter, find_header, normalize_header
from portal.spreadsheets.reader import (
    ReadLimits,
    cell_text,
    parse_date,
    parse_datetime,
    read_rows,
)
from portal.spreadsheets.xlsx import safe_cell

REQUIRED = {"号码", "用途", "使用单位"}
SYNONYMS = {
    "号码/端口": "号码",
    "电话号码": "号码",
    "端口号": "号码",
    "类型": "号码类型",
    "使用用途": "用途",
    "业务类型": "用途",
    "使用主体": "使用单位",
    "实际使用单位": "使用单位",
    "启用日期": "合作起始日期",
    "开始日期": "合作起始日期",
}
OPTIONAL = {"备注", "号码类型", "合作起始日期"}


@pytest.fixture(autouse=True, params=["whole", "pieces"])
def reading(request, monkeypatch):
    """Every test twice: a sheet read whole, and read in pieces of about 1 KB of XML, as a
    large sheet is (streaming.py, issue 9 item 8): the same rows either way."""
    if request.param == "pieces":
        monkeypatch.setattr(
            reader, "ReadLimits", lambda: ReadLimits(stream_bytes=0, piece_bytes=1024)
        )
    return request.param


def header_of(sheet, **kwargs):
    return find_header(sheet, required=REQUIRED, synonyms=SYNONYMS, optional=OPTIONAL, **kwargs)


def read_all(path, name=None):
    fmt = inspect_upload(path, original_name=name or path.name)
    sheet = read_rows(path, fmt)
    header = header_of(sheet)
    return sheet, header, list(header.data_rows)


def xlsx(path, rows, *, setup=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "登记表"
    for row in rows:
        ws.append(list(row))
    if setup:
        setup(wb, ws)
    wb.save(path)
    return path


# -- xlsx ------------------------------------------------------------------------------


def test_xlsx_with_title_rows_merged_cells_and_marked_headers(tmp_path):
    """forms.md: "The header row may be preceded by a title row or two (合并单元格的标题)";
    headers matched after trimming, full-width folding and dropping `*` / `（必填）`; unknown
    columns ignored with a warning; blank rows skipped; row numbers as in Excel."""

    def setup(wb, ws):
        ws.merge_cells("A1:F1")
        ws.merge_cells("A2:F2")

    path = xlsx(
        tmp_path / "t.xlsx",
        [
            ["号码登记表（2026 年第一季度）"],
            ["填报单位：某某银行", None, None, None, "填报日期：2026-03-01"],
            [" 号码* ", "用途（必填）", "使　用　单　位＊", "内部编号", "启用日期", "备注"],
            [13800138000, "营销", "本机构", "X-1", dt.date(2026, 3, 1), None],
            [None, None, None, None, None, None],
            ["  ", None, "", None, None, None],
            ["106900001234", "催收", "某某分行", None, "2026/3/1", "  有空格  "],
        ],
        setup=setup,
    )
    sheet, header, rows = read_all(path)
    assert sheet.format is FileFormat.XLSX
    assert sheet.sheet_name == "登记表"
    assert sheet.total_rows == 7
    assert header.row_number == 3
    assert header.columns == {"号码": 0, "用途": 1, "使用单位": 2, "合作起始日期": 4, "备注": 5}
    assert header.unknown == ["内部编号"]
    assert header.warnings == ["已忽略未知列：内部编号"]
    assert [r.number for r in rows] == [4, 7]
    first, second = rows
    assert header.pick(first.cells) == {
        "号码": "13800138000",
        "用途": "营销",
        "使用单位": "本机构",
        "合作起始日期": "2026-03-01",
        "备注": "",
    }
    assert header.get(second.cells, "备注") == "有空格"
    assert header.get(second.cells, "号码类型") == ""  # column absent from the file
    assert all(isinstance(c, str) for c in first.cells)


def test_hidden_first_sheet_is_skipped_and_others_are_listed(tmp_path):
    """forms.md: "Only the first visible sheet is read ...; other sheets are listed as a
    warning"."""

    def setup(wb, ws):
        ws.sheet_state = "hidden"
        visible = wb.create_sheet("数据")
        visible.append(["号码", "用途", "使用单位"])
        visible.append(["13800138000", "营销", "本机构"])
        wb.create_sheet("填写说明").append(["说明"])

    path = xlsx(
        tmp_path / "h.xlsx", [["号码", "用途", "使用单位"], ["99999", "x", "y"]], setup=setup
    )
    sheet, _header, rows = read_all(path)
    assert sheet.sheet_name == "数据"
    assert [r.cells for r in rows] == [["13800138000", "营销", "本机构"]]
    assert len(sheet.warnings) == 1
    assert "已忽略其他工作表" in sheet.warnings[0]
    assert "登记表（隐藏）" in sheet.warnings[0] and "填写说明" in sheet.warnings[0]


def test_only_hidden_sheets(tmp_path):
    """No visible sheet at all (Excel allows saving that via VBA; openpyxl does not, so the
    workbook.xml is edited) is refused cleanly."""
    import zipfile

    def setup(wb, ws):
        wb.create_sheet("b").sheet_state = "hidden"

    src = xlsx(tmp_path / "src.xlsx", [["号码"]], setup=setup)
    path = tmp_path / "h.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b'state="visible"', b'state="hidden"')
            zout.writestr(info, data)
    with pytest.raises(FileRejected) as info:
        read_rows(path, FileFormat.XLSX)
    assert info.value.code == "no_visible_sheet"


def test_floats_are_recovered_when_exact_and_rejected_when_digits_were_lost(tmp_path):
    """forms.md: "numbers that a spreadsheet turned into floats (`13800138000.0`, ...) are
    recovered when exact and rejected when digits were lost (e.g. a 20-digit port stored as
    a float)"."""
    path = xlsx(
        tmp_path / "f.xlsx",
        [
            ["号码", "用途", "使用单位", "备注"],
            [13800138000.0, "营销", "本机构", 0.5],
            [12345678901234567890, "营销", "本机构", 10690012345678901234.0],
            [1234567890123456, "营销", "本机构", -3.0],
        ],
    )
    _sheet, header, rows = read_all(path)
    assert header.get(rows[0].cells, "号码") == "13800138000"
    assert header.get(rows[0].cells, "备注") == "0.5"
    lost = header.get(rows[1].cells, "号码")
    assert lost != "12345678901234567890" and not lost.isdigit()
    assert "e+" in lost
    assert not header.get(rows[1].cells, "备注").isdigit()
    # 16 digits: Excel keeps only 15 significant digits, so this is not trusted either
    assert not header.get(rows[2].cells, "号码").isdigit()
    assert header.get(rows[2].cells, "备注") == "-3"


def test_cell_text_conversions():
    """forms.md: "Every cell is read as text"."""
    assert cell_text(13800138000.0) == "13800138000"
    assert cell_text(0.0) == "0"
    assert cell_text(999_999_999_999_999.0) == "999999999999999"
    assert cell_text(1.2345678901234567e19) == "1.2345678901234567e+19"
    assert cell_text(1234567890123450.0) == "1.23456789012345e+15"
    assert cell_text(2.0**53) == "9.007199254740992e+15"
    assert cell_text(0.1) == "0.1"
    assert cell_text(7) == "7"
    assert cell_text(True) == "TRUE" and cell_text(False) == "FALSE"
    assert cell_text(dt.date(2026, 3, 1)) == "2026-03-01"
    assert cell_text(dt.datetime(2026, 3, 1, 8, 30)) == "2026-03-01 08:30:00"
    assert cell_text(dt.time(8, 30)) == "08:30:00"
    assert cell_text(dt.timedelta(hours=26)) == "1 day, 2:00:00"
    assert cell_text("  a b  ") == "a b"
    assert cell_text("") == "" and cell_text(None) == ""


def test_formula_without_cached_value_reads_as_empty(tmp_path):
    """Calamine never evaluates formulas; openpyxl writes no cached value, so the cell reads
    as '' -- a clear "empty" for the row validator, not a crash (forms.md: "a row with any
    content is validated completely")."""
    path = xlsx(
        tmp_path / "f.xlsx",
        [["号码", "用途", "使用单位"], [13800138000, '=IF(1,"营销","催收")', '=A2&""']],
    )
    _sheet, header, rows = read_all(path)
    assert [r.number for r in rows] == [2]
    assert header.pick(rows[0].cells) == {"号码": "13800138000", "用途": "", "使用单位": ""}


def test_data_starting_in_a_later_column_keeps_absolute_indexes(tmp_path):
    """Cell indexes are Excel columns even when columns A-B are empty (calamine starts its
    range at the first used column)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["C4"], ws["D4"], ws["E4"] = "号码", "用途", "使用单位"
    ws["C6"], ws["D6"], ws["E6"] = "13800138000", "营销", "本机构"
    wb.save(tmp_path / "c.xlsx")
    _sheet, header, rows = read_all(tmp_path / "c.xlsx")
    assert header.columns == {"号码": 2, "用途": 3, "使用单位": 4}
    assert header.row_number == 4
    assert rows[0].number == 6
    assert rows[0].cells[:3] == ["", "", "13800138000"]


def test_empty_xlsx(tmp_path):
    """An empty sheet is refused, not read as zero rows."""
    wb = openpyxl.Workbook()
    wb.save(tmp_path / "e.xlsx")
    with pytest.raises(FileRejected) as info:
        read_rows(tmp_path / "e.xlsx", FileFormat.XLSX)
    assert info.value.code == "empty_sheet"
    assert "为空" in info.value.message
    xlsx(tmp_path / "blank.xlsx", [[None, "  "], [], ["", ""]])
    with pytest.raises(FileRejected) as info:
        read_rows(tmp_path / "blank.xlsx", FileFormat.XLSX)
    assert info.value.code == "empty_sheet"


def test_unreadable_workbook_is_corrupt(tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04 definitely not a workbook")
    with pytest.raises(FileRejected) as info:
        read_rows(path, FileFormat.XLSX)
    assert info.value.code == "corrupt"


# -- xls -------------------------------------------------------------------------------


def test_real_xls(tmp_path):
    """forms.md: the forms are read from .xls too (xlwt writes BIFF8 like Excel 97-2003)."""
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("号码")
    ws.write_merge(0, 0, 0, 3, "号码登记表")
    for c, title in enumerate(["号码*", "用途（必填）", "使用单位", "开始日期"]):
        ws.write(2, c, title)
    ws.write(3, 0, 13800138000.0)
    ws.write(3, 1, "营销")
    ws.write(3, 2, "本机构")
    ws.write(3, 3, dt.date(2026, 3, 1), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    ws.write(5, 0, "01012345678")
    ws.write(5, 1, "催收")
    ws.write(5, 2, "某某公司")
    ws.write(5, 3, 46082)
    wb.add_sheet("说明")
    wb.save(str(tmp_path / "r.xls"))

    sheet, header, rows = read_all(tmp_path / "r.xls")
    assert sheet.format is FileFormat.XLS
    assert header.row_number == 3
    assert [r.number for r in rows] == [4, 6]
    assert rows[0].cells == ["13800138000", "营销", "本机构", "2026-03-01"]
    assert rows[1].cells == ["01012345678", "催收", "某某公司", "46082"]
    assert parse_date(rows[1].cells[3]) == dt.date(2026, 3, 1)
    assert sheet.warnings == ["只读取第一个可见工作表“号码”，已忽略其他工作表：说明"]


# -- CSV -------------------------------------------------------------------------------

CSV_TEXT = (
    "号码登记表,,\n"
    "号码*,用途,使用单位,备注\n"
    "13800138000,营销,本机构,\n"
    ",,,\n"
    '01012345678,催收,某某公司,"含,逗号"\n'
)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    """forms.md: CSV in "UTF-8, UTF-8 with BOM, GB18030" with Chinese headers."""
    path = tmp_path / "c.csv"
    path.write_bytes(CSV_TEXT.encode(encoding))
    sheet, header, rows = read_all(path)
    assert sheet.encoding == encoding
    assert sheet.delimiter == ","
    assert sheet.total_rows is None
    assert header.row_number == 2
    assert header.columns == {"号码": 0, "用途": 1, "使用单位": 2, "备注": 3}
    assert [r.number for r in rows] == [3, 5]
    assert rows[1].cells == ["01012345678", "催收", "某某公司", "含,逗号"]


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_csv_delimiters(tmp_path, delimiter):
    path = tmp_path / "c.csv"
    text = CSV_TEXT.replace(",", delimiter).replace('"含' + delimiter + '逗号"', "含逗号")
    path.write_text(text, encoding="utf-8")
    sheet, _header, rows = read_all(path)
    assert sheet.delimiter == delimiter
    assert rows[0].cells[:3] == ["13800138000", "营销", "本机构"]


def test_csv_utf8_detection_survives_a_character_cut_at_1_mb(tmp_path):
    """Encoding is decided on the first MB; a 3-byte character straddling the boundary must
    not make a UTF-8 file look like GB18030 (forms.md: CSV in UTF-8 or GB18030)."""
    mb = 1024 * 1024
    line = "13800138000,营销,本机构\n".encode()
    body = "号码,用途,使用单位\n".encode() + line * (mb // len(line) + 10)
    # leading spaces on the header (trimmed when matching) move a character onto byte 1 MB
    shift = next(n for n in range(len(line)) if 0x80 <= body[mb - n] < 0xC0)
    data = b" " * shift + body
    assert 0x80 <= data[mb] < 0xC0
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    with read_rows(path, FileFormat.CSV) as sheet:
        assert sheet.encoding == "utf-8"
        header = header_of(sheet)
        assert sum(1 for _ in header.data_rows) == mb // len(line) + 10


def test_csv_bad_bytes_after_the_sample_are_reported_not_garbled(tmp_path):
    """Strict in meaning: bytes that are not UTF-8 past the first MB reject the file with
    the row near which decoding failed, instead of importing mojibake."""
    head = "号码,用途,使用单位\n".encode()
    line = b"13800138000,abc,def\n"
    n = (1024 * 1024) // len(line) + 10
    data = head + line * n + "13800138001,营销,本机构\n".encode("gb18030")
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    sheet = read_rows(path, FileFormat.CSV)
    assert sheet.encoding == "utf-8"
    with pytest.raises(FileRejected) as info:
        for _row in sheet:
            pass
    assert info.value.code == "bad_encoding"
    assert "UTF-8" in info.value.message


def test_csv_only_separators_is_empty(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(",,,\n ,\t,\n\n", encoding="utf-8")
    with pytest.raises(FileRejected) as info:
        read_rows(path, FileFormat.CSV)
    assert info.value.code == "empty_sheet"


def test_sheet_data_is_single_pass_and_closable(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    with read_rows(path, FileFormat.CSV) as sheet:
        assert next(iter(sheet)).number == 1
        with pytest.raises(RuntimeError):
            iter(sheet)


# -- header ----------------------------------------------------------------------------


def test_normalize_header():
    """forms.md: "Headers are matched after trimming spaces, full-width/half-width folding
    and dropping a trailing `*`, `（必填）` or `(必填)`"."""
    assert normalize_header(" 号码* ") == "号码"
    assert normalize_header("号码＊") == "号码"
    assert normalize_header("用途（必填）") == "用途"
    assert normalize_header("用途(必填)") == "用途"
    assert normalize_header("★号码") == "号码"
    assert normalize_header("号码★") == "号码"
    assert normalize_header("使　用 单\n位") == "使用单位"
    assert normalize_header("ＡＢＣ") == "abc"
    assert normalize_header("\ufeff号码") == "号码"


def test_header_synonyms_and_column_order(tmp_path):
    """forms.md: "the synonyms listed are accepted; column order is free"."""
    path = tmp_path / "s.csv"
    path.write_text(
        "备注,实际使用单位,业务类型,电话号码\n,本机构,营销,13800138000\n", encoding="utf-8"
    )
    _sheet, header, rows = read_all(path)
    assert header.columns == {"备注": 0, "使用单位": 1, "用途": 2, "号码": 3}
    assert header.get(rows[0].cells, "号码") == "13800138000"


def test_missing_required_column(tmp_path):
    """forms.md: "a missing required column rejects the file with the list of what is
    missing"."""
    path = tmp_path / "m.csv"
    path.write_text("号码,备注\n13800138000,\n", encoding="utf-8")
    with pytest.raises(FileRejected) as info:
        read_all(path)
    assert info.value.code == "missing_columns"
    assert info.value.message.startswith("缺少必填列：")
    assert "用途" in info.value.message and "使用单位" in info.value.message
    assert "号码" not in info.value.message.removeprefix("缺少必填列：")


def test_missing_columns_listed_in_form_order():
    rows = iter([_row(1, ["号码", "备注"])])
    with pytest.raises(FileRejected) as info:
        find_header(rows, required={"号码", "用途", "使用单位"}, synonyms={"号码": "号码",
                    "用途": "用途", "使用单位": "使用单位"})  # fmt: skip
    assert info.value.message == "缺少必填列：用途、使用单位"


def test_no_header_row(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("\n".join(f"第{i}行,内容" for i in range(20)), encoding="utf-8")
    with pytest.raises(FileRejected) as info:
        read_all(path)
    assert info.value.code == "no_header"
    assert info.value.message.startswith("未找到表头行：前 10 行中没有包含“")


def test_header_beyond_max_scan_is_not_found(tmp_path):
    lines = [f"说明{i}" for i in range(10)] + ["号码,用途,使用单位", "1,2,3"]
    path = tmp_path / "n.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(FileRejected) as info:
        read_all(path)
    assert info.value.code == "no_header"


def test_duplicate_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("号码,用途,使用单位,电话号码\n1,2,3,4\n", encoding="utf-8")
    with pytest.raises(FileRejected) as info:
        read_all(path)
    assert info.value.code == "duplicate_column"
    assert "A" in info.value.message and "D" in info.value.message


def test_best_header_row_wins_over_a_title_mentioning_a_column():
    """A title row that happens to contain one column name loses to the real header."""
    rows = [
        _row(1, ["号码", "", ""]),
        _row(2, ["号码", "用途", "使用单位"]),
        _row(3, ["13800138000", "营销", "本机构"]),
    ]
    header = find_header(iter(rows), required=REQUIRED, synonyms=SYNONYMS)
    assert header.row_number == 2
    assert [r.number for r in header.data_rows] == [3]


def test_column_letter():
    assert [column_letter(i) for i in (0, 1, 25, 26, 27, 701, 702)] == [
        "A", "B", "Z", "AA", "AB", "ZZ", "AAA",
    ]  # fmt: skip


def _row(number, cells):
    from portal.spreadsheets.reader import Row

    return Row(number, cells)


# -- dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-01",
        "2026/3/1",
        "2026.3.1",
        "2026年3月1日",
        "2026 年 3 月 1 日",
        "20260301",
        "2026-03-01 08:30:00",
        "2026-03-01T08:30:00",
        "2026-03-01T08:30:00+08:00",
        "2026/3/1 8:30",
        "46082",
        "46082.0",
        "46082.75",
        "２０２６－０３－０１",
    ],
)
def test_parse_date_formats(text):
    """forms.md: "Dates accept Excel serials, `2026-03-01`, `2026/3/1`, `2026年3月1日`"."""
    assert parse_date(text) == dt.date(2026, 3, 1)


@pytest.mark.parametrize(
    "text",
    ["2026-3", "2026", "明天", "3/1/2026", "46082abc", "2026-03/01", "0", "60"],
)  # fmt: skip
def test_parse_date_rejects(text):
    with pytest.raises(ValueError, match="日期格式无法识别：") as info:
        parse_date(text)
    assert text in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-02-30", "日期 2026-02-30 不存在：2026 年 2 月只有 28 天"),
        ("2028/2/30", "日期 2028-02-30 不存在：2028 年 2 月只有 29 天"),
        ("2026年4月31日", "日期 2026-04-31 不存在：2026 年 4 月只有 30 天"),
        ("2026-13-01", "日期 2026-13-01 不存在：月份应为 1–12"),
        ("20261301", "日期 2026-13-01 不存在：月份应为 1–12"),
    ],
)
def test_a_well_written_day_that_does_not_exist_is_named_as_such(text, message):
    """Issue 10 §11: the format of 2026-02-30 is fine; the day does not exist. Say so."""
    with pytest.raises(ValueError) as info:
        parse_date(text)
    assert str(info.value) == message


def test_parse_date_empty():
    with pytest.raises(ValueError, match="日期为空"):
        parse_date("  ")


def test_excel_serials_use_the_1900_system_with_its_fake_leap_day():
    """Serial 61 is 1900-03-01 because Excel counts a 1900-02-29 (serial 60) that never was."""
    from portal.spreadsheets.reader import _excel_serial

    assert _excel_serial("1", "1", None).date() == dt.date(1900, 1, 1)
    assert _excel_serial("59", "59", None).date() == dt.date(1900, 2, 28)
    assert _excel_serial("61", "61", None).date() == dt.date(1900, 3, 1)
    with pytest.raises(ValueError, match="日期格式无法识别"):
        _excel_serial("60", "60", None)
    assert parse_date("45658") == dt.date(2025, 1, 1)


def test_parse_datetime():
    assert parse_datetime("2026-03-01 08:30") == dt.datetime(2026, 3, 1, 8, 30)
    assert parse_datetime("2026年3月1日 8时30分") == dt.datetime(2026, 3, 1, 8, 30)
    assert parse_datetime("46082.5") == dt.datetime(2026, 3, 1, 12, 0)
    assert parse_datetime("2026-03-01") == dt.datetime(2026, 3, 1)
    with pytest.raises(ValueError):
        parse_datetime("2026-03-01 25:00")


def test_dates_in_cells_read_as_iso(tmp_path):
    path = xlsx(
        tmp_path / "d.xlsx",
        [
            ["号码", "用途", "使用单位", "开始日期", "备注"],
            ["1", "营销", "本机构", dt.date(2026, 3, 1), dt.datetime(2026, 3, 1, 8, 30)],
        ],
    )
    _sheet, header, rows = read_all(path)
    assert header.get(rows[0].cells, "合作起始日期") == "2026-03-01"
    assert header.get(rows[0].cells, "备注") == "2026-03-01 08:30:00"


# -- error workbook --------------------------------------------------------------------


def test_error_workbook_round_trip(tmp_path):
    """forms.md: "every error names the row number as the user sees it in Excel, the column
    header, the value, and the reason"; formula-like values are neutralised."""
    path = tmp_path / "errors.xlsx"
    headers = ["号码", "用途", "使用单位"]
    count = write_error_workbook(
        path,
        headers=headers,
        rows=[
            (4, ["=cmd|' /C calc'!A0", "营销", "本机构"], [("号码", "号码格式不正确")]),
            (
                7,
                ["13800138000", "@SUM(1)", "-1+2"],
                [("用途", "用途必须是营销、催收或营销及催收"), ("使用单位", "不能为空"),
                 ("用途", "第二个用途错误")],
            ),
            (9, ["1\x00\x07", "+86"], [("", "整行重复")]),
        ],
    )  # fmt: skip
    assert count == 3
    wb = CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names == ["错误明细", "说明"]
    rows = wb.get_sheet_by_name("错误明细").to_python()
    assert rows[0] == ["原行号", "号码", "用途", "使用单位", "错误列", "错误原因"]
    assert rows[1] == [4.0, "'=cmd|' /C calc'!A0", "营销", "本机构", "号码", "号码格式不正确"]
    assert rows[1][1].startswith("'")
    assert rows[2] == [
        7.0,
        "13800138000",
        "'@SUM(1)",
        "'-1+2",
        "用途、使用单位",
        "用途必须是营销、催收或营销及催收；不能为空；第二个用途错误",
    ]
    assert rows[3] == [9.0, "1\ufffd\ufffd", "'+86", "", "", "整行重复"]
    notes = wb.get_sheet_by_name("说明").to_python()
    assert "原行号" in notes[0][0]

    # 原行号 is a number (issue 10 §14: sortable in Excel); every other cell is text, and no
    # formula was written
    ws = openpyxl.load_workbook(path)["错误明细"]
    assert ws.freeze_panes == "A2"
    assert ws["A1"].font.b
    assert [ws.cell(row=r, column=1).data_type for r in (2, 3, 4)] == ["n", "n", "n"]
    assert all(
        c.data_type == "s"
        for row in ws.iter_rows()
        for c in row
        if c.value is not None and not (c.column == 1 and c.row > 1)
    )


def test_safe_cell():
    """OWASP CSV-injection neutralisation, reused by exports."""
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("+8613800138000") == "'+8613800138000"
    assert safe_cell("-5") == "'-5"
    assert safe_cell("@cmd") == "'@cmd"
    assert safe_cell("\t=1") == "'\t=1"
    assert safe_cell("\r=1") == "'\r=1"
    assert safe_cell("13800138000") == "13800138000"
    assert safe_cell("号码=1") == "号码=1"
    assert safe_cell("") == "" and safe_cell(None) == ""
    assert safe_cell(12) == "12"
    assert safe_cell("a\x01b") == "a\ufffdb"
    assert len(safe_cell("x" * 40000)) == 32767


def test_csv_utf16_tab_separated(tmp_path):
    """Excel's "Unicode 文本" export: UTF-16 with BOM, tab-separated."""
    path = tmp_path / "u.csv"
    path.write_bytes("号码\t用途\t使用单位\n13800138000\t营销\t本机构\n".encode("utf-16"))
    sheet, header, rows = read_all(path)
    assert (sheet.encoding, sheet.delimiter) == ("utf-16", "\t")
    assert rows[0].cells == ["13800138000", "营销", "本机构"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("号码,用途,使用单位", ","),
        ("号码\n13800138000\n", ","),
        ("号码,用途,备注\n1,营销,a;b;c\n2,催收,d;e\n", ","),
        ("号码;用途;备注\n1;营销;a,b\n2;催收;c\n", ";"),
        ('号码登记表\n\n号码\t用途\t备注\n1\t营销\t"x,y"\n', "\t"),
    ],
)
def test_delimiter_detection(text, expected):
    """A title row without delimiters above the header (forms.md) does not fool detection."""
    from portal.spreadsheets.reader import detect_csv_delimiter

    assert detect_csv_delimiter(text) == expected


def test_stored_file_name_need_not_carry_the_extension(tmp_path):
    """The storage names the file, the user's name was checked: a stored file without (or
    with another) extension is still read by content."""
    src = xlsx(tmp_path / "a.xlsx", [["号码", "用途", "使用单位"], ["1", "营销", "本机构"]])
    stored = tmp_path / "upload_8f3a"
    stored.write_bytes(src.read_bytes())
    with read_rows(stored, FileFormat.XLSX) as sheet:
        assert [r.cells for r in sheet] == [["号码", "用途", "使用单位"], ["1", "营销", "本机构"]]


def test_error_workbook_row_cap(tmp_path):
    """A huge report is capped; the last row says how many errors were left out."""
    path = tmp_path / "e.xlsx"
    rows = ((i, ["x"], [("号码", "错")]) for i in range(2, 12))
    assert write_error_workbook(path, headers=["号码"], rows=rows, max_rows=3) == 3
    data = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("错误明细").to_python()
    assert [r[0] for r in data[1:4]] == [2.0, 3.0, 4.0]
    assert data[-1][:2] == ["", "……另有 7 行错误未列出（错误报告最多列出 3 行）"]


def test_a_sheet_read_in_pieces_gives_the_rows_of_a_whole_read(tmp_path, reading):
    """Issue 9 item 8: a large sheet is read in pieces (streaming.py) so its rows flow from
    the first one on; every piece is parsed by calamine, so numbers, floats, dates (by the
    cell's number format), booleans, shared strings, merged title cells and formulas read
    exactly as in a whole-sheet read (rows are padded to the widest row so far, not to
    one further right below them: only trailing empty cells may differ)."""

    def setup(wb, ws):
        ws.merge_cells("A1:F1")
        ws["G7"] = '=A3&""'

    rows = [["号码登记表"], ["号码", "用途", "使用单位", "日期", "数", "布尔"]]
    rows += [
        [13800000000 + i, "营销", "本机构", dt.date(2026, 1, 1) + dt.timedelta(days=i), 1.5 + i]
        + [i % 2 == 0]
        for i in range(300)
    ]
    path = xlsx(tmp_path / "big.xlsx", rows, setup=setup)

    def read(limits):
        with read_rows(path, FileFormat.XLSX, limits=limits) as sheet:
            out = []
            for row in sheet:
                cells = list(row.cells)
                while cells and not cells[-1]:
                    cells.pop()
                out.append((row.number, cells))
            return out

    pieces = read(ReadLimits(stream_bytes=0, piece_bytes=512))
    assert pieces == read(ReadLimits(stream_bytes=10**12))
    assert len(pieces) == 302
    assert pieces[2] == (3, ["13800000000", "营销", "本机构", "2026-01-01", "1.5", "TRUE"])
    assert pieces[-1] == (302, ["13800000299", "营销", "本机构", "2026-10-27", "300.5", "FALSE"])
