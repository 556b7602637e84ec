"""The administration starts a cross-match in chromium, watches it finish, opens a
finding's evidence side by side and downloads the report (issue 13 §8; 000 §三(三))."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from oversight.models import Finding
from tests.browser.test_dashboards import login
from tests.conftest import totp_code
from tests.oversight.test_reconcile import world  # noqa: F401 - a fixture

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _day(settings, tmp_path, time_machine):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    time_machine.move_to(dt.datetime(2026, 11, 20, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.mark.usefixtures("world")
def test_regulator_runs_the_cross_match_and_reads_the_evidence(
    page, live_server, regulator_rita, shot
):
    login(page, live_server, "rita")
    page.wait_for_url("**/accounts/2fa/")
    page.get_by_label("动态验证码").fill(totp_code(regulator_rita))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/oversight/runs/")
    page.locator("input[name=as_of]").fill("2026-11-20")
    page.get_by_test_id("run-start").click()
    page.wait_for_url("**/oversight/runs/*/")
    page.wait_for_selector("[data-testid=run-progress][data-status=done]")
    assert "发现问题线索 14 条" in page.get_by_test_id("run-message").inner_text()
    shot(page, "reconcile-run")

    page.get_by_test_id("run-findings").click()
    page.wait_for_url("**/oversight/findings/?run=*")
    assert page.get_by_test_id("finding-row").count() == 14
    shot(page, "reconcile-findings")
    finding = Finding.objects.get(code="UNREGISTERED", number="13900000001")
    page.goto(f"{live_server.url}/oversight/findings/{finding.pk}/")
    report = page.get_by_test_id("evidence-report").inner_text()
    assert "13900000001" in report and "第 1 版" in report
    assert "没有登记" in page.get_by_test_id("evidence-register").inner_text()
    shot(page, "reconcile-evidence")

    page.goto(f"{live_server.url}/oversight/runs/{finding.run_id}/")
    with page.expect_download() as download:
        page.get_by_test_id("run-report").click()
    with open(download.value.path(), "rb") as fh:  # a temporary name without .xlsx
        wb = openpyxl.load_workbook(fh)
    assert wb.sheetnames[0] == "汇总" and "UNREGISTERED" in wb.sheetnames
