"""The public side on a phone (issue 15 §6, §7): at 360 px wide a citizen checks a number,
gets "not registered", complains, tracks the complaint; the administration processes it;
the tracking page then shows the outcome. Screenshots at 360 px in var/screenshots."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from oversight.models import Complaint
from tests.browser.test_dashboards import login
from tests.conftest import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("public")]

PHONE = {"width": 360, "height": 780}


@pytest.fixture
def public(settings, live_server):
    """The rate-limit counters (database cache, outside the flushed tables) from zero."""
    caches["ratelimit"].clear()
    yield
    caches["ratelimit"].clear()


@pytest.fixture
def phone(browser):
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    yield context.new_page()
    context.close()


def fits(page) -> None:
    """Readable at 360 px: nothing wider than the screen (no sideways scrolling)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_check_complain_track_processed_on_a_phone(phone, page, live_server, regulator_rita, shot):
    phone.goto(f"{live_server.url}/public/")
    fits(phone)
    shot(phone, "public-check-360")
    phone.get_by_label("号码").fill("139 1234 5678")
    phone.get_by_role("button", name="核验").click()
    assert phone.get_by_test_id("check-verdict").inner_text() == "未备案：13912345678"
    fits(phone)
    shot(phone, "public-check-not-registered-360")

    phone.get_by_test_id("complain-link").click()
    assert phone.get_by_label("来电或短信号码").input_value() == "13912345678"
    phone.get_by_label("类别").select_option("collection")
    phone.get_by_label("发生了什么").fill(
        "自称某银行催收，晚上十一点还在打电话，还说要打给我单位。"
    )
    phone.get_by_label("您的联系方式（选填）").fill("13600000001")
    fits(phone)
    shot(phone, "public-complaint-360")
    phone.get_by_role("button", name="提交投诉").click()
    code = phone.get_by_test_id("tracking-code").inner_text()
    assert len(code.replace("-", "")) == 16
    fits(phone)
    shot(phone, "public-complaint-done-360")
    phone.get_by_test_id("track-now").click()
    assert phone.get_by_test_id("track-status").inner_text() == "已受理"
    shot(phone, "public-track-received-360")

    complaint = Complaint.objects.get()
    assert complaint.channel == "portal"
    login(page, live_server, "rita")
    page.wait_for_url("**/accounts/2fa/")
    page.get_by_label("动态验证码").fill(totp_code(regulator_rita))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/oversight/complaints/{complaint.pk}/")
    assert "136****0001" in page.get_by_test_id("complaint-contact").inner_text()
    page.get_by_label("处理状态").select_option("processed")
    page.get_by_label("处理结果").fill("经核查，该号码未备案，已通知运营商依规处置。")
    page.get_by_test_id("save-status").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("complaint-status").inner_text() == "已处理"
    shot(page, "complaint-processed-rita")

    phone.goto(f"{live_server.url}/public/track/")
    phone.get_by_label("查询码").fill(code.lower())
    phone.get_by_role("button", name="查询").click()
    assert phone.get_by_test_id("track-status").inner_text() == "已处理"
    assert "已通知运营商依规处置" in phone.get_by_test_id("track-outcome").inner_text()
    fits(phone)
    shot(phone, "public-track-processed-360")

    phone.goto(f"{live_server.url}/public/agencies/")
    fits(phone)
    shot(phone, "public-agencies-360")
