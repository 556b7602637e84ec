"""Each role logs in through the real login page in chromium and lands on its dashboard."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.browser


def login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


@pytest.mark.parametrize(
    ("fixture", "title", "menu"),
    [
        ("inst_alice", "机构工作台", "首页"),
        ("inst_bob", "机构工作台", "首页"),
        ("carrier_carol", "运营商工作台", "首页"),
        ("financial_fiona", "信息查看", "单位管理"),
    ],
)
def test_role_lands_on_dashboard(page, live_server, request, shot, fixture, title, menu):
    user = request.getfixturevalue(fixture)
    login(page, live_server, user.username)
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_test_id("dashboard-title").inner_text() == title
    assert user.organisation.name in page.get_by_test_id("topbar-org").inner_text()
    assert page.get_by_role("navigation", name="主菜单").get_by_role("link", name=menu).is_visible()
    shot(page, f"dashboard-{user.username}")


def test_regulator_logs_in_with_totp(page, live_server, regulator_rita, inst_alice, shot):
    """Regulator accounts must pass TOTP (issue: login security, GB/T 22239 level 2)."""
    login(page, live_server, "rita")
    page.wait_for_url("**/accounts/2fa/")
    page.get_by_label("动态验证码").fill(totp_code(regulator_rita))  # her django-otp device
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_test_id("dashboard-title").inner_text() == "监管工作台"
    assert page.get_by_test_id("org-count-institution").inner_text() == "1"
    shot(page, "dashboard-rita")
    page.get_by_role("link", name="工作日历").click()
    page.get_by_role("link", name="查看 / 调整").first.click()
    page.wait_for_load_state()  # the click starts the navigation; the title comes after
    assert "工作日历" in page.title()
    shot(page, "calendar-rita")


def test_wrong_password_message_in_chinese(page, live_server, inst_alice):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("用户名").fill("alice")
    page.get_by_label("密码").fill("wrong-password-123")
    page.get_by_role("button", name="登录").click()
    assert "再失败 4 次" in page.locator(".alert-danger").inner_text()
