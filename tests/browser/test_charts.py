"""The dashboards' charts in chromium (issue 14 §5): the regulator's home draws real
Chart.js charts from the vendored script under the portal's CSP; a role with nothing to
count reads so in words, and no canvas is left empty."""

from __future__ import annotations

import pytest

from tests.browser.test_dashboards import login
from tests.conftest import totp_code
from tests.oversight.test_charts import org_carrier2, org_dave, world  # noqa: F401

pytestmark = pytest.mark.browser


def watch_console(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_regulator_home_draws_charts(page, live_server, regulator_rita, world, shot):  # noqa: F811
    errors = watch_console(page)
    login(page, live_server, "rita")
    page.wait_for_url("**/accounts/2fa/")
    page.get_by_label("动态验证码").fill(totp_code(regulator_rita))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(f"{live_server.url}/")
    panel = page.get_by_test_id("charts-panel")
    panel.scroll_into_view_if_needed()
    canvases = panel.locator("canvas[data-chart]")
    assert canvases.count() >= 1
    drawn = page.evaluate(
        """() => Array.from(document.querySelectorAll('canvas[data-chart]'))
                 .filter(c => window.Chart && window.Chart.getChart(c)).length"""
    )
    assert drawn == canvases.count()
    chart = page.evaluate(
        """() => {
             const c = document.querySelector('[data-testid="chart-top-institutions"] canvas');
             const chart = window.Chart.getChart(c);
             return {labels: chart.data.labels, data: chart.data.datasets[0].data,
                     width: c.width, label: c.getAttribute('aria-label')};
           }"""
    )
    assert chart["labels"] == ["甲银行", "丁支付", "乙消费金融"]
    assert chart["data"] == [5, 3, 1] and chart["width"] > 0
    assert chart["label"].startswith("问题线索最多的 10 家机构。共 9 条")
    # The numbers are in a table for screen readers, hidden from sight.
    hidden = page.get_by_test_id("chart-top-institutions").locator(".visually-hidden")
    assert hidden.first.get_by_test_id("chart-table-top-institutions").count() == 1
    box = hidden.first.bounding_box()
    assert box["width"] <= 1 and box["height"] <= 1
    assert not [e for e in errors if "Content Security Policy" in e or "图表" in e], errors
    shot(page, "dashboard-charts-rita")


def test_a_carrier_without_cases_reads_words_not_an_empty_canvas(
    page, live_server, carrier_carol, shot
):
    errors = watch_console(page)
    login(page, live_server, "carol")
    page.wait_for_url(f"{live_server.url}/")
    panel = page.get_by_test_id("carrier-cases-panel")
    assert "暂无数据：还没有处置案件" in panel.inner_text()
    assert "没有待办的处置案件" in panel.inner_text()
    assert page.locator("canvas").count() == 0
    assert page.evaluate("() => typeof window.Chart") == "function"  # loaded, nothing to draw
    assert not errors, errors
    shot(page, "dashboard-charts-carol-empty")
