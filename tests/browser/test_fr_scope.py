"""The administration sets a financial regulator's scope in chromium (issue 14 §6): the
licence categories under their licensing authority, and institutions named one by one."""

from __future__ import annotations

import pytest

from portal.models import Organisation
from tests.browser.test_dashboards import login
from tests.conftest import totp_code

pytestmark = pytest.mark.browser


def test_rita_sets_fionas_scope(
    page, live_server, regulator_rita, financial_fiona, org_alice, shot
):
    login(page, live_server, "rita")
    page.wait_for_url("**/accounts/2fa/")
    page.get_by_label("动态验证码").fill(totp_code(regulator_rita))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(f"{live_server.url}/")
    fr = financial_fiona.organisation
    page.goto(f"{live_server.url}/organisations/{fr.pk}/")
    assert "银行、消费金融公司" in page.get_by_test_id("scope-categories").inner_text()
    page.get_by_test_id("set-scope").click()
    page.get_by_label("消费金融公司").uncheck()
    page.get_by_label("小额贷款公司").check()
    page.get_by_label("逐一指定的机构").select_option(str(org_alice.pk))
    shot(page, "scope-form-rita")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(f"{live_server.url}/organisations/{fr.pk}/")
    assert page.get_by_test_id("scope-categories").inner_text() == "银行、小额贷款公司"
    assert page.get_by_test_id("scope-institution").inner_text() == org_alice.name
    shot(page, "scope-detail-rita")
    fr = Organisation.objects.get(pk=fr.pk)
    assert fr.supervised_categories == ["bank", "small_loan"]
