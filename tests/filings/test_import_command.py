"""``python manage.py import_sms_filing --carrier CODE FILE [--submit]`` and the upload of a
非应邀短信发送报备表 through the engine (issue 12 §2, §7): one JSON line, exact keys, rows as
Excel shows them, every check that fired; a blocking check submits nothing (draft, exit 1);
one bad row rejects the file with the one-pass error workbook (exit 1)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from python_calamine import CalamineWorkbook

from filings.importers.sms_filing import COLUMNS
from filings.models import FilingStatus, SmsFiling
from tests.conftest import CODES
from tests.filings.conftest import GOOD

pytestmark = pytest.mark.django_db
KEYS = ["status", "filings", "errors", "error_report", "message"]


def workbook(path: Path, rows: list[dict]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["某移动公司 非应邀短信发送报备表"])  # a title row above the header
    ws.append([f"★{c}" if c in ("报备单位", "短信内容") else c for c in COLUMNS])
    for row in rows:
        ws.append([{**GOOD, **row}.get(c, "") for c in COLUMNS])
    wb.save(path)
    return path


def cli(*args) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("import_sms_filing", *map(str, args), stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, out.getvalue()
    return code, json.loads(lines[0])


def test_submit_a_clean_file(carrier_carol, alice_ports, tmp_path):
    path = workbook(tmp_path / "报备.xlsx", [{}, {"退订方式": "", "计划发送数量": "1,000"}])
    code, out = cli("--carrier", CODES["carrier"], path, "--submit")
    assert code == 0
    assert list(out) == KEYS
    assert out["status"] == "submitted" and out["errors"] == 0 and out["error_report"] is None
    assert [f["row"] for f in out["filings"]] == [3, 4]
    assert out["filings"][0]["checks"] == []
    assert out["filings"][0]["port"] == "1069055599"
    assert out["filings"][1]["checks"] == [
        {
            "code": "NO_OPT_OUT",
            "blocking": False,
            "message": out["filings"][1]["checks"][0]["message"],
        }
    ]
    assert set(SmsFiling.objects.values_list("status", flat=True)) == {FilingStatus.SUBMITTED}
    assert SmsFiling.objects.get(pk=out["filings"][1]["id"]).planned_count == 1000


def test_without_submit_the_filings_stay_drafts(carrier_carol, alice_ports, tmp_path):
    code, out = cli("--carrier", CODES["carrier"], workbook(tmp_path / "a.xlsx", [{}]))
    assert code == 0 and out["status"] == "draft"
    assert SmsFiling.objects.get().status == FilingStatus.DRAFT


def test_a_blocking_check_submits_nothing(carrier_carol, alice_ports, tmp_path):
    path = workbook(tmp_path / "b.xlsx", [{}, {"计划发送开始时间": "2026-03-11 09:00"}])
    code, out = cli("--carrier", CODES["carrier"], path, "--submit")
    assert code == 1 and out["status"] == "draft"
    late = out["filings"][1]["checks"]
    assert [(c["code"], c["blocking"]) for c in late] == [("LATE", True)]
    assert set(SmsFiling.objects.values_list("status", flat=True)) == {FilingStatus.DRAFT}


def test_one_bad_row_rejects_the_file_with_one_error_workbook(carrier_carol, alice_ports, tmp_path):
    path = workbook(
        tmp_path / "c.xlsx",
        [
            {},
            {"计划发送开始时间": "下周一"},
            {"发送主体统一社会信用代码": "91330000MA2A1CE00X", "计划发送数量": "0"},
            {"报备单位": "某联通公司"},
        ],
    )
    code, out = cli("--carrier", CODES["carrier"], path, "--submit")
    assert code == 1 and out["status"] == "rejected"
    assert out["filings"] == [] and out["errors"] == 3
    assert SmsFiling.objects.count() == 0
    sheet = CalamineWorkbook.from_path(out["error_report"]).get_sheet_by_name("错误明细")
    rows = sheet.to_python()
    assert [r[0] for r in rows[1:]] == [4.0, 5.0, 6.0]
    assert "计划发送数量应为正整数" in rows[2][-1] and "不是本单位" in rows[3][-1]


def test_bad_arguments(db, tmp_path):
    code, out = cli("--carrier", CODES["carrier"], tmp_path / "none.xlsx")
    assert code == 1 and out["status"] == "rejected" and "未找到" in out["message"]
    code, out = cli("--carrier", "123", tmp_path / "none.xlsx")
    assert code == 1 and out["status"] == "rejected"


def test_an_institution_cannot_upload_the_form(inst_alice, tmp_path):
    from django.core.files import File

    from portal.errors import PortalError
    from portal.spreadsheets.pipeline import upload_job_create

    path = workbook(tmp_path / "d.xlsx", [{}])
    with open(path, "rb") as fh, pytest.raises(PortalError):
        upload_job_create(
            actor=inst_alice,
            organisation=inst_alice.organisation,
            form="filings.sms",
            upload=File(fh, name="d.xlsx"),
            original_name="d.xlsx",
            enqueue=False,
        )
