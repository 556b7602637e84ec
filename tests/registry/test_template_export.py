"""The downloadable 号码登记表 template and the register export
(portal/spreadsheets/template.py from the form's declaration; registry/exports.py).

forms.md: "The portal offers each as a downloadable xlsx template (header row, one example
row, a hidden-free sheet with 填写说明, data-validation drop-downs for the enumerations)";
required columns marked. Exports: every cell text (numbers stay digits), formula-like text
neutralised, and a round trip through the importer changes nothing (issue item 10).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from portal.spreadsheets.template import build_template, form_template
from registry import services
from registry.exports import EXTRA, export_numbers
from registry.importers import register
from registry.models import ImportStatus, RegisteredNumber, Status
from tests.uploads import import_file

pytestmark = pytest.mark.usefixtures("fixed_day")

EXAMPLE = register.FORM.example
SHANGHAI = ZoneInfo("Asia/Shanghai")
PARTNER_CODE = "91330100MA2PART01W"
BRANCH_CODE = "91330100MA2BRAN01Y"


# -- the template -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def template_bytes() -> bytes:
    return form_template(register.FORM)


@pytest.fixture(scope="module")
def loaded_template(template_bytes) -> openpyxl.Workbook:
    """For reading only."""
    return openpyxl.load_workbook(io.BytesIO(template_bytes))


@pytest.fixture
def template(template_bytes) -> openpyxl.Workbook:
    """A fresh copy to fill in."""
    return openpyxl.load_workbook(io.BytesIO(template_bytes))


def test_template_sheets_header_example_and_help(loaded_template):
    """forms.md: header row with the required columns marked, a visible 填写说明 sheet
    (hidden-free). Issue 9 item 5: the example row is on 填写说明 only, never on the sheet
    that is read."""
    assert loaded_template.sheetnames == ["号码登记表", "填写说明"]
    assert all(ws.sheet_state == "visible" for ws in loaded_template.worksheets)
    ws = loaded_template["号码登记表"]
    header = [c.value for c in ws[1]]
    assert header == [f"{c}*" if c in register.REQUIRED else c for c in register.COLUMNS]
    assert [h for h in header if h.endswith("*")] == [
        "号码*",
        "用途*",
        "使用单位*",
        "电信运营商*",
        "合作起始日期*",
    ]
    rows = [
        [c.value for c in row]
        for row in ws.iter_rows(min_row=2)
        if any(c.value not in (None, "") for c in row)
    ]
    assert rows == []
    assert ws.column_dimensions["A"].number_format == "@"  # text cells: numbers stay digits
    help_ws = loaded_template["填写说明"]
    help_rows = [[c.value for c in row] for row in help_ws.iter_rows()]
    assert [EXAMPLE[c] or None for c in register.COLUMNS] in help_rows
    described = [help_ws.cell(row=r, column=1).value for r in range(2, 2 + len(register.COLUMNS))]
    assert described == register.COLUMNS
    notes = " ".join(str(c.value) for c in help_ws["C"] if c.value)
    assert "任何一行有错误，整个文件都不会导入" in notes
    assert "替换" in notes and "不删除" in notes


def test_template_has_drop_downs_for_the_enumerations(loaded_template):
    """forms.md: data-validation drop-downs for 号码类型 and 用途 (and the carriers)."""
    ws = loaded_template["号码登记表"]
    letters = {
        c: ws.cell(row=1, column=i + 1).column_letter for i, c in enumerate(register.COLUMNS)
    }
    lists = {
        str(v.sqref): v.formula1.strip('"').split(",")
        for v in ws.data_validations.dataValidation
        if v.type == "list"
    }
    kind = letters[register.KIND]
    purpose = letters[register.PURPOSE]
    assert lists[f"{kind}2:{kind}5001"] == [
        "手机",
        "固话",
        "短号码",
        "400/800",
        "短信端口",
        "子端口",
    ]
    assert lists[f"{purpose}2:{purpose}5001"] == ["营销", "催收", "营销及催收"]
    strict = {str(v.sqref): v.showErrorMessage for v in ws.data_validations.dataValidation}
    assert strict[f"{purpose}2:{purpose}5001"] is True


def _fill(template, rows, *, keep_example: bool, tmp_path: Path) -> Path:
    """Rows typed into the template; ``keep_example``: under the example row of a template
    downloaded before issue 9 (row 2), as its users did."""
    ws = template["号码登记表"]
    if keep_example:
        for index, column in enumerate(register.COLUMNS, start=1):
            ws.cell(row=2, column=index, value=EXAMPLE[column] or None)
    start = 3
    for offset, values in enumerate(rows):
        for column, value in values.items():
            ws.cell(row=start + offset, column=register.COLUMNS.index(column) + 1, value=value)
    path = tmp_path / "号码登记表.xlsx"
    template.save(path)
    return path


VALID = [
    {
        "号码": "13800138000",
        "用途": "营销",
        "使用单位": "本机构",
        "电信运营商": "中国移动",
        "合作起始日期": "2026-03-01",
    },
    {
        "号码": "057187654321",
        "号码类型": "固话",
        "用途": "催收",
        "使用单位": "甲银行杭州分行",
        "使用单位统一社会信用代码": BRANCH_CODE,
        "电信运营商": "中国电信",
        "合作起始日期": "2026/3/1",
        "合作截止日期": "2026年12月31日",
    },
    {
        "号码": "1069000",
        "号码类型": "短信端口",
        "用途": "营销及催收",
        "使用单位": "本机构",
        "电信运营商": "中国移动",
        "合作起始日期": "2026-01-01",
    },
]


@pytest.mark.parametrize("keep_example", [True, False], ids=["example-kept", "example-removed"])
def test_filled_template_imports_cleanly(inst_alice, template, tmp_path, keep_example):
    """forms.md: the template is the form: filled with valid rows it imports with no error;
    the 填写说明 sheet is not read (only the first visible sheet), which the job notes as a
    warning. Issue 9 item 5: the template's example row is never imported; a user who typed
    their rows under it (a template downloaded before) imports only their own rows, and the
    job says the example was skipped."""
    path = _fill(template, VALID, keep_example=keep_example, tmp_path=tmp_path)
    job = import_file(inst_alice, path)
    assert job.status == ImportStatus.DONE, job.message
    expected = {"13800138000", "057187654321", "1069000"}
    numbers = {n.number: n for n in RegisteredNumber.objects.filter(status=Status.ACTIVE)}
    assert set(numbers) == expected
    assert job.created == len(expected) and job.rows_total == len(expected)
    assert any("填写说明" in w for w in job.warnings)
    skipped = [w for w in job.warnings if "示例行" in w]
    assert skipped == (["第 2 行是模板中的示例行，已跳过，未导入"] if keep_example else [])


def test_the_template_is_built_once_per_form_version(monkeypatch):
    """Issue 9 item 1: the template is generated from the declaration and served from
    memory after the first build (a download used to rebuild it: about 0.9 s)."""
    from portal.spreadsheets import template as templates

    first = form_template(register.FORM)
    calls = []
    monkeypatch.setattr(templates, "build_template", lambda form: calls.append(form) or b"x")
    assert form_template(register.FORM) == first
    assert calls == []
    assert build_template(register.FORM)[:2] == b"PK"


# -- the export -------------------------------------------------------------------------


def _register(user, number, **extra):
    fields = {
        "号码": number,
        "用途": "营销",
        "使用单位": "本机构",
        "电信运营商": "中国移动",
        "合作起始日期": "2026-01-01",
        **extra,
    }
    return services.number_register(actor=user, institution=user.organisation, fields=fields)


@pytest.fixture
def alice_register(inst_alice):
    services.partner_save(
        actor=inst_alice,
        institution=inst_alice.organisation,
        name="杭州某催收服务有限公司",
        credit_code=PARTNER_CODE,
        kind="collection",
        valid_from=dt.date(2026, 1, 1),
        valid_to=dt.date(2026, 12, 31),
        document_number="WT-2026-001",
    )
    _register(inst_alice, "13800138000", 备注="=cmd|' /C calc'!A0")
    _register(inst_alice, "4008208820", 用途="营销及催收", 备注="@SUM(A1)")
    _register(inst_alice, "95588", 电信运营商="中国电信", 合作截止日期="2026-12-31")
    _register(inst_alice, "1069012345", 电信运营商="某短信服务商")
    _register(
        inst_alice, "1069012345001", 号码类型="子端口", 所属主端口="1069012345", 备注="-减号开头"
    )
    _register(
        inst_alice,
        "057187654321",
        使用单位="甲银行杭州分行",
        使用单位统一社会信用代码=BRANCH_CODE,
        备注="+加号",
    )
    _register(
        inst_alice,
        "13900139000",
        用途="催收",
        使用单位="杭州某催收服务有限公司",
        使用单位统一社会信用代码=PARTNER_CODE,
        合作截止日期="2026-12-31",
    )
    ended = _register(inst_alice, "13700137000")
    services.number_end(actor=inst_alice, number=ended, end_date=dt.date(2026, 3, 1), reason="停用")
    return RegisteredNumber.objects.visible_to(inst_alice)


def _export(queryset) -> tuple[int, openpyxl.Workbook, bytes]:
    out = io.BytesIO()
    count = export_numbers(queryset, out)
    data = out.getvalue()
    return count, openpyxl.load_workbook(io.BytesIO(data)), data


def test_export_writes_every_column_as_text_and_neutralises_formulas(alice_register):
    """forms.md §1 / issue item 10 (export): the 号码登记表 columns plus
    机构/状态/终止原因/登记时间; every cell is text (numbers stay digits in Excel); values
    starting with = + - @ get a leading apostrophe (formula injection); history rows are
    exported with their status."""
    count, wb, _ = _export(alice_register)
    assert count == 8
    ws = wb["号码登记表"]
    rows = list(ws.iter_rows())
    assert [c.value for c in rows[0]] == register.COLUMNS + EXTRA
    for row in rows[1:]:
        for cell in row:
            assert cell.data_type == "s" or cell.value in (None, "")
            assert cell.number_format == "@"
    by_number = {r[0].value: [c.value for c in r] for r in rows[1:]}
    remark = register.COLUMNS.index(register.REMARK)
    assert by_number["13800138000"][remark] == "'=cmd|' /C calc'!A0"
    assert by_number["4008208820"][remark] == "'@SUM(A1)"
    assert by_number["1069012345001"][remark] == "'-减号开头"
    assert by_number["057187654321"][remark] == "'+加号"
    sub = by_number["1069012345001"]
    assert sub[1:3] == ["子端口", "1069012345"]
    assert by_number["13700137000"][-3:-1] == ["已终止", "停用"]
    assert by_number["13900139000"][4:8] == [
        "杭州某催收服务有限公司",
        PARTNER_CODE,
        "中国移动",
        "WT-2026-001",
    ]
    assert {r[len(register.COLUMNS)] for r in by_number.values()} == {"甲银行"}


def test_export_is_scoped_by_the_caller(alice_register, inst_bob):
    """Issue item 10 (tenancy; 000 §二(一)5): the export writes what the queryset holds;
    scoped to bob it holds none of alice's numbers."""
    count, wb, _ = _export(RegisteredNumber.objects.visible_to(inst_bob))
    assert count == 0
    assert wb["号码登记表"].max_row == 1


def test_export_round_trips_through_the_importer(inst_alice, alice_register, tmp_path):
    """Issue item 10: alice's exported active register, re-imported into alice in merge
    mode, changes nothing (every row unchanged, no new version); the extra columns are
    ignored with a warning, and the formula guards do not turn into changes."""
    before = list(
        RegisteredNumber.objects.order_by("pk").values_list("pk", "status", "fingerprint")
    )
    _, _, data = _export(alice_register.filter(status=Status.ACTIVE))
    path = tmp_path / "导出.xlsx"
    path.write_bytes(data)
    job = import_file(inst_alice, path)
    assert job.status == ImportStatus.DONE, job.message
    assert (job.created, job.updated, job.unchanged, job.ended) == (0, 0, 7, 0)
    assert "已忽略未知列：机构、状态、终止原因、登记时间" in job.warnings
    after = list(RegisteredNumber.objects.order_by("pk").values_list("pk", "status", "fingerprint"))
    assert after == before
    assert RegisteredNumber.objects.get(number="13800138000", status=Status.ACTIVE).remark == (
        "=cmd|' /C calc'!A0"
    )


def test_export_reimported_in_replace_mode_ends_nothing(inst_alice, alice_register, tmp_path):
    """forms.md §1 (replace): the complete register re-imported in replace mode leaves
    every number active."""
    _, _, data = _export(alice_register.filter(status=Status.ACTIVE))
    path = tmp_path / "导出.xlsx"
    path.write_bytes(data)
    job = import_file(inst_alice, path, mode="replace")
    assert (job.status, job.ended, job.unchanged) == (ImportStatus.DONE, 0, 7)
