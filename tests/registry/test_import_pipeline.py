"""The 号码登记表 import pipeline end to end, through the services (registry/services.py:
import_job_create / import_job_run / import_job_fail; importers/register.py, merge.py).

forms.md §1: one row per number, port or sub-port; merge (default) or replace, "numbers that
disappear in a replace are ended (end date set), never deleted". domain.md "Numbers": raw
input in many spellings, one canonical form. 000 §三(一)1 and 002: the institution keeps a
complete, current number library. Issue item 10: ugly files built in the tests, the error
workbook's content, atomicity, idempotency, tenancy.

Every file is built in tmp_path (openpyxl, xlwt, csv) and uploaded as
``File(open(path, 'rb'))``, as the upload view and the CLI do.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import xlwt
from django.core.files import File
from django.core.files.base import ContentFile

from portal import tasks as portal_tasks
from portal.errors import NotPermitted, PortalError
from portal.models import AuditEvent, UploadJob
from registry import services
from registry.importers import merge as merging
from registry.models import (
    ImportStatus,
    RegisteredNumber,
    Status,
    UserType,
)
from tests.conftest import _user
from tests.uploads import (
    FULL,
    active,
    error_rows,
    line,
    register_csv,
    run,
    seed,
    snapshot,
    staged,
    upload,
    upload_file,
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.usefixtures("fixed_day")

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 3, 10)
BRANCH_CODE = "91330100MA2BRAN01Y"
CJK = re.compile(r"[\u4e00-\u9fff]")

# -- one row per number; history; merge and replace -------------------------------------


def test_one_row_per_number_port_and_sub_port(inst_alice, tmp_path):
    """forms.md §1: "One row per number, port or sub-port"; domain.md Numbers: every number
    stored in one canonical digit form with its kind, the raw input kept; a sub-port starts
    with its main port (000 §三(一)1)."""
    rows = [
        line("138 0013 8000"),
        line("0571-87654321", 号码类型="固话", 用途="催收"),
        line("95588", 用途="营销及催收", 电信运营商="电信"),
        line("400-820-8820", 号码类型="400/800"),
        line("1069012345", 号码类型="短信端口", 电信运营商="联通"),
        line("1069012345001", 号码类型="子端口", 所属主端口="1069012345"),
        line("13900139000", 使用单位="甲银行杭州分行", 使用单位统一社会信用代码=BRANCH_CODE),
    ]
    job = run(inst_alice, write_xlsx(tmp_path / "a.xlsx", rows))
    assert job.status == ImportStatus.DONE, job.message
    assert (job.rows_total, job.created, job.updated, job.unchanged, job.ended) == (7, 7, 0, 0, 0)
    assert job.message == "已导入 7 行：新增 7，变更 0，未变 0，终止 0"
    numbers = active(inst_alice.organisation)
    assert {n: (r.kind, r.is_sub_port, r.main_port) for n, r in numbers.items()} == {
        "13800138000": ("mobile", False, ""),
        "057187654321": ("landline", False, ""),
        "95588": ("short", False, ""),
        "4008208820": ("tollfree", False, ""),
        "1069012345": ("sms_port", False, ""),
        "1069012345001": ("sms_port", True, "1069012345"),
        "13900139000": ("mobile", False, ""),
    }
    mobile = numbers["13800138000"]
    assert mobile.raw == "138 0013 8000"
    assert (mobile.purpose, mobile.user_type, mobile.user_name) == ("marketing", "self", "本机构")
    assert (mobile.source_job_id, mobile.created_by) == (job.pk, inst_alice)
    assert numbers["057187654321"].purpose == "collection"
    assert numbers["95588"].purpose == "both"
    assert numbers["95588"].carrier == "中国电信"  # carriers under one spelling
    branch = numbers["13900139000"]
    assert (branch.user_type, branch.user_name, branch.user_credit_code) == (
        UserType.BRANCH,
        "甲银行杭州分行",
        BRANCH_CODE,
    )
    assert staged(job) == 0


def test_changed_number_leaves_history_and_nothing_is_deleted(inst_alice, tmp_path):
    """domain.md / models: nothing is deleted; a changed registration becomes 'superseded'
    and a new 'active' row carries the change; unchanged rows are left alone (forms.md §1:
    merge is the default)."""
    first = seed(inst_alice, tmp_path, ["13800138000", "13800138001", "13800138002"])
    before = {n: r.pk for n, r in active(inst_alice.organisation).items()}
    rows = [
        line("13800138000"),  # unchanged
        line("13800138001", 电信运营商="中国联通"),  # changed
        line("13800138003"),  # new
    ]  # 13800138002 absent: merge keeps it
    job = run(inst_alice, write_xlsx(tmp_path / "b.xlsx", rows))
    assert (job.created, job.updated, job.unchanged, job.ended) == (1, 1, 1, 0)
    now = active(inst_alice.organisation)
    assert set(now) == {"13800138000", "13800138001", "13800138002", "13800138003"}
    assert now["13800138000"].pk == before["13800138000"]
    assert now["13800138000"].source_job_id == first.pk
    assert now["13800138002"].pk == before["13800138002"]
    changed = RegisteredNumber.objects.filter(number="13800138001").order_by("pk")
    assert [(r.status, r.carrier) for r in changed] == [
        (Status.SUPERSEDED, "中国移动"),
        (Status.ACTIVE, "中国联通"),
    ]
    assert changed[0].closed_at is not None and changed[0].valid_to is None
    assert RegisteredNumber.objects.count() == 5


def test_replace_ends_absent_numbers_with_todays_date_and_reason(inst_alice, inst_bob, tmp_path):
    """forms.md §1: "numbers that disappear in a replace are ended (end date set), never
    deleted"; the end date is today, never before the start nor after an earlier end."""
    seed(inst_alice, tmp_path, ["13800138000", "13800138001"])
    seed(inst_alice, tmp_path, ["13800138002"], name="early.xlsx", 合作截止日期="2026-02-01")
    seed(inst_alice, tmp_path, ["13800138003"], name="future.xlsx", 合作起始日期="2026-05-01")
    seed(inst_bob, tmp_path, ["13700137000"], name="bob.xlsx")
    bob_before = snapshot(inst_bob.organisation)
    job = run(
        inst_alice,
        write_xlsx(tmp_path / "replace.xlsx", [line("13800138000"), line("13800138009")]),
        mode="replace",
    )
    assert job.status == ImportStatus.DONE, job.message
    assert (job.created, job.updated, job.unchanged, job.ended) == (1, 0, 1, 3)
    assert set(active(inst_alice.organisation)) == {"13800138000", "13800138009"}
    ended = {
        r.number: r
        for r in RegisteredNumber.objects.filter(institution=inst_alice.organisation)
        if r.status == Status.ENDED
    }
    assert {n: r.valid_to for n, r in ended.items()} == {
        "13800138001": TODAY,
        "13800138002": dt.date(2026, 2, 1),  # already ended earlier: kept
        "13800138003": dt.date(2026, 5, 1),  # starts later: never before its start
    }
    assert {r.end_reason for r in ended.values()} == {"替换导入时文件中未包含"}
    assert all(r.closed_at for r in ended.values())
    assert RegisteredNumber.objects.filter(institution=inst_alice.organisation).count() == 5
    assert snapshot(inst_bob.organisation) == bob_before  # another institution: untouched


def test_merge_is_the_default_and_keeps_absent_numbers(inst_alice, tmp_path):
    """forms.md §1: "merge is the default": numbers absent from the file stay active."""
    seed(inst_alice, tmp_path, ["13800138000", "13800138001"])
    path = write_xlsx(tmp_path / "m.xlsx", [line("13800138005")])
    with open(path, "rb") as fh:  # no mode given: the service's default is under test
        job, _ = services.import_job_create(
            actor=inst_alice,
            institution=inst_alice.organisation,
            upload=File(fh, name=path.name),
            original_name=path.name,
            enqueue=False,
        )
    assert job.mode == "merge"
    job = services.import_job_run(job_id=job.pk)
    assert job.ended == 0
    assert set(active(inst_alice.organisation)) == {"13800138000", "13800138001", "13800138005"}


# -- conflicts and duplicates -----------------------------------------------------------


def test_number_active_at_another_institution_imports_marked_and_names_no_one(
    inst_alice, inst_bob, tmp_path
):
    """Issue 9 item 6: a number another institution holds is not refused (a collection
    agency may serve two banks with one line): the row imports, the result says how many
    numbers are also registered elsewhere and that the administration will verify them,
    naming no one; both registrations carry the 多机构登记 mark; the other institution's
    registration stays as it was. (Before: the row was refused, naming the holder.)"""
    seed(inst_bob, tmp_path, ["13700137000", "1069055555"], name="bob.xlsx")
    bob_before = snapshot(inst_bob.organisation)
    rows = [line("13800138000"), line("137-0013-7000"), line("1069055555")]
    job = run(inst_alice, write_xlsx(tmp_path / "a.xlsx", rows))
    assert job.status == ImportStatus.DONE, job.message
    assert (job.created, job.error_count, job.counts) == (3, 0, {"shared": 2})
    assert job.message == (
        "已导入 3 行：新增 3，变更 0，未变 0，终止 0。其中 2 个号码也由其他机构登记在用，"
        "已标记为“多机构登记”，将由管理局核实"
    )
    assert inst_bob.organisation.name not in job.message
    assert snapshot(inst_bob.organisation) == bob_before
    marked = RegisteredNumber.objects.with_shared_mark().filter(status=Status.ACTIVE)
    assert {n.number for n in marked if n.shared} == {"13700137000", "1069055555"}
    assert {n.institution_id for n in marked if n.shared} == {
        inst_alice.organisation_id,
        inst_bob.organisation_id,
    }
    assert staged(job) == 0


def test_one_pass_reports_row_errors_repeats_in_row_order(inst_alice, inst_bob, tmp_path):
    """Issue 9 item 4: row errors and repeats within the file come in the same error
    workbook, in row order, whatever their order of discovery (before: a file with a row
    error reported no repeat, so a user needed two rounds); a number held elsewhere is
    no error (item 6)."""
    seed(inst_bob, tmp_path, ["13700137000"], name="bob.xlsx")
    rows = [
        line("13800138000"),  # row 2
        line("13800138000"),  # row 3: repeats row 2
        line("12345"),  # row 4: invalid
        line("13700137000"),  # row 5: bob's too: imported (were the file valid)
        line("13900139000", 用途="推销"),  # row 6: invalid
        line("13800138000"),  # row 7: repeats row 2 again
    ]
    job = run(inst_alice, write_xlsx(tmp_path / "a.xlsx", rows))
    assert job.status == ImportStatus.REJECTED
    report = error_rows(job)
    assert [r[0] for r in report[1:]] == ["3", "4", "6", "7"]
    assert report[1][-1] == "号码 13800138000 在文件中重复（与第 2 行相同）"
    assert report[4][-1] == "号码 13800138000 在文件中重复（与第 2 行相同）"
    assert job.error_count == 4
    assert snapshot(inst_alice.organisation) == []


def test_ended_number_at_another_institution_is_not_a_conflict(inst_alice, inst_bob, tmp_path):
    """Issue item 10 / models: only *active* registrations are exclusive; a number bob ended (e.g.
    ported to alice) may be registered by alice."""
    seed(inst_bob, tmp_path, ["13700137000"], name="bob.xlsx")
    services.number_end(
        actor=inst_bob,
        number=RegisteredNumber.objects.get(number="13700137000"),
        end_date=TODAY,
        reason="号码转让",
    )
    job = run(inst_alice, write_xlsx(tmp_path / "a.xlsx", [line("13700137000")]))
    assert job.status == ImportStatus.DONE, job.message


def test_duplicates_within_the_file_name_both_rows(inst_alice, tmp_path):
    """Issue item 10: duplicates within the file are reported with both row numbers (the
    repeat's own 原行号 and the first row in the reason), whatever the spelling."""
    rows = [
        line("13800138000"),
        line("13900139000"),
        line("+86 138 0013 8000"),
        line("１３８００１３８０００"),
    ]
    job = run(inst_alice, write_xlsx(tmp_path / "dup.xlsx", rows))
    assert job.status == ImportStatus.REJECTED
    report = error_rows(job)
    assert [(r[0], r[-2], r[-1]) for r in report[1:]] == [
        ("4", "号码", "号码 13800138000 在文件中重复（与第 2 行相同）"),
        ("5", "号码", "号码 13800138000 在文件中重复（与第 2 行相同）"),
    ]
    assert report[1][1] == "'+86 138 0013 8000"  # as uploaded, formula-safe
    assert RegisteredNumber.objects.count() == 0
    assert staged(job) == 0


# -- row errors: nothing written, an error workbook -------------------------------------


def test_any_row_error_writes_nothing_and_the_error_workbook_shows_rows_as_uploaded(
    inst_alice, tmp_path
):
    """forms.md intro: "every error names the row number as the user sees it in Excel, the
    column header, the value, and the reason"; any row error -> nothing written (not even
    in replace mode), staging empty; the report has 原行号 + the row as uploaded + 错误列 +
    错误原因 in Chinese, and neutralises formula-like text."""
    seed(inst_alice, tmp_path, ["13800138000", "13800138001"])
    before = snapshot()
    header = [
        "号码*",
        "用途（必填）",
        "使用单位",
        "电信运营商",
        "合作起始日期",
        "合作截止日期",
        "备注",
    ]
    rows = [
        ["13800138000", "营销", "本机构", "中国移动", "2026-01-01", "", ""],
        ["12345", "推广", "本机构", "中国移动", "2026-01-01", "", "+备用"],
        ["13800138002", "营销", "本机构", "", "2026-03-01", "2026-02-01", "ok"],
        ["13800138003", "催收", "某外包公司", "中国移动", "2026/3/1", "", ""],
    ]
    path = write_xlsx(tmp_path / "bad.xlsx", rows, header, titles=[["甲银行号码登记表"]])
    job = run(inst_alice, path, mode="replace")
    assert job.status == ImportStatus.REJECTED
    assert job.error_count == 3
    assert job.message == ("文件中有 3 行错误，未导入任何数据。请下载错误报告，修改后重新上传。")
    assert job.error_report.name.endswith(".xlsx")
    report = error_rows(job)
    assert report[0] == ["原行号", *header, "错误列", "错误原因"]
    assert [r[0] for r in report[1:]] == ["4", "5", "6"]  # Excel rows below the title
    second = report[1]
    assert second[1:8] == ["12345", "推广", "本机构", "中国移动", "2026-01-01", "", "'+备用"]
    assert second[8] == "号码、用途"
    assert "用途“推广”无效，可选：营销、催收、营销及催收" in second[9]
    third = report[2]
    assert third[8] == "合作截止日期、电信运营商"
    assert "合作截止日期 2026-02-01 早于起始日期 2026-03-01" in third[9]
    assert "电信运营商不能为空" in third[9]
    fourth = report[3]
    assert fourth[8] == "使用单位统一社会信用代码"
    assert fourth[9] == "使用单位不是本机构时必须填写其统一社会信用代码"
    for row in report[1:]:
        assert CJK.search(row[9])
    assert snapshot() == before  # replace mode would have ended 13800138001: it did not
    assert staged(job) == 0
    notes = openpyxl.load_workbook(job.error_report.path)["说明"]["A1"].value
    assert "不会部分导入" in notes


ROW_ERRORS = [
    pytest.param(
        {"号码": "1069099999001", "号码类型": "子端口", "所属主端口": "1069012345"},
        "所属主端口",
        "不以所属主端口“1069012345”开头",
        id="sub-port-not-under-main",
    ),
    pytest.param(
        {"号码": "1069012345001", "号码类型": "子端口"},
        "所属主端口",
        "子端口须填写所属主端口",
        id="sub-port-without-main",
    ),
    pytest.param(
        {"号码": "13800138000", "所属主端口": "1069012345"},
        "所属主端口",
        "只有短信子端口才填写所属主端口",
        id="main-port-on-a-mobile",
    ),
    pytest.param(
        {"号码": "13800138000", "号码类型": "固话"},
        "号码类型",
        "填写为“固话”，但号码识别为“手机”",
        id="kind-mismatch",
    ),
    pytest.param(
        {"号码": "13800138000", "号码类型": "卫星电话"},
        "号码类型",
        "号码类型“卫星电话”无效",
        id="kind-unknown",
    ),
    pytest.param({"用途": "推广"}, "用途", "可选：营销、催收、营销及催收", id="purpose-bad"),
    pytest.param({"用途": ""}, "用途", "用途不能为空", id="purpose-empty"),
    pytest.param(
        {"合作起始日期": "2026-03-01", "合作截止日期": "2026-02-28"},
        "合作截止日期",
        "早于起始日期",
        id="end-before-start",
    ),
    pytest.param(
        {"合作起始日期": "2026-02-30"}, "合作起始日期", "2026 年 2 月只有 28 天", id="no-such-day"
    ),
    pytest.param({"合作起始日期": ""}, "合作起始日期", "合作起始日期不能为空", id="start-empty"),
    pytest.param(
        {"使用单位": "某分行", "使用单位统一社会信用代码": "91330100MA2BRAN01X"},
        "使用单位统一社会信用代码",
        "校验码错误",
        id="bad-credit-code",
    ),
    pytest.param({"电信运营商": ""}, "电信运营商", "电信运营商不能为空", id="carrier-empty"),
    pytest.param({"备注": "字" * 501}, "备注", "备注不能超过 500 字", id="remark-too-long"),
    pytest.param({"号码": "1.38001E+10"}, "号码", "", id="scientific-digits-lost"),
    pytest.param({"号码": "12345"}, "号码", "", id="not-a-number"),
    pytest.param({"号码": "010-12345678转801"}, "号码", "", id="extension"),
]


@pytest.mark.parametrize(("fields", "column", "reason"), ROW_ERRORS)
def test_row_rules(inst_alice, tmp_path, fields, column, reason):
    """forms.md §1 columns: sub-port must start with its main port; 号码类型 given must match
    the detected kind; 用途 is 营销/催收/营销及催收; end >= start; a non-self user needs a
    valid credit code; carrier required; 备注 ≤ 500; numbers with lost digits rejected
    (forms.md intro). Each error names the column and a Chinese reason."""
    fields = {"号码": "13800138000", **fields}
    number = fields.pop("号码")
    job = run(inst_alice, write_xlsx(tmp_path / "r.xlsx", [line(number, **fields)]))
    assert job.status == ImportStatus.REJECTED
    (_, row) = error_rows(job)
    assert row[0] == "2"
    assert column in row[-2].split("、")
    assert reason in row[-1]
    assert CJK.search(row[-1])
    assert RegisteredNumber.objects.count() == 0


def test_lost_digits_and_formulas_in_the_number_column(inst_alice, tmp_path):
    """forms.md intro: floats recovered when exact (13800138000.0) and rejected when digits
    were lost (a 20-digit port stored as a float); reader.py: a formula cell without a
    cached value reads as '' and the validator reports the 号码 as empty."""

    def setup(ws):
        ws["A3"] = '=B2&""'  # a formula openpyxl stores without a cached value

    rows = [
        line(13800138000.0),
        line(None),
        line(10690123456789012345.0),
    ]
    job = run(inst_alice, write_xlsx(tmp_path / "f.xlsx", rows, setup=setup))
    assert job.status == ImportStatus.REJECTED
    report = error_rows(job)
    assert [(r[0], r[-2]) for r in report[1:]] == [("3", "号码"), ("4", "号码")]
    assert report[1][-1] == "号码不能为空"
    assert report[2][-1] and CJK.search(report[2][-1])


def test_dates_in_many_formats(inst_alice, tmp_path):
    """forms.md intro: dates accept Excel serials, 2026-03-01, 2026/3/1, 2026年3月1日 (and
    date cells, 2026.3.1, 20260301, a date-time)."""
    spellings = [
        "2026-03-01",
        "2026/3/1",
        "2026年3月1日",
        "2026.3.1",
        "20260301",
        46082,  # Excel serial as a number cell
        "46082",
        dt.date(2026, 3, 1),
        dt.datetime(2026, 3, 1, 8, 30),
        "２０２６－０３－０１",
    ]
    rows = [line(f"1380013{i:04d}", 合作起始日期=s) for i, s in enumerate(spellings)]
    job = run(inst_alice, write_xlsx(tmp_path / "d.xlsx", rows))
    assert job.status == ImportStatus.DONE, job.message
    assert {r.valid_from for r in active(inst_alice.organisation).values()} == {dt.date(2026, 3, 1)}


# -- ugly but valid files ---------------------------------------------------------------


def test_ugly_xlsx_title_rows_marked_headers_synonyms_floats_full_width(inst_alice, tmp_path):
    """forms.md intro: a merged title row above the header; headers matched after trimming,
    full-width folding and dropping '*' / '（必填）'; synonyms (号码/端口, 运营商, 开始日期...);
    column order free; unknown columns ignored and listed as a warning; floats
    (13800138000.0) and full-width digits recovered (domain.md Numbers)."""
    header = [
        "内部编号",
        " 开始日期* ",
        "运营商（必填）",
        "号码/端口*",
        "使用主体",
        "业务类型",
        "类型",
        "负责人",
    ]
    rows = [
        ["A-1", "2026-01-01", "移动", 13800138000.0, "本机构", "营销", "手机", "张三"],
        ["A-2", "2026-01-01", "中国联通", "１３９ ００１３ ９０００", "本行", "催收", None, None],
        ["A-3", 46023, "电信", 95588, "甲银行", "营销及催收", "短号码", "李四"],
    ]

    def setup(ws):
        ws.merge_cells("A1:H1")
        ws.merge_cells("A2:H2")

    path = write_xlsx(
        tmp_path / "ugly.xlsx",
        rows,
        header,
        titles=[["甲银行营销及催收号码登记表"], ["填报日期：2026年3月1日"]],
        setup=setup,
    )
    job = run(inst_alice, path)
    assert job.status == ImportStatus.DONE, job.message
    assert job.created == 3
    assert "已忽略未知列：内部编号、负责人" in job.warnings
    numbers = active(inst_alice.organisation)
    assert set(numbers) == {"13800138000", "13900139000", "95588"}
    assert numbers["13800138000"].carrier == "中国移动"
    assert numbers["95588"].user_name == "本机构"  # the institution's own name
    assert numbers["95588"].valid_from == dt.date(2026, 1, 1)


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_gb18030_and_utf8_with_chinese_headers(inst_alice, tmp_path, encoding):
    """forms.md: CSV in UTF-8, UTF-8 with BOM and GB18030, Chinese headers and values."""
    rows = [
        line("13800138000", 使用单位="甲银行杭州分行", 使用单位统一社会信用代码=BRANCH_CODE),
        line("13800138001.0", 备注="营销短信专用"),
        line("1.3800138002E+10", 用途="催收", 合作起始日期="2026年1月1日"),
    ]
    path = write_csv(tmp_path / "n.csv", rows, encoding=encoding)
    job = run(inst_alice, path)
    assert job.status == ImportStatus.DONE, job.message
    numbers = active(inst_alice.organisation)
    assert set(numbers) == {"13800138000", "13800138001", "13800138002"}
    assert numbers["13800138000"].user_name == "甲银行杭州分行"
    assert numbers["13800138001"].remark == "营销短信专用"


def test_xls_97_2003(inst_alice, tmp_path):
    """forms.md: the forms are read from .xls too (xlwt writes BIFF8 like Excel 97-2003),
    with numbers stored as floats and dates as date cells."""
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("号码登记表")
    header = ["号码", "用途", "使用单位", "电信运营商", "合作起始日期"]
    for c, h in enumerate(header):
        ws.write(0, c, h)
    ws.write(1, 0, 13800138000.0)
    ws.write(1, 1, "营销")
    ws.write(1, 2, "本机构")
    ws.write(1, 3, "中国移动")
    ws.write(1, 4, dt.date(2026, 3, 1), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    path = tmp_path / "old.xls"
    wb.save(str(path))
    job = run(inst_alice, path)
    assert job.status == ImportStatus.DONE, job.message
    assert active(inst_alice.organisation)["13800138000"].valid_from == dt.date(2026, 3, 1)


def test_missing_required_columns_reject_the_file_with_the_list(inst_alice, tmp_path):
    """forms.md intro: "a missing required column rejects the file with the list of what is
    missing"."""
    path = write_xlsx(tmp_path / "m.xlsx", [["13800138000", "营销"]], ["号码", "用途"])
    job = run(inst_alice, path)
    assert job.status == ImportStatus.REJECTED
    assert job.message == "缺少必填列：使用单位、电信运营商、合作起始日期"
    assert not job.error_report
    assert RegisteredNumber.objects.count() == 0


def test_header_without_rows_is_rejected(inst_alice, tmp_path):
    """forms.md intro: blank rows are skipped; a register with no data row imports nothing
    and says so."""
    job = run(inst_alice, write_xlsx(tmp_path / "h.xlsx", [[None] * len(FULL)]))
    assert job.status == ImportStatus.REJECTED
    assert job.message == "文件中没有数据行（表头下方为空）"
    assert staged(job) == 0


# -- hostile files ----------------------------------------------------------------------


def _plain_xlsx(tmp_path) -> Path:
    return write_xlsx(tmp_path / "plain.xlsx", [line("13800138000")])


def _rezip(src: Path, dst: Path, extra) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        for name, data in extra:
            zout.writestr(name, data)
    return dst


def _html(tmp_path):
    body = "<html><body><table><tr><td>号码</td></tr></table></body></html>"
    path = tmp_path / "导出.xls"
    path.write_text(body, encoding="utf-8")
    return path


def _zip_bomb(tmp_path):
    return _rezip(
        _plain_xlsx(tmp_path), tmp_path / "bomb.xlsx", [("xl/media/z.bin", bytes(4 << 20))]
    )


def _vba(tmp_path):
    return _rezip(
        _plain_xlsx(tmp_path), tmp_path / "vba.xlsx", [("xl/vbaProject.bin", b"\x00" * 64)]
    )


def _encrypted_ole(tmp_path):
    from tests.registry.test_files import make_ole

    path = tmp_path / "locked.xlsx"
    path.write_bytes(
        make_ole(
            [("EncryptionInfo", 2), ("EncryptedPackage", 2)],
            {
                "EncryptionInfo": b"\x04\x00\x04\x00" + b"\x00" * 600,
                "EncryptedPackage": b"\x01" * 600,
            },
        )
    )
    return path


def _png(tmp_path):
    path = tmp_path / "截图.xlsx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64)
    return path


def _empty(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    return path


def _csv_as_xls(tmp_path):
    path = tmp_path / "text.xls"
    path.write_text("号码,用途\n13800138000,营销\n", encoding="gb18030")
    return path


HOSTILE = [
    pytest.param(_html, "html_disguised", "网页（HTML）", id="html-named-xls"),
    pytest.param(_zip_bomb, "zip_bomb", "压缩炸弹", id="zip-bomb"),
    pytest.param(_vba, "macro", "宏", id="vbaProject.bin"),
    pytest.param(_encrypted_ole, "encrypted", "已加密", id="encrypted-ole"),
    pytest.param(_png, "type_mismatch", "PNG 图片", id="png-named-xlsx"),
    pytest.param(_empty, "empty", "文件为空", id="empty"),
    pytest.param(_csv_as_xls, "csv_disguised", "不是真正的 Excel 文件", id="csv-named-xls"),
]


@pytest.mark.parametrize(("build", "code", "fragment"), HOSTILE)
def test_hostile_files_become_rejected_jobs(inst_alice, tmp_path, build, code, fragment):
    """Issue item 10 / importers/files.py (hostile uploads): HTML named .xls, zip bomb, macros,
    encrypted OLE, a picture named .xlsx, an empty file -> a rejected job with a Chinese
    message, never an exception (no 500), nothing imported; running it is a no-op."""
    path = build(tmp_path)
    job, created = upload(inst_alice, path)
    assert created
    assert job.status == ImportStatus.REJECTED
    assert fragment in job.message
    assert CJK.search(job.message)
    assert job.finished_at is not None
    again = services.import_job_run(job_id=job.pk)
    assert again.status == ImportStatus.REJECTED and again.attempts == 0
    assert RegisteredNumber.objects.count() == 0
    assert staged(job) == 0


def test_content_file_upload_is_accepted(inst_alice, tmp_path):
    """Issue item 10 (uploads through import_job_create): the services take any Django File,
    e.g. ContentFile (the API passes in-memory uploads)."""
    data = write_xlsx(tmp_path / "x.xlsx", [line("13800138000")]).read_bytes()
    job, created = services.import_job_create(
        actor=inst_alice,
        institution=inst_alice.organisation,
        upload=ContentFile(data, name="上传.xlsx"),
        original_name="上传.xlsx",
        enqueue=False,
    )
    assert created and job.size == len(data)
    assert services.import_job_run(job_id=job.pk).status == ImportStatus.DONE


def test_over_size_upload_is_refused_before_a_job_exists(inst_alice, tmp_path, settings):
    """Issue item 10 / settings.UPLOAD_MAX_BYTES: a file over the limit is refused at once,
    before a job exists, with the limit in the message."""
    settings.UPLOAD_MAX_BYTES = 2048
    path = tmp_path / "big.csv"
    path.write_text("号码\n" + "13800138000\n" * 400, encoding="utf-8")
    with pytest.raises(services.ImportRejected) as info:
        upload(inst_alice, path)
    assert info.value.code == "too_large"
    assert info.value.message.endswith("超过上限 2 KB，请拆分为多个文件后分批上传")
    assert UploadJob.objects.count() == 0


# -- idempotency ------------------------------------------------------------------------


def test_same_content_twice_returns_the_existing_job(inst_alice, tmp_path):
    """Issue item 10 (idempotency): the same file content uploaded twice returns the
    existing job (created=False), under any file name; nothing is imported twice."""
    path = write_xlsx(tmp_path / "a.xlsx", [line("13800138000"), line("13800138001")])
    job = run(inst_alice, path)
    rows = snapshot()
    copy = tmp_path / "副本.xlsx"
    copy.write_bytes(path.read_bytes())
    for candidate in (path, copy):
        again, created = upload(inst_alice, candidate)
        assert (again.pk, created) == (job.pk, False)
    assert "未重复导入" in services.duplicate_message(job)
    assert UploadJob.objects.count() == 1
    assert snapshot() == rows


def test_queued_job_is_also_recognised(inst_alice, tmp_path):
    """Issue item 10 (idempotency): a second upload of content still waiting in the queue
    does not enqueue it twice."""
    path = write_xlsx(tmp_path / "a.xlsx", [line("13800138000")])
    first, _ = upload(inst_alice, path)
    second, created = upload(inst_alice, path)
    assert (second.pk, created, second.status) == (first.pk, False, ImportStatus.QUEUED)


def test_rejected_content_may_be_uploaded_again(inst_alice, tmp_path):
    """Issue item 10 (idempotency): only queued, running and imported jobs count as "already
    uploaded": a rejected file
    can be sent again (e.g. after a partner was registered)."""
    path = write_xlsx(tmp_path / "a.xlsx", [line("13800138000", 用途="推广")])
    first = run(inst_alice, path)
    assert first.status == ImportStatus.REJECTED
    second, created = upload(inst_alice, path)
    assert created and second.pk != first.pk


def test_same_bytes_from_another_institution_is_its_own_job(inst_alice, inst_bob, tmp_path):
    """Issue item 10 (tenancy; 000 §二(一)5): the duplicate check is per institution; bob uploading
    the bytes alice uploaded gets his own job, never hers."""
    path = write_xlsx(tmp_path / "a.xlsx", [line("13800138000")])
    alice_job = run(inst_alice, path)
    bob_job, created = upload(inst_bob, path)
    assert created and bob_job.pk != alice_job.pk
    assert bob_job.organisation == inst_bob.organisation
    bob_job = services.import_job_run(job_id=bob_job.pk)
    # Issue 9 §6: alice has the number too: imported, counted as 多机构登记, nobody named.
    assert bob_job.status == ImportStatus.DONE
    assert bob_job.counts == {"shared": 1}


def test_finished_job_is_not_run_again(inst_alice, tmp_path):
    """Issue item 10 (idempotency; tasks.py acks late): a redelivered task for a finished job
    changes nothing."""
    job = run(inst_alice, write_xlsx(tmp_path / "a.xlsx", [line("13800138000")]))
    rows = snapshot()
    again = services.import_job_run(job_id=job.pk)
    assert (again.status, again.attempts, again.created) == (ImportStatus.DONE, 1, 1)
    assert snapshot() == rows


# -- a worker dying mid-way; atomicity --------------------------------------------------


def _crash(monkeypatch, *, after_merge: bool):
    """The worker dies at a batch's merge (before or after its statements ran), whichever
    way the batch merges (a first register copies straight into the register)."""
    real = merging.RegisterStaging.merge_batch

    def merge_batch(self, batch):
        if after_merge:
            real(self, batch)
        raise RuntimeError("worker lost")

    monkeypatch.setattr(merging.RegisterStaging, "merge_batch", merge_batch)


def _alice_register(inst_alice, tmp_path):
    seed(inst_alice, tmp_path, ["13800138000", "13800138001", "13800138002"])
    return write_xlsx(
        tmp_path / "next.xlsx",
        [line("13800138000", 电信运营商="中国联通"), line("13800138009")],
    )


@pytest.mark.parametrize("after_merge", [False, True], ids=["before-merge", "after-merge"])
def test_worker_dying_mid_way_leaves_the_registry_and_a_rerun_completes_once(
    inst_alice, tmp_path, monkeypatch, after_merge
):
    """tasks.py / issue item 10: a worker dying mid-way leaves the registry as it was (the
    merge is one transaction, even after its statements ran); the redelivered task runs the
    same job again and completes it exactly once, in replace mode too."""
    path = _alice_register(inst_alice, tmp_path)
    before = snapshot()
    job, _ = upload(inst_alice, path, mode="replace")
    _crash(monkeypatch, after_merge=after_merge)
    with pytest.raises(RuntimeError, match="worker lost"):
        services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (ImportStatus.RUNNING, 1)
    assert snapshot() == before
    monkeypatch.undo()
    job = services.import_job_run(job_id=job.pk)
    assert job.status == ImportStatus.DONE, job.message
    assert (job.attempts, job.created, job.updated, job.unchanged, job.ended) == (2, 1, 1, 0, 2)
    assert set(active(inst_alice.organisation)) == {"13800138000", "13800138009"}
    assert RegisteredNumber.objects.filter(number="13800138009").count() == 1
    assert RegisteredNumber.objects.count() == 5  # 3 seeded, 1 new version, 1 new number
    assert staged(job) == 0


def test_an_attempt_overtaken_by_a_redelivery_does_not_merge(inst_alice, tmp_path, monkeypatch):
    """tasks.py (acks late; issue 5 "the job still finishes exactly once"): when the broker
    redelivers a job whose first worker is still alive (lost connection, visibility
    timeout), the attempt that no longer holds the newest attempt number must not merge;
    the later attempt does, once."""
    path = _alice_register(inst_alice, tmp_path)
    before = snapshot()
    job, _ = upload(inst_alice, path, mode="replace")
    real_analyze = merging.refresh_statistics

    def overtaken():
        # Another worker claimed the job while this one was still staging.
        UploadJob.objects.filter(pk=job.pk).update(attempts=5)
        real_analyze()

    monkeypatch.setattr(merging, "refresh_statistics", overtaken)
    stale = services.import_job_run(job_id=job.pk)
    assert (stale.status, stale.attempts) == (ImportStatus.RUNNING, 5)
    assert snapshot() == before
    monkeypatch.undo()
    done = services.import_job_run(job_id=job.pk)
    assert (done.status, done.attempts, done.created, done.ended) == (ImportStatus.DONE, 6, 1, 2)
    assert AuditEvent.objects.filter(action="import.done", object_id=str(job.pk)).count() == 1


def test_failure_while_recording_the_import_rolls_the_merge_back(inst_alice, tmp_path, monkeypatch):
    """style.md (atomic, audited): the audit event 'import.done' is written in the merge's
    transaction; if it fails, the registry is exactly as before (replace mode: no number
    ended) and the job is not marked done."""
    from portal import audit

    path = _alice_register(inst_alice, tmp_path)
    before = snapshot()
    real = audit.record

    def record(action, **kwargs):
        if action == "import.done":
            raise RuntimeError("audit store unavailable")
        return real(action, **kwargs)

    monkeypatch.setattr(audit, "record", record)
    job, _ = upload(inst_alice, path, mode="replace")
    with pytest.raises(RuntimeError):
        services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING
    assert (job.created, job.updated, job.ended) == (0, 0, 0)
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_worker_dying_after_merge_with_real_commits(org_alice, tmp_path, monkeypatch):
    """Issue item 10 (atomicity; architecture.md: one transaction merges): the same crash
    with real transactions (no test-wrapping savepoint): only the merge's
    own transaction protects the registry."""
    alice = _user(org_alice, "alice")
    path = _alice_register(alice, tmp_path)
    before = snapshot()
    job, _ = upload(alice, path, mode="replace")
    _crash(monkeypatch, after_merge=True)
    with pytest.raises(RuntimeError):
        services.import_job_run(job_id=job.pk)
    assert snapshot() == before
    assert UploadJob.objects.get(pk=job.pk).status == ImportStatus.RUNNING
    monkeypatch.undo()
    job = services.import_job_run(job_id=job.pk)
    assert (job.status, job.created, job.updated, job.ended) == (ImportStatus.DONE, 1, 1, 2)
    assert staged(job) == 0


def test_import_job_fail_marks_failed_in_chinese_and_clears_staging(
    inst_alice, tmp_path, monkeypatch
):
    """tasks.py: when retries are exhausted the job is failed with a Chinese message, the
    staging rows of the attempt are gone, the registry is unchanged; a finished job is
    never turned into a failed one."""
    path = _alice_register(inst_alice, tmp_path)
    before = snapshot()
    job, _ = upload(inst_alice, path)
    _crash(monkeypatch, after_merge=False)
    with pytest.raises(RuntimeError):
        services.import_job_run(job_id=job.pk)
    # Issue 9 item 7: staging is part of the merge transaction, so a crash leaves none.
    assert staged(job) == 0
    services.import_job_fail(job_id=job.pk, reason="处理过程中出现系统错误")
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.message == "导入失败，号码登记未作任何修改：处理过程中出现系统错误"
    assert job.finished_at is not None
    assert staged(job) == 0
    assert snapshot() == before
    assert services.import_job_run(job_id=job.pk).status == ImportStatus.FAILED

    monkeypatch.undo()
    done = seed(inst_alice, tmp_path, ["13900139000"], name="other.xlsx")
    services.import_job_fail(job_id=done.pk, reason="x")
    done.refresh_from_db()
    assert done.status == ImportStatus.DONE


def test_task_gives_up_after_retries(inst_alice, tmp_path, monkeypatch):
    """Issue item 10 / tasks.run_import_job: a crashing import is retried (max_retries=2, each
    attempt from scratch), then failed through import_job_fail; the registry is unchanged."""
    # Eager retries re-run in apply() only when the Retry is not propagated.
    monkeypatch.setattr(portal_tasks.run_upload_job.app.conf, "task_eager_propagates", False)
    path = _alice_register(inst_alice, tmp_path)
    before = snapshot()
    job, _ = upload(inst_alice, path)
    _crash(monkeypatch, after_merge=True)
    result = portal_tasks.run_upload_job.apply(args=[job.pk])
    assert result.result == "failed"
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.attempts == 3
    assert "号码登记未作任何修改" in job.message
    assert snapshot() == before
    assert staged(job) == 0


# -- tenancy ----------------------------------------------------------------------------


def test_only_the_institutions_own_writers_import(
    inst_alice, inst_bob, org_alice, carrier_carol, regulator_rita, tmp_path
):
    """Issue item 10 (tenancy) / architecture.md: bob cannot import into alice's institution; a
    viewer (查看) cannot write; neither can a carrier or the regulator; only institutions
    have a register."""
    path = write_xlsx(tmp_path / "a.xlsx", [line("13800138000")])
    viewer = _user(org_alice, "vera", role="viewer")
    codes = {
        inst_bob: "not_own_institution",
        viewer: "viewer_read_only",
        carrier_carol: "not_institution",
        regulator_rita: "not_institution",
    }
    for actor, code in codes.items():
        with pytest.raises(NotPermitted) as info:
            upload(actor, path, institution=org_alice)
        assert info.value.code == code  # issue 10 §4: services.write_denial, one rule
    with pytest.raises(PortalError) as info:
        upload(carrier_carol, path)
    assert info.value.code == "not_institution"
    operator = _user(org_alice, "otto", role="operator")
    assert run(operator, path).status == ImportStatus.DONE
    assert UploadJob.objects.count() == 1


def test_bob_sees_none_of_alices_jobs_numbers_or_files(
    inst_alice, inst_bob, carrier_carol, regulator_rita, tmp_path
):
    """Issue item 10 (tenancy) / architecture.md: data of different institutions isolated (000
    §二(一)5); regulators see all; carriers see no institution's register. Stored files carry
    server-made names, never the user's file name or the institution."""
    good = run(inst_alice, write_xlsx(tmp_path / "甲银行号码.xlsx", [line("13800138000")]))
    bad = run(inst_alice, write_xlsx(tmp_path / "甲银行错误.xlsx", [line("1", 用途="x")]))
    assert UploadJob.objects.visible_to(inst_bob).count() == 0
    assert RegisteredNumber.objects.visible_to(inst_bob).count() == 0
    assert UploadJob.objects.visible_to(carrier_carol).count() == 0
    assert RegisteredNumber.objects.visible_to(carrier_carol).count() == 0
    assert set(UploadJob.objects.visible_to(inst_alice)) == {good, bad}
    assert UploadJob.objects.visible_to(regulator_rita).count() == 2
    assert RegisteredNumber.objects.visible_to(regulator_rita).count() == 1
    for name in (good.file.name, bad.file.name, bad.error_report.name):
        assert re.fullmatch(r"uploads/\d{4}/\d{2}/[0-9a-f]{32}\.xlsx", name)
    assert bad.original_name == "甲银行错误.xlsx"


def test_staging_rows_of_one_job_never_mix_with_anothers(
    inst_alice, inst_bob, tmp_path, monkeypatch
):
    """Issue item 10 (tenancy): staging is keyed by job: an interrupted import of bob's leaves rows
    that alice's import neither merges nor reports as duplicates."""
    bob_job, _ = upload(inst_bob, write_xlsx(tmp_path / "b.xlsx", [line("13800138000")]))
    _crash(monkeypatch, after_merge=False)
    with pytest.raises(RuntimeError):
        services.import_job_run(job_id=bob_job.pk)
    monkeypatch.undo()
    job = run(inst_alice, write_xlsx(tmp_path / "a.xlsx", [line("13800138000")]))
    assert job.status == ImportStatus.DONE, job.message
    assert RegisteredNumber.objects.visible_to(inst_bob).count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_uploads_of_one_institution_at_once_are_serialised_and_none_is_lost(
    inst_alice, tmp_path
):
    """Issue 4 §3: "two uploads for one institution at once are serialised, none lost". Two
    workers merge two files of the same institution at the same moment (each thread with a
    connection of its own): both jobs finish and every number of both files is registered
    once (the merge lock). On the embedded SQLite default one worker (``--pool solo``) runs
    imports one after the other; the in-memory test database cannot host two writers."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip(
            "concurrent writers need PostgreSQL (the embedded worker runs one job at a time)"
        )

    first = [f"1380013{i:04d}" for i in range(300)]
    second = [f"1390013{i:04d}" for i in range(300)] + first[:50]  # 50 numbers in both
    jobs = [
        upload_file(inst_alice, register_csv(tmp_path / "a.csv", first)),
        upload_file(inst_alice, register_csv(tmp_path / "b.csv", second)),
    ]
    start = threading.Barrier(2)
    failures = []

    def work(job_id):
        try:
            start.wait()
            services.import_job_run(job_id=job_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(job.pk,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    for job in jobs:
        job.refresh_from_db()
        assert job.status == ImportStatus.DONE, job.message
    # Either order: a then b (300 new, then 300 new + 50 unchanged) or b then a (350, 250).
    assert sorted(j.created for j in jobs) in ([300, 300], [250, 350])
    assert set(active(inst_alice.organisation)) == set(first) | set(second)
    assert RegisteredNumber.objects.filter(number=first[0]).count() == 1
