"""The quarterly exchange in chromium (issue 14 §4; 000 §三(二)): the administration
generates the quarter's packages and records one as sent; the financial regulator finds
its package in the menu and downloads it (audited)."""

from __future__ import annotations

import pytest

from oversight import exchange
from oversight.cases import ExchangePackage
from portal.models import AuditEvent
from tests.browser.test_dashboards import login
from tests.conftest import totp_code
from tests.oversight.test_exchange import (  # noqa: F401 - fixtures
    _now,
    loan_sam,
    org_loan,
    org_local,
    world,
)

pytestmark = pytest.mark.browser


@pytest.mark.usefixtures("world")
def test_the_administration_generates_and_the_financial_regulator_downloads(
    page, live_server, regulator_rita, financial_fiona, org_financial, shot
):
    login(page, live_server, "rita")
    page.wait_for_url("**/accounts/2fa/")
    page.get_by_label("动态验证码").fill(totp_code(regulator_rita))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("link", name="信息交换").click()
    page.wait_for_url("**/oversight/exchange/")
    assert "还没有数据包" in page.get_by_test_id("empty").inner_text()
    form = page.get_by_test_id("exchange-generate-form")
    form.locator("select[name=quarter]").select_option("2026Q4")
    form.locator("select[name=recipient]").select_option("all")
    page.get_by_test_id("exchange-generate").click()
    page.wait_for_url("**/oversight/exchange/**")
    package = ExchangePackage.objects.get(year=2026, quarter=4, recipient=org_financial)
    page.goto(f"{live_server.url}/oversight/exchange/{package.pk}/")
    counts = page.get_by_test_id("exchange-counts").inner_text()
    assert "6 条" in counts and "3 件" in counts
    page.locator("input[name=note]").fill("第四季度联席会议前送达")
    page.get_by_test_id("exchange-sent-submit").click()
    page.wait_for_url(f"**/oversight/exchange/{package.pk}/")
    assert "2026-11-20" in page.get_by_test_id("exchange-sent").inner_text()
    shot(page, "exchange-detail-regulator")
    page.goto(f"{live_server.url}/oversight/exchange/")
    assert page.get_by_test_id("exchange-row").count() == 2  # fiona's and the local one's
    shot(page, "exchange-list-regulator")

    page.context.clear_cookies()
    login(page, live_server, "fiona")
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("link", name="信息交换").click()
    page.wait_for_url("**/oversight/exchange/")
    assert page.get_by_test_id("exchange-row").count() == 1
    shot(page, "exchange-list-financial")
    with page.expect_download() as download:
        page.get_by_test_id("exchange-download").click()
    with open(download.value.path(), "rb") as fh:
        data = exchange.read_package(fh)
    assert data["meta"]["recipient"] == org_financial.name
    assert {r["institution"] for r in data["institutions"]} == {"甲银行", "乙消费金融"}
    event = AuditEvent.objects.get(action="exchange.download")
    assert event.actor == financial_fiona
