"""Issue 11 §8, end to end in chromium: a carrier uploads its 服务对象报送表, sees the error
report, fixes the file and submits; the regulator compares it with the previous quarter's
accepted report and accepts it; the carrier sees 已受理."""

from __future__ import annotations

import datetime as dt

import pytest
from python_calamine import CalamineWorkbook

from portal.workdays import SHANGHAI
from registry import services
from registry.models import ReportStatus, ServiceReport
from tests.browser.test_dashboards import login
from tests.browser.test_registry_upload import eager_celery  # noqa: F401 - a fixture
from tests.conftest import totp_code
from tests.reports import report_csv, row, submitted_report

pytestmark = pytest.mark.browser


@pytest.fixture
def q3_accepted(carrier_carol, regulator_rita, tmp_path, settings, time_machine):
    """The previous quarter's accepted report: three numbers (submitted in September)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    time_machine.move_to(dt.datetime(2026, 9, 15, 10, 0, tzinfo=SHANGHAI), tick=False)
    report = submitted_report(
        carrier_carol, tmp_path, ["13800138000", "13800138001", "13800138002"], (2026, 3)
    )
    return services.service_report_accept(actor=regulator_rita, report=report)


def upload(page, path) -> None:
    page.get_by_test_id("upload-link").click()
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_test_id("upload-submit").click()
    page.wait_for_selector(
        "[data-testid=import-progress][data-status=done], "
        "[data-testid=import-progress][data-status=rejected]"
    )


def test_carrier_submits_regulator_compares_and_accepts(
    page,
    live_server,
    carrier_carol,
    regulator_rita,
    inst_alice,
    q3_accepted,
    eager_celery,  # noqa: F811
    tmp_path,
    shot,
    time_machine,
):
    time_machine.move_to(dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI), tick=True)
    login(page, live_server, "carol")
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_test_id("deadline-report-link").click()
    page.wait_for_url(f"{live_server.url}/reports/")
    assert "2026-12-24 24:00" in page.get_by_test_id("current-quarter").inner_text()

    bad = report_csv(
        tmp_path / "服务对象报送表.csv",
        [row("13800138000"), row("1380013"), row("13800138003", 用途="飞行")],
    )
    upload(page, bad)
    assert page.get_by_test_id("import-progress").get_attribute("data-status") == "rejected"
    assert "2 行错误" in page.get_by_test_id("job-message").inner_text()
    shot(page, "report-upload-rejected")
    with page.expect_download() as download_info:
        page.get_by_test_id("error-report").click()
    report_file = tmp_path / "errors.xlsx"
    download_info.value.save_as(report_file)
    rows = CalamineWorkbook.from_path(str(report_file)).get_sheet_by_name("错误明细").to_python()
    assert [r[0] for r in rows[1:]] == [3.0, 4.0]
    assert "用途“飞行”无效" in rows[2][-1]

    page.goto(f"{live_server.url}/reports/")
    good = report_csv(
        tmp_path / "服务对象报送表-已修改.csv",
        [row("13800138000"), row("13800138001", 用途="催收"), row("13800138003")],
    )
    upload(page, good)
    assert page.get_by_test_id("import-progress").get_attribute("data-status") == "done"
    page.get_by_role("link", name="查看报送").click()
    assert page.get_by_test_id("report-status").first.inner_text() == "草稿"
    page.get_by_test_id("submit-report").click()
    assert page.get_by_test_id("report-status").first.inner_text() == "已提交"
    shot(page, "report-submitted")
    report = ServiceReport.objects.get(year=2026, quarter=4)
    assert report.status == ReportStatus.SUBMITTED and report.late_working_days == 0

    page.context.clear_cookies()
    login(page, live_server, "rita")
    page.wait_for_url("**/accounts/2fa/")
    page.get_by_label("动态验证码").fill(totp_code(regulator_rita))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="服务对象报送").click()
    page.get_by_role("link", name="2026 年第 4 季度").click()
    page.get_by_test_id("compare-link").click()
    assert page.get_by_test_id("added-count").inner_text() == "1"
    assert page.get_by_test_id("ended-count").inner_text() == "1"
    assert page.get_by_test_id("changed-count").inner_text() == "1"
    assert "催收" in page.get_by_test_id("changed-table").inner_text()
    shot(page, "report-compare")
    page.get_by_role("link", name="2026 年第 4 季度 第 1 版").click()
    page.get_by_test_id("accept-report").click()
    assert page.get_by_test_id("report-status").first.inner_text() == "已受理"

    page.context.clear_cookies()
    login(page, live_server, "carol")
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_test_id("unread-count").is_visible()
    page.get_by_test_id("topbar-notices").click()
    page.get_by_test_id("notice").first.click()
    page.wait_for_url(f"**/reports/{report.pk}/")
    assert page.get_by_test_id("report-status").first.inner_text() == "已受理"
    shot(page, "report-accepted-carol")
