"""The regulator's working-day calendar pages (domain.md, "Working days": a table a regulator
can edit because next year's schedule is published late; an uncovered year is an explicit
error telling the regulator to load it)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from portal import workdays
from portal.models import AuditEvent, WorkDay
from tests.conftest import _user

pytestmark = pytest.mark.django_db


@pytest.fixture
def regulator_viewer(org_regulator):
    from tests.conftest import with_totp

    return with_totp(_user(org_regulator, "vera", role="viewer"))  # regulators need TOTP


def test_index_lists_the_loaded_years(client_for, regulator_rita):
    response = client_for(regulator_rita).get(reverse("calendar_index"))
    rows = {y.year: working for y, working in response.context["rows"]}
    assert rows[2025] == 248
    assert rows[2026] == 248
    assert "不会按周一至周五猜测" in response.content.decode()
    assert reverse("calendar_seed") in response.content.decode()


def test_year_page_shows_every_month(client_for, regulator_rita):
    response = client_for(regulator_rita).get(reverse("calendar_year", args=[2026]))
    assert response.status_code == 200
    assert response.context["working_total"] == 248
    feb = response.context["months"][1]
    assert feb["month"] == 2
    # Feb 2026: 20 weekdays, minus 16–20 and 23 (春节), plus Saturdays 14 and 28 -> 16
    assert feb["working"] == 16
    assert reverse("calendar_day", args=["2026-02-14"]) in response.content.decode()


def test_year_not_loaded_is_404(client_for, regulator_rita):
    assert client_for(regulator_rita).get(reverse("calendar_year", args=[2027])).status_code == 404


@pytest.mark.parametrize("day", ["2026-02-30", "tomorrow", "2027-01-04"])
def test_day_page_for_a_bad_or_unloaded_date_is_404(client_for, regulator_rita, day):
    assert client_for(regulator_rita).get(reverse("calendar_day", args=[day])).status_code == 404


def test_editing_a_day_through_the_page(client_for, regulator_rita):
    """domain.md: a late 调休 notice is entered by the regulator; deadlines follow. Fri
    2026-03-13 off -> an SMS start on Mon Mar 16 is due Fri Mar 6 (000 §二(二)3)."""
    client = client_for(regulator_rita)
    url = reverse("calendar_day", args=["2026-03-13"])
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, {"name": "临时调整"})  # checkbox unticked: not a working day
    assert response["Location"] == reverse("calendar_year", args=[2026]) + "#m3"
    row = WorkDay.objects.get(date=dt.date(2026, 3, 13))
    assert (row.is_workday, row.name) == (False, "临时调整")
    assert workdays.sms_filing_deadline(dt.date(2026, 3, 16)).date() == dt.date(2026, 3, 6)
    assert AuditEvent.objects.filter(action="calendar.set_day", actor=regulator_rita).count() == 1


def test_a_regulator_viewer_cannot_edit(client_for, regulator_viewer):
    client = client_for(regulator_viewer)
    year_page = client.get(reverse("calendar_year", args=[2026])).content.decode()
    assert reverse("calendar_day", args=["2026-03-13"]) not in year_page
    response = client.post(reverse("calendar_day", args=["2026-03-13"]), {"name": "x"}, follow=True)
    assert "只有通信管理局的管理员或经办人可以修改工作日历" in response.content.decode()
    assert workdays.is_workday(dt.date(2026, 3, 13))


def test_seed_a_year_already_loaded(client_for, regulator_rita):
    before = AuditEvent.objects.count()
    response = client_for(regulator_rita).post(
        reverse("calendar_seed"), {"year": "2026"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("calendar_year", args=[2026])
    assert "2026 年工作日历与 chinese-calendar 一致，未作修改" in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_seed_a_year_chinese_calendar_lacks(client_for, regulator_rita):
    """domain.md: the next year may not be in chinese-calendar yet; the page says so."""
    response = client_for(regulator_rita).post(
        reverse("calendar_seed"), {"year": "2027"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("calendar_index")
    assert "chinese-calendar 尚不包含 2027 年的节假日安排" in response.content.decode()


def test_seed_with_a_bad_year(client_for, regulator_rita):
    response = client_for(regulator_rita).post(
        reverse("calendar_seed"), {"year": "next"}, follow=True
    )
    assert "年份无效" in response.content.decode()


def test_seed_by_a_viewer_is_refused(client_for, regulator_viewer):
    response = client_for(regulator_viewer).post(
        reverse("calendar_seed"), {"year": "2026"}, follow=True
    )
    assert "只有通信管理局的管理员或经办人可以修改工作日历" in response.content.decode()


def test_seed_is_post_only(client_for, regulator_rita):
    assert client_for(regulator_rita).get(reverse("calendar_seed")).status_code == 405


@pytest.mark.parametrize("who", ["inst_alice", "carrier_carol", "financial_fiona"])
def test_others_cannot_seed(request, client_for, who):
    user = request.getfixturevalue(who)
    response = client_for(user).post(reverse("calendar_seed"), {"year": "2026"})
    assert response.status_code == 404
