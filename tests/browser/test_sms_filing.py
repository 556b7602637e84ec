"""A carrier files a bulk-SMS campaign online in chromium: the live check shows a blocking
reason as she types, she fixes it and submits; the administration accepts; the carrier
marks the filing sent (issue 12 §8; 000 §二(二)3)."""

from __future__ import annotations

import pytest

from filings.models import FilingStatus, SmsFiling
from tests.browser.test_dashboards import login
from tests.conftest import totp_code
from tests.filings.conftest import GOOD, alice_ports  # noqa: F401 - a fixture

pytestmark = pytest.mark.browser

TEXT_FIELDS = {
    "id_sender_name": GOOD["发送主体名称"],
    "id_sender_credit_code": GOOD["发送主体统一社会信用代码"],
    "id_signature": GOOD["短信签名"],
    "id_port": GOOD["发送端口"],
    "id_content": GOOD["短信内容"],
    "id_planned_count": GOOD["计划发送数量"],
    "id_recipients": GOOD["发送对象范围"],
    "id_consent": GOOD["发送对象同意情况"],
    "id_opt_out": GOOD["退订方式"],
    "id_contact_name": GOOD["联系人"],
    "id_contact_phone": GOOD["联系电话"],
}


def logout(page) -> None:
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/accounts/login/**")


@pytest.mark.usefixtures("alice_ports")
def test_carrier_files_online_regulator_accepts_carrier_marks_sent(
    page, live_server, carrier_carol, regulator_rita, shot
):
    login(page, live_server, "carol")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/filings/new/")
    for field, value in TEXT_FIELDS.items():
        page.locator(f"#{field}").fill(value)
    page.locator("#id_purpose").select_option("营销")
    # Tomorrow: far too late for the 5 working days (today is Tue 2026-03-10).
    page.locator("#id_start_at").fill("2026-03-11T09:00")
    page.locator("#id_end_at").fill("2026-03-11T18:00")
    late = page.locator("[data-testid=check][data-code=LATE][data-blocking='1']")
    late.wait_for()
    assert "2026-03-04 24:00 前" in page.get_by_test_id("live-deadline").inner_text()
    shot(page, "filing-online-late")

    page.locator("#id_start_at").fill("2026-03-20T09:00")
    page.locator("#id_end_at").fill("2026-03-20T18:00")
    page.get_by_test_id("checks-clean").wait_for()
    assert "2026-03-13 24:00 前" in page.get_by_test_id("live-deadline").inner_text()
    shot(page, "filing-online-clean")
    page.get_by_test_id("submit-filing").click()
    page.wait_for_url("**/filings/*/")
    assert page.get_by_test_id("filing-status").first.get_attribute("data-status") == "submitted"
    filing = SmsFiling.objects.get()
    assert filing.register_entry.number == GOOD["发送端口"]
    logout(page)

    login(page, live_server, "rita")
    page.wait_for_url("**/accounts/2fa/")
    page.get_by_label("动态验证码").fill(totp_code(regulator_rita))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/filings/review/")
    assert page.get_by_test_id("review-row").count() == 1
    shot(page, "filing-review-queue")
    page.goto(f"{live_server.url}/filings/{filing.pk}/")
    page.get_by_test_id("accept").click()
    page.wait_for_selector("[data-testid=filing-status][data-status=accepted]")
    page.goto(f"{live_server.url}/filings/calendar/?month=2026-03")
    assert page.locator("[data-day='2026-03-20'] [data-testid=calendar-filing]").count() == 1
    shot(page, "filing-calendar")
    logout(page)

    login(page, live_server, "carol")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/filings/{filing.pk}/")
    page.locator("#actual-count").fill("49876")
    page.get_by_test_id("mark-sent").click()
    page.wait_for_selector("[data-testid=filing-status][data-status=sent]")
    assert "49876" in page.get_by_test_id("actual-count").inner_text()
    shot(page, "filing-sent")
    filing.refresh_from_db()
    assert filing.status == FilingStatus.SENT and filing.actual_count == 49876
