"""The dashboard of every role (issue 10 §8, §17): each sees its own title and its own
deadlines, and none sees another role's deadline or a placeholder."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.django_db

QUARTER = "服务对象报送截止"


@pytest.fixture(autouse=True)
def _today(time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("who", "title", "quarter", "sms"),
    [
        ("inst_alice", "机构工作台", False, False),
        ("carrier_carol", "运营商工作台", True, True),
        ("regulator_rita", "监管工作台", True, False),
        ("financial_fiona", "信息查看", False, False),
    ],
)
def test_dashboard_per_role(request, client_for, who, title, quarter, sms):
    body = client_for(request.getfixturevalue(who)).get("/").content.decode()
    assert title in body
    assert (QUARTER in body) is quarter
    assert ('data-testid="sms-deadline-card"' in body) is sms
    assert "=日期" not in body  # no literal placeholder in an API hint


def test_carrier_checks_an_sms_filing_deadline_on_the_dashboard(client_for, carrier_carol):
    """000 §二(二)3 / domain.md: start Monday 2026-03-16 -> filed by 2026-03-09."""
    body = client_for(carrier_carol).get("/", {"sms_start": "2026-03-16"}).content.decode()
    assert "须在 <strong>2026-03-09 24:00 前</strong>报备" in body


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-02-30", "日期 2026-02-30 不存在：2026 年 2 月只有 28 天"),
        ("下周一", "格式应为 2026-03-01"),
        ("2099-03-16", "2099"),
    ],
)
def test_a_bad_planned_day_is_explained(client_for, carrier_carol, text, message):
    body = client_for(carrier_carol).get("/", {"sms_start": text}).content.decode()
    assert message in body


def test_favicon_ico_is_the_portals_icon(client):
    """Issue 10 §14: /favicon.ico was a 404."""
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].startswith("/static/portal/favicon")
