"""``python manage.py import_service_report --carrier <credit code> --quarter 2026Q4 FILE
[--submit]`` (issue 11 §6): one JSON line ``{"status": "draft"|"submitted"|"rejected",
"report", "version", "rows", "errors", "error_report", "late_working_days", "message"}``;
exit 0, or 1 when the file is rejected (or on bad arguments)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command

from portal.workdays import SHANGHAI
from registry.models import ReportStatus, ServiceReport
from tests.conftest import CODES
from tests.reports import report_csv, row

pytestmark = pytest.mark.django_db
KEYS = [
    "status",
    "report",
    "version",
    "rows",
    "errors",
    "error_report",
    "late_working_days",
    "message",
]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def cli(*args) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("import_service_report", *map(str, args), stdout=out, stderr=io.StringIO())
        code = 0
    except SystemExit as exc:
        code = exc.code
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, out.getvalue()
    payload = json.loads(lines[0])
    assert list(payload) == KEYS
    return code, payload


def test_imports_a_draft_then_submits_late(org_carrier, time_machine, tmp_path):
    time_machine.move_to(dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI), tick=False)
    path = report_csv(tmp_path / "q4.csv", [row("13800138000"), row("13800138001")])
    code, out = cli("--carrier", CODES["carrier"], "--quarter", "2026Q4", path)
    assert code == 0
    assert out["status"] == "draft" and out["version"] == 1 and out["rows"] == 2
    assert out["errors"] == 0 and out["error_report"] is None and out["late_working_days"] == 0
    report = ServiceReport.objects.get(pk=out["report"])
    assert report.status == ReportStatus.DRAFT and report.line_count == 2

    # Q4 2026 is due Thu 2026-12-24; Mon 12-28 is 2 working days late (25, 28)
    time_machine.move_to(dt.datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI), tick=False)
    fixed = report_csv(tmp_path / "q4b.csv", [row("13800138000")])
    code, out = cli("--carrier", CODES["carrier"], "--quarter", "2026q4", fixed, "--submit")
    assert code == 0
    assert out["status"] == "submitted" and out["report"] == report.pk
    assert out["late_working_days"] == 2 and "逾期 2 个工作日" in out["message"]


def test_rejected_file_exits_1_with_the_error_report(org_carrier, time_machine, tmp_path):
    time_machine.move_to(dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI), tick=False)
    path = report_csv(tmp_path / "bad.csv", [row("13800138000"), row("12"), row("13800138000")])
    code, out = cli("--carrier", CODES["carrier"], "--quarter", "2026Q4", path, "--submit")
    assert code == 1
    assert out["status"] == "rejected" and out["errors"] == 2 and out["rows"] == 3
    assert out["error_report"].endswith(".xlsx")
    assert ServiceReport.objects.get(pk=out["report"]).status == ReportStatus.DRAFT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--carrier", "91330000MA2CAR0L0X", "--quarter", "2026Q4"], "校验码"),
        (["--carrier", "91330000MA2A1CE00B", "--quarter", "2026Q4"], "电信运营商"),
        (["--carrier", "91330000MA2CAR0L09", "--quarter", "2026Q5"], "季度"),
        (["--carrier", "91330000MA2CAR0L09", "--quarter", "2027Q1"], "2027"),
    ],
)
def test_bad_arguments_exit_1(org_carrier, org_alice, time_machine, tmp_path, args, message):
    time_machine.move_to(dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI), tick=False)
    path = report_csv(tmp_path / "r.csv", [row("13800138000")])
    code, out = cli(*args, path)
    assert code == 1 and out["status"] == "rejected" and out["report"] is None
    assert message in out["message"]
