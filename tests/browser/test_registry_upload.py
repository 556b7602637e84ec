"""An institution uploads its 号码登记表 in chromium: a bad file is refused with an error
workbook that names the bad rows; the fixed file imports (issue 4 §10; forms.md §1)."""

from __future__ import annotations

import pytest
from openpyxl import Workbook
from python_calamine import CalamineWorkbook

from portal.celery import app as celery_app
from registry.models import RegisteredNumber
from tests.browser.test_dashboards import login

pytestmark = pytest.mark.browser

HEADER = ["号码", "用途", "使用单位", "电信运营商", "合作起始日期"]


def register_file(path, rows) -> str:
    wb = Workbook()
    ws = wb.active
    ws.append(["甲银行 号码登记表"])  # a title row above the header
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return str(path)


@pytest.fixture
def eager_celery():
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def upload(page, live_server, path) -> None:
    page.goto(f"{live_server.url}/registry/imports/new/")
    page.locator("input[type=file]").set_input_files(path)
    page.get_by_test_id("upload-submit").click()
    page.wait_for_selector(
        "[data-testid=import-progress][data-status=done], "
        "[data-testid=import-progress][data-status=rejected]"
    )


def test_upload_error_report_fix_and_succeed(
    page, live_server, inst_alice, eager_celery, tmp_path, shot
):
    login(page, live_server, "alice")
    page.wait_for_url(f"{live_server.url}/")
    bad = register_file(
        tmp_path / "登记表.xlsx",
        [
            ["13800138000", "营销", "本机构", "中国移动", "2026-01-01"],
            ["1380013", "营销", "本机构", "中国移动", "2026-01-01"],
            ["13900139000", "飞行", "本机构", "中国移动", "2026-13-01"],
        ],
    )
    upload(page, live_server, bad)
    progress = page.get_by_test_id("import-progress")
    assert progress.get_attribute("data-status") == "rejected"
    assert "2 行错误" in page.get_by_test_id("job-message").inner_text()
    shot(page, "registry-upload-rejected")
    with page.expect_download() as download_info:
        page.get_by_test_id("error-report").click()
    report = tmp_path / "errors.xlsx"
    download_info.value.save_as(report)
    rows = CalamineWorkbook.from_path(str(report)).get_sheet_by_name("错误明细").to_python()
    assert rows[0][0] == "原行号" and rows[0][-2:] == ["错误列", "错误原因"]
    assert [r[0] for r in rows[1:]] == [4.0, 5.0]  # Excel row numbers under the title row
    assert "用途“飞行”无效" in rows[2][-1]
    assert RegisteredNumber.objects.count() == 0  # nothing imported

    good = register_file(
        tmp_path / "登记表-已修改.xlsx",
        [
            ["13800138000", "营销", "本机构", "中国移动", "2026-01-01"],
            ["13800138001", "营销", "本机构", "中国移动", "2026-01-01"],
            ["13900139000", "催收", "本机构", "中国移动", "2026-03-01"],
        ],
    )
    upload(page, live_server, good)
    assert page.get_by_test_id("import-progress").get_attribute("data-status") == "done"
    assert "新增 3" in page.get_by_test_id("job-message").inner_text()
    shot(page, "registry-upload-done")
    assert RegisteredNumber.objects.filter(institution=inst_alice.organisation).count() == 3
    page.goto(f"{live_server.url}/registry/numbers/")
    assert page.get_by_role("link", name="13900139000").is_visible()
