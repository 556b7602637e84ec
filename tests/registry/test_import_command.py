"""``python manage.py import_numbers --institution CODE [--replace] FILE``
(registry/management/commands/import_numbers.py).

The same pipeline as the upload page (forms.md §1; 000 §三(一)1), synchronously: one JSON
line with status/rows/created/updated/ended/errors/error_report/message; exit 0 when
imported, 1 when rejected or on bad arguments; never a traceback (issue item 10).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.management import call_command

from portal.models import UploadJob
from registry.models import RegisteredNumber, Status
from tests.conftest import CODES

pytestmark = pytest.mark.usefixtures("fixed_day")

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = ["号码", "用途", "使用单位", "电信运营商", "合作起始日期", "备注"]
KEYS = {"status", "rows", "created", "updated", "ended", "errors", "error_report", "message"}


def xlsx(path: Path, numbers, **overrides) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for number in numbers:
        values = {
            "号码": number,
            "用途": "营销",
            "使用单位": "本机构",
            "电信运营商": "中国移动",
            "合作起始日期": "2026-01-01",
            "备注": "",
            **overrides,
        }
        ws.append([values[h] for h in HEADER])
    wb.save(path)
    return path


def cli(*args) -> tuple[int, dict, str]:
    """Run the command; (exit code, the JSON line, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_numbers", *map(str, args), stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, out.getvalue()
    payload = json.loads(lines[0])
    assert set(payload) == KEYS
    return code, payload, err.getvalue()


def test_import_prints_one_json_line_and_exits_0(org_alice, tmp_path):
    """forms.md §1 through the CLI: imported -> exit 0 and the counts."""
    path = xlsx(tmp_path / "号码.xlsx", ["13800138000", "13800138001", "95588"])
    code, out, err = cli("--institution", CODES["alice"], path)
    assert code == 0
    assert out["status"] == "imported"
    assert (out["rows"], out["created"], out["updated"], out["ended"], out["errors"]) == (
        3,
        3,
        0,
        0,
        0,
    )
    assert out["error_report"] is None
    assert out["message"] == "已导入 3 行：新增 3，变更 0，未变 0，终止 0"
    assert err == ""
    job = UploadJob.objects.get()
    assert (job.organisation, job.created_by, job.original_name) == (org_alice, None, "号码.xlsx")
    assert RegisteredNumber.objects.filter(institution=org_alice).count() == 3


def test_row_errors_exit_1_with_the_error_report(org_alice, tmp_path):
    """forms.md intro: any row error -> nothing imported; the error workbook's path is
    printed; exit 1."""
    path = xlsx(tmp_path / "bad.xlsx", ["13800138000", "12345"])
    code, out, _ = cli("--institution", CODES["alice"], path)
    assert code == 1
    assert out["status"] == "rejected"
    assert out["errors"] == 1
    assert out["message"].startswith("文件中有 1 行错误，未导入任何数据")
    report = Path(out["error_report"])
    assert report.is_file() and report.suffix == ".xlsx"
    rows = list(openpyxl.load_workbook(report)["错误明细"].iter_rows(values_only=True))
    assert rows[1][0] == 3  # 原行号, a number
    assert RegisteredNumber.objects.count() == 0


def test_replace_ends_numbers_absent_from_the_file(org_alice, tmp_path):
    """forms.md §1: --replace ends (never deletes) the numbers absent from the file."""
    assert (
        cli(
            "--institution",
            CODES["alice"],
            xlsx(tmp_path / "a.xlsx", ["13800138000", "13800138001"]),
        )[0]
        == 0
    )
    code, out, _ = cli(
        "--institution", CODES["alice"], "--replace", xlsx(tmp_path / "b.xlsx", ["13800138000"])
    )
    assert code == 0
    assert (out["created"], out["updated"], out["ended"]) == (0, 0, 1)
    ended = RegisteredNumber.objects.get(number="13800138001")
    assert (ended.status, ended.valid_to) == (Status.ENDED, dt.date(2026, 3, 10))
    assert RegisteredNumber.objects.count() == 2


def test_same_file_twice_is_not_imported_twice(org_alice, tmp_path):
    """Issue item 10 (idempotency): the second run reports the earlier job, imports
    nothing, and still exits 0 (the content is imported)."""
    path = xlsx(tmp_path / "a.xlsx", ["13800138000"])
    cli("--institution", CODES["alice"], path)
    code, out, _ = cli("--institution", CODES["alice"], path)
    assert code == 0
    assert out["status"] == "imported"
    assert (out["created"], out["updated"], out["ended"]) == (0, 0, 0)
    assert "未重复导入" in out["message"]
    assert UploadJob.objects.count() == 1
    assert RegisteredNumber.objects.count() == 1


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("91330000MA2A1CE00X", "校验码错误"),
        ("123", "应为 18 位"),
        (CODES["carrier"], "未找到统一社会信用代码为"),  # a carrier, not an institution
        ("91330100MA2PART01W", "的金融机构"),  # valid, but nobody's
    ],
    ids=["check-char", "short", "carrier", "unknown"],
)
def test_bad_institution_exits_1_with_a_chinese_message(
    org_alice, org_carrier, tmp_path, code, fragment
):
    """Issue item 10 (CLI): bad arguments -> exit 1 and a Chinese message, never a traceback."""
    path = xlsx(tmp_path / "a.xlsx", ["13800138000"])
    exit_code, out, err = cli("--institution", code, path)
    assert exit_code == 1
    assert out["status"] == "rejected"
    assert fragment in out["message"]
    assert err == ""
    assert UploadJob.objects.count() == 0


def test_missing_file_exits_1(org_alice, tmp_path):
    """Issue item 10 (CLI): a path that is not a file -> exit 1 with a message."""
    code, out, _ = cli("--institution", CODES["alice"], tmp_path / "nope.xlsx")
    assert code == 1
    assert out["message"].startswith("文件不存在")


def test_hostile_file_exits_1(org_alice, tmp_path):
    """Issue item 10 (hostile files): HTML saved as .xls is rejected by the CLI exactly as
    online."""
    path = tmp_path / "a.xls"
    path.write_text("<html><table><tr><td>号码</td></tr></table></html>", encoding="utf-8")
    code, out, _ = cli("--institution", CODES["alice"], path)
    assert code == 1
    assert "网页（HTML）" in out["message"]
    assert RegisteredNumber.objects.count() == 0


def test_over_size_file_exits_1(org_alice, tmp_path, settings):
    """Issue item 10 (over-size): UPLOAD_MAX_BYTES applies to the CLI as well (no job is
    created)."""
    settings.UPLOAD_MAX_BYTES = 1024
    path = xlsx(tmp_path / "a.xlsx", ["13800138000"])
    code, out, _ = cli("--institution", CODES["alice"], path)
    assert code == 1
    assert "超过上限 1 KB" in out["message"]
    assert UploadJob.objects.count() == 0


def test_missing_columns_exit_1_with_the_list(org_alice, tmp_path):
    """forms.md intro: a missing required column rejects the file, listing what is
    missing."""
    wb = openpyxl.Workbook()
    wb.active.append(["号码", "备注"])
    wb.active.append(["13800138000", "x"])
    path = tmp_path / "a.xlsx"
    wb.save(path)
    code, out, _ = cli("--institution", CODES["alice"], path)
    assert code == 1
    assert out["message"] == "缺少必填列：用途、使用单位、电信运营商、合作起始日期"
