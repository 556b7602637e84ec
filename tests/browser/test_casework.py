"""The closed loop of 000 §三(三) in chromium (issue 14 §8): the administration runs the
cross-match, confirms a finding and orders disposal; the carrier acts and reports back
with its evidence; the administration verifies and the case closes. And 002's relief: the
institution appeals, the administration upholds, the case is reversed and the carrier is
told to restore the number."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from oversight import casework
from oversight.cases import AppealStatus, CaseStatus, DisposalCase
from oversight.models import Finding
from portal.audit import SYSTEM
from tests.browser.test_dashboards import login
from tests.conftest import totp_code
from tests.oversight.test_reconcile import run, world  # noqa: F401 - a fixture

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _day(settings, tmp_path, time_machine):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    time_machine.move_to(dt.datetime(2026, 11, 20, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


def rita_logs_in(page, live_server, rita) -> None:
    login(page, live_server, "rita")
    page.wait_for_url("**/accounts/2fa/")
    page.get_by_label("动态验证码").fill(totp_code(rita))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(f"{live_server.url}/")


def other_page(browser, live_server, username: str):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, live_server, username)
    page.wait_for_url(f"{live_server.url}/")
    return page


@pytest.mark.usefixtures("world")
def test_run_confirm_order_act_verify_closed(
    page, browser, live_server, regulator_rita, carrier_carol, shot
):
    rita_logs_in(page, live_server, regulator_rita)
    page.goto(f"{live_server.url}/oversight/runs/")
    page.locator("input[name=as_of]").fill("2026-11-20")
    page.get_by_test_id("run-start").click()
    page.wait_for_selector("[data-testid=run-progress][data-status=done]")
    finding = Finding.objects.get(code="UNREGISTERED", number="13900000001")

    page.goto(f"{live_server.url}/oversight/findings/{finding.pk}/")
    form = page.get_by_test_id("review-form")
    form.get_by_label("确认（属实，可下达处置）").check()
    form.get_by_label("研判理由").fill("报送行与登记核对无误，号码未登记")
    form.get_by_role("button", name="提交研判").click()
    assert page.get_by_test_id("review").inner_text() == "已确认"
    order = page.get_by_test_id("order-form")
    order.get_by_label("暂停").check()
    order.get_by_label("处置说明").fill("请暂停该号码的营销、催收外呼")
    shot(page, "casework-order")
    order.get_by_role("button", name="下达处置要求").click()
    page.wait_for_url("**/oversight/cases/*/")
    case = DisposalCase.objects.get()
    assert "2026-11-27" in page.get_by_test_id("deadline").inner_text()

    carol = other_page(browser, live_server, "carol")
    carol.goto(f"{live_server.url}/oversight/cases/")
    carol.get_by_role("link", name=case.case_number).click()
    report = carol.get_by_test_id("report-form")
    report.get_by_label("已采取措施").select_option("suspend")
    report.get_by_label("处置日期").fill("2026-11-20")
    report.get_by_label("处置情况").fill("已于 11 月 20 日暂停该号码外呼功能")
    report.get_by_label("处置凭证").set_input_files(
        files=[{"name": "停机工单.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    report.get_by_role("button", name="提交反馈").click()
    carol.wait_for_selector("text=已反馈待核验")
    shot(carol, "casework-carrier-reported")

    page.reload()
    verify = page.get_by_test_id("verify-form")
    verify.get_by_label("核验通过，办结").check()
    verify.get_by_role("button", name="提交核验结论").click()
    page.wait_for_selector("text=核验通过，案件办结")
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    shot(page, "casework-closed")
    carol.context.close()


@pytest.mark.usefixtures("world")
def test_the_institution_appeals_and_the_regulator_upholds(
    page, browser, live_server, regulator_rita, inst_alice, carrier_carol, shot
):
    r = run()
    finding = Finding.objects.get(run=r, code="UNREGISTERED", number="13900000001")
    casework.finding_review(actor=SYSTEM, findings=[finding], decision="confirmed", reason="属实")
    finding.refresh_from_db()
    case = casework.case_order(actor=SYSTEM, finding=finding, action="suspend")

    alice = other_page(browser, live_server, "alice")
    alice.goto(f"{live_server.url}/oversight/cases/{case.pk}/")
    alice.locator("summary", has_text="申诉").click()
    appeal_form = alice.get_by_test_id("appeal-form")
    appeal_form.get_by_label("申诉理由").fill("该号码为本行信用卡中心客服号码，登记时遗漏")
    appeal_form.get_by_label("申诉材料").set_input_files(
        files=[{"name": "号码使用证明.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    appeal_form.get_by_role("button", name="提交申诉").click()
    alice.wait_for_url("**/oversight/appeals/*/")
    assert alice.get_by_test_id("appeal-status").inner_text() == "待处理"
    shot(alice, "casework-appeal-lodged")

    rita_logs_in(page, live_server, regulator_rita)
    appeal = case.appeals.get()
    page.goto(f"{live_server.url}/oversight/appeals/{appeal.pk}/")
    decide = page.get_by_test_id("appeal-decide-form")
    decide.get_by_label("申诉成立（排除线索、撤销处置、恢复号码）").check()
    decide.get_by_label("处理意见").fill("材料显示为合法客服业务")
    decide.get_by_role("button", name="提交处理结论").click()
    page.wait_for_selector("[data-testid=appeal-status]:has-text('申诉成立')")
    appeal.refresh_from_db()
    case.refresh_from_db()
    assert appeal.status == AppealStatus.UPHELD and case.status == CaseStatus.REVERSED

    carol = other_page(browser, live_server, "carol")
    carol.goto(f"{live_server.url}/oversight/cases/{case.pk}/")
    restore = carol.get_by_test_id("restore-form")
    restore.get_by_label("恢复情况").fill("已恢复外呼功能")
    restore.get_by_role("button", name="提交").click()
    carol.wait_for_selector("text=号码已恢复")
    shot(carol, "casework-restored")
    alice.reload()
    assert "申诉成立" in alice.get_by_test_id("timeline").inner_text()
    for p in (alice, carol):
        p.context.close()
