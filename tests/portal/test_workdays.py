"""The working-day calendar and the two deadlines (domain.md, "Working days";
000 §二(二)3 bulk-SMS filing 5 working days ahead; 000 §三(一)2 quarterly report 5 working
days before the quarter ends).

Expected dates are worked out by hand from the State Council's 2026 schedule:
- 元旦: Jan 1–3 off, Sunday Jan 4 worked.
- 春节: Feb 15–23 off, Saturdays Feb 14 and Feb 28 worked.
- 劳动节 May 1–5 off, Saturday May 9 worked; 端午 Friday Jun 19 off.
- 中秋 Friday Sep 25 off; 国庆 Oct 1–7 off, Sunday Sep 20 and Saturday Oct 10 worked.
"""

from __future__ import annotations

import datetime as dt

import pytest

from portal import audit, workdays
from portal.audit import SYSTEM
from portal.errors import NotPermitted, PortalError
from portal.models import AuditEvent, CalendarYear, WorkDay
from portal.services import calendar_load_year, workday_set
from portal.workdays import SHANGHAI, CalendarYearMissing

pytestmark = pytest.mark.django_db

D = dt.date


def sms_due(start) -> dt.date:
    return workdays.sms_filing_deadline(start).date()


# --- the two examples in domain.md ----------------------------------------------------------


def test_domain_example_sms_filing():
    """domain.md: start Monday 2026-03-16 -> working days 13, 12, 11, 10, 9 March -> filing
    due by 2026-03-09 23:59:59 Asia/Shanghai (000 §二(二)3)."""
    assert workdays.working_days_before(D(2026, 3, 16), 5) == [
        D(2026, 3, 13),
        D(2026, 3, 12),
        D(2026, 3, 11),
        D(2026, 3, 10),
        D(2026, 3, 9),
    ]
    due = workdays.sms_filing_deadline(D(2026, 3, 16))
    assert due == dt.datetime(2026, 3, 9, 23, 59, 59, tzinfo=SHANGHAI)
    assert due.astimezone(dt.UTC) == dt.datetime(2026, 3, 9, 15, 59, 59, tzinfo=dt.UTC)


def test_domain_example_quarterly_report():
    """domain.md: Q2 2026 ends Tuesday 2026-06-30 -> 29, 26, 25, 24, 23 June -> due by
    2026-06-23, the quarter's last day itself not counted (000 §三(一)2)."""
    assert workdays.working_days_before(D(2026, 6, 30), 5)[-1] == D(2026, 6, 23)
    due = workdays.quarterly_report_deadline(2026, 2)
    assert due == dt.datetime(2026, 6, 23, 23, 59, 59, tzinfo=SHANGHAI)


# --- around the holidays: a Monday–Friday count would be wrong ------------------------------


@pytest.mark.parametrize(
    ("start", "due", "why"),
    [
        (D(2026, 2, 24), D(2026, 2, 10), "Feb 23..15 off; Sat Feb 14 (调休) 13 12 11 10"),
        (D(2026, 3, 2), D(2026, 2, 24), "Sat Feb 28 (调休) 27 26 25 24; Mon–Fri gives Feb 23"),
        (D(2026, 9, 24), D(2026, 9, 18), "23 22 21, Sun Sep 20 (调休), 18; Mon–Fri gives 17"),
        (D(2026, 10, 8), D(2026, 9, 23), "Oct 7..1 off; 30 29 28; 25 (中秋) off; 24 23"),
        (D(2026, 10, 12), D(2026, 9, 29), "Sat Oct 10 (调休) 9 8; Oct 7..1 off; 30 29"),
        (D(2026, 5, 11), D(2026, 4, 30), "Sat May 9 (调休) 8 7 6; May 5..1 off; Apr 30"),
        (D(2026, 1, 12), D(2026, 1, 5), "9 8 7 6 5, all in 2026"),
    ],
)
def test_sms_filing_deadline_around_holidays(start, due, why):
    """000 §二(二)3 with the 2026 schedule (domain.md: "A plain Monday–Friday count is
    wrong around every holiday"). Hand count: see ``why``."""
    assert sms_due(start) == due, why


def test_start_on_the_first_day_after_spring_festival():
    """domain.md / 000 §二(二)3: start Tue 2026-02-24, the first day after the holiday; the
    5 working days before it are Feb 14 (Saturday, make-up), 13, 12, 11, 10."""
    assert workdays.working_days_before(D(2026, 2, 24), 5) == [
        D(2026, 2, 14),
        D(2026, 2, 13),
        D(2026, 2, 12),
        D(2026, 2, 11),
        D(2026, 2, 10),
    ]


@pytest.mark.parametrize(
    ("quarter", "due", "why"),
    [
        (1, D(2026, 3, 24), "Tue Mar 31: 30 27 26 25 24"),
        (2, D(2026, 6, 23), "Tue Jun 30: 29 26 25 24 23 (Jun 19 端午 not reached)"),
        (3, D(2026, 9, 22), "Wed Sep 30: 29 28; 27 26 weekend; 25 中秋; 24 23 22"),
        (4, D(2026, 12, 24), "Thu Dec 31: 30 29 28 25 24"),
    ],
)
def test_quarterly_report_deadlines_2026(quarter, due, why):
    """000 §三(一)2: 5 working days before the quarter's last day, that day not counted.
    Q3: a Monday–Friday count would give Sep 23 because it counts Friday Sep 25 (中秋)."""
    assert workdays.quarterly_report_deadline(2026, quarter).date() == due, why


def test_q3_reminder_window_counts_the_make_up_sunday():
    """domain.md: remind 3 working days before the deadline. Counting back from the Q3 due
    date Tue 2026-09-22 the walk passes Sunday Sep 20, a make-up working day for 国庆:
    21, 20, 18 (Saturday 19 is off)."""
    assert workdays.working_days_before(D(2026, 9, 22), 3) == [
        D(2026, 9, 21),
        D(2026, 9, 20),
        D(2026, 9, 18),
    ]


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2026, 2, 14), True),
        (D(2026, 2, 15), False),
        (D(2026, 2, 23), False),
        (D(2026, 2, 28), True),
        (D(2026, 9, 20), True),
        (D(2026, 9, 25), False),
        (D(2026, 10, 1), False),
        (D(2026, 10, 7), False),
        (D(2026, 10, 10), True),
        (D(2026, 10, 11), False),
        (D(2026, 3, 16), True),
    ],
)
def test_is_workday_follows_the_official_schedule(day, working):
    """domain.md, Working days: statutory holidays and adjusted working weekends (调休)."""
    assert workdays.is_workday(day) is working


def test_make_up_days_are_named():
    """The table says why a weekend is worked, for the regulator's calendar page."""
    assert WorkDay.objects.get(date=D(2026, 2, 14)).name == "春节调休上班"
    assert WorkDay.objects.get(date=D(2026, 10, 1)).name == "国庆节"


def test_working_days_after():
    assert workdays.working_days_after(D(2026, 2, 13), 3) == [
        D(2026, 2, 14),
        D(2026, 2, 24),
        D(2026, 2, 25),
    ]


# --- time zone: the Shanghai date counts ------------------------------------------------------


def test_aware_utc_start_uses_the_shanghai_date():
    """domain.md: deadlines are in Asia/Shanghai time. 2026-03-16 16:30 UTC is already
    Tuesday 2026-03-17 00:30 in Shanghai: working days 16, 13, 12, 11, 10 -> due Mar 10.
    Taking the UTC date (Monday) would wrongly give Mar 9."""
    start = dt.datetime(2026, 3, 16, 16, 30, tzinfo=dt.UTC)
    assert workdays.local_date(start) == D(2026, 3, 17)
    assert sms_due(start) == D(2026, 3, 10)


def test_late_evening_in_shanghai_is_still_that_day():
    """23:59 on Monday 2026-03-16 in Shanghai (15:59 UTC) is a Monday start -> Mar 9."""
    assert sms_due(dt.datetime(2026, 3, 16, 23, 59, tzinfo=SHANGHAI)) == D(2026, 3, 9)
    assert sms_due(dt.datetime(2026, 3, 16, 15, 59, tzinfo=dt.UTC)) == D(2026, 3, 9)


def test_naive_datetime_means_shanghai():
    assert sms_due(dt.datetime(2026, 3, 17, 0, 30)) == D(2026, 3, 10)


# --- years the table does not cover -----------------------------------------------------------


def test_year_not_loaded_is_an_explicit_error_naming_the_year():
    """domain.md: "a date in a year that the table does not cover is an explicit error that
    tells the regulator to load that year" — never a Monday–Friday guess."""
    with pytest.raises(CalendarYearMissing) as exc:
        workdays.sms_filing_deadline(D(2027, 1, 11))
    assert exc.value.year == 2027
    assert exc.value.code == "calendar_year_missing"
    assert exc.value.message == (
        "工作日历未包含 2027 年：请监管人员在“工作日历”中加载 2027 年的节假日安排后再试"
    )
    with pytest.raises(CalendarYearMissing):
        workdays.quarterly_report_deadline(2027, 1)
    with pytest.raises(CalendarYearMissing):
        workdays.is_workday(D(2027, 1, 4))


def test_walk_into_the_previous_year_uses_that_year():
    """domain.md, Working days: start Mon 2026-01-05 -> Sun Jan 4 (元旦调休上班), then
    Jan 3..1 off, then 2025: Dec 31, 30, 29, 26 -> due 2025-12-26 (2025 is loaded)."""
    assert workdays.working_days_before(D(2026, 1, 5), 5) == [
        D(2026, 1, 4),
        D(2025, 12, 31),
        D(2025, 12, 30),
        D(2025, 12, 29),
        D(2025, 12, 26),
    ]


def test_walk_into_a_year_that_is_not_loaded_names_that_year():
    """domain.md: without 2025 in the table the same start must fail naming 2025, not fall
    back to counting Monday–Friday in December."""
    WorkDay.objects.filter(date__year=2025).delete()
    CalendarYear.objects.filter(year=2025).delete()
    with pytest.raises(CalendarYearMissing) as exc:
        workdays.sms_filing_deadline(D(2026, 1, 5))
    assert exc.value.year == 2025
    assert "2025" in exc.value.message
    # A start whose 5 working days stay inside 2026 is unaffected.
    assert sms_due(D(2026, 1, 12)) == D(2026, 1, 5)


def test_year_marked_loaded_but_without_rows_is_refused():
    """A covered year always has every day; a gap is a broken table, not a weekend."""
    WorkDay.objects.filter(date__year=2025).delete()
    with pytest.raises(CalendarYearMissing) as exc:
        workdays.sms_filing_deadline(D(2026, 1, 5))
    assert exc.value.year == 2025


def test_rows_without_the_year_marker_are_not_trusted():
    """Rows of a year that is not registered as loaded do not count (half-loaded year)."""
    CalendarYear.objects.filter(year=2025).delete()
    with pytest.raises(CalendarYearMissing) as exc:
        workdays.sms_filing_deadline(D(2026, 1, 5))
    assert exc.value.year == 2025


# --- quarters -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2026Q2", "2026q2", "2026-Q2", " 2026 Q2 "])
def test_parse_quarter(text):
    assert workdays.parse_quarter(text) == (2026, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026Q5", "季度应为 1–4，实际为“2026Q5”"),
        ("2026Q0", "季度应为 1–4，实际为“2026Q0”"),
        ("26Q2", "季度格式应为 2026Q2，实际为“26Q2”"),
        ("2026-06", "季度格式应为 2026Q2，实际为“2026-06”"),
    ],
)
def test_parse_quarter_refuses_bad_text_in_chinese(text, message):
    with pytest.raises(ValueError) as exc:
        workdays.parse_quarter(text)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("quarter", "last"),
    [(1, D(2026, 3, 31)), (2, D(2026, 6, 30)), (3, D(2026, 9, 30)), (4, D(2026, 12, 31))],
)
def test_quarter_last_day(quarter, last):
    assert workdays.quarter_last_day(2026, quarter) == last


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (D(2026, 6, 1), (2026, 2, D(2026, 6, 23))),
        (D(2026, 6, 23), (2026, 2, D(2026, 6, 23))),  # due today: still this quarter
        (D(2026, 6, 24), (2026, 3, D(2026, 9, 22))),  # past: next quarter
        (D(2026, 9, 30), (2026, 4, D(2026, 12, 24))),
    ],
)
def test_next_quarterly_deadline(today, expected):
    """000 §三(一)2: the first quarterly deadline not yet past on ``today``."""
    year, quarter, due = workdays.next_quarterly_deadline(today)
    assert (year, quarter, due.date()) == expected


def test_next_quarterly_deadline_after_q4_needs_next_year():
    """After 2026-12-24 the next deadline is 2027Q1, which needs the 2027 calendar."""
    with pytest.raises(CalendarYearMissing) as exc:
        workdays.next_quarterly_deadline(D(2026, 12, 25))
    assert exc.value.year == 2027


def test_dashboard_shows_the_next_deadline_on_today(client_for, carrier_carol, time_machine):
    """domain.md: show the deadline on every page; remind 3 working days before. On
    2026-06-10 the Q2 deadline 2026-06-23 is shown, not yet in the reminder window."""
    time_machine.move_to(dt.datetime(2026, 6, 10, 9, 0, tzinfo=SHANGHAI), tick=False)
    page = client_for(carrier_carol).get("/").content.decode()
    assert "2026 年第 2 季度服务对象报送截止" in page
    assert "2026-06-23" in page
    assert "还有 13 天" in page
    assert "已进入最后 3 个工作日" not in page


def test_dashboard_flags_the_last_three_working_days(client_for, carrier_carol, time_machine):
    """domain.md: remind 3 working days before 2026-06-23: 22, 18, 17 (Jun 19 端午 off)."""
    time_machine.move_to(dt.datetime(2026, 6, 17, 9, 0, tzinfo=SHANGHAI), tick=False)
    page = client_for(carrier_carol).get("/").content.decode()
    assert "2026-06-23" in page
    assert "已进入最后 3 个工作日" in page


def test_dashboard_says_when_next_year_is_missing(client_for, carrier_carol, time_machine):
    """domain.md: an uncovered year is an explicit error, shown where the deadline would be."""
    time_machine.move_to(dt.datetime(2026, 12, 28, 9, 0, tzinfo=SHANGHAI), tick=False)
    page = client_for(carrier_carol).get("/").content.decode()
    assert "工作日历未包含 2027 年" in page


def test_dashboard_asks_the_regulator_to_load_next_year(client_for, regulator_rita, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI), tick=False)
    page = client_for(regulator_rita).get("/").content.decode()
    assert "工作日历尚未加载 2027 年" in page


# --- editing the table ------------------------------------------------------------------------


def test_making_a_day_a_holiday_moves_the_deadline_and_is_audited(regulator_rita):
    """domain.md: the calendar is a table a regulator can edit (a late 调休 notice); the
    edit changes every deadline and, like every change of regulatory state, is audited.
    With Fri 2026-03-13 off, start Mon Mar 16 -> 12, 11, 10, 9, 6 -> due Mar 6."""
    before = AuditEvent.objects.count()
    workday_set(actor=regulator_rita, day=D(2026, 3, 13), is_workday=False, name=" 临时休假 ")
    assert sms_due(D(2026, 3, 16)) == D(2026, 3, 6)
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "calendar.set_day"
    assert event.actor == regulator_rita
    assert event.object_type == "portal.WorkDay"
    assert event.summary == {
        "before": {"is_workday": True, "name": ""},
        "after": {"is_workday": False, "name": "临时休假"},
    }
    assert CalendarYear.objects.get(year=2026).source == "人工调整"
    assert audit.verify_chain().ok


def test_making_a_saturday_a_working_day_moves_the_deadline(regulator_rita):
    """With Sat 2026-03-14 worked, start Mon Mar 16 -> 14, 13, 12, 11, 10 -> due Mar 10."""
    workday_set(actor=regulator_rita, day=D(2026, 3, 14), is_workday=True, name="调休上班")
    assert sms_due(D(2026, 3, 16)) == D(2026, 3, 10)


def test_operator_of_the_regulator_may_edit(operator_rob):
    workday_set(actor=operator_rob, day=D(2026, 3, 13), is_workday=False)
    assert not workdays.is_workday(D(2026, 3, 13))


@pytest.mark.parametrize("who", ["inst_alice", "carrier_carol", "financial_fiona"])
def test_only_the_regulator_edits_the_calendar(request, who):
    """domain.md: "a regulator can edit" the calendar; nobody else."""
    actor = request.getfixturevalue(who)
    with pytest.raises(NotPermitted):
        workday_set(actor=actor, day=D(2026, 3, 13), is_workday=False)
    with pytest.raises(NotPermitted):
        calendar_load_year(actor=actor, year=2026)
    assert workdays.is_workday(D(2026, 3, 13))


def test_editing_a_day_of_an_unloaded_year_is_refused(regulator_rita):
    with pytest.raises(CalendarYearMissing) as exc:
        workday_set(actor=regulator_rita, day=D(2027, 1, 4), is_workday=False)
    assert exc.value.year == 2027


def test_loading_the_same_year_again_changes_nothing():
    """Loading is idempotent: same schedule -> changed=False and no audit event."""
    before = AuditEvent.objects.count()
    working, changed = calendar_load_year(actor=SYSTEM, year=2026)
    assert (working, changed) == (248, False)
    assert AuditEvent.objects.count() == before


def test_reloading_restores_an_edited_year_and_is_audited(regulator_rita):
    workday_set(actor=regulator_rita, day=D(2026, 3, 13), is_workday=False)
    before = AuditEvent.objects.count()
    working, changed = calendar_load_year(actor=regulator_rita, year=2026)
    assert (working, changed) == (248, True)
    assert workdays.is_workday(D(2026, 3, 13))
    assert sms_due(D(2026, 3, 16)) == D(2026, 3, 9)
    event = AuditEvent.objects.order_by("-id").first()
    assert AuditEvent.objects.count() == before + 1
    assert event.action == "calendar.load_year"
    assert event.summary == {
        "source": "chinese-calendar",
        "working_days": 248,
        "replaced_days": 365,
    }
    assert CalendarYear.objects.get(year=2026).source == "chinese-calendar"
    # and a third load is again a no-op
    assert calendar_load_year(actor=regulator_rita, year=2026) == (248, False)


def test_loading_a_year_chinese_calendar_does_not_know():
    """chinese-calendar only knows years the State Council has published."""
    with pytest.raises(CalendarYearMissing) as exc:
        calendar_load_year(actor=SYSTEM, year=2027)
    assert exc.value.year == 2027
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_days_of_another_year_are_refused():
    days = workdays.schedule_days(2027, {})
    with pytest.raises(PortalError) as exc:
        calendar_load_year(actor=SYSTEM, year=2028, days=days)
    assert exc.value.code == "calendar_year"
    assert exc.value.message == "日历数据与年份 2028 不符"


def test_a_published_schedule_loads_and_then_deadlines_work():
    """domain.md: next year's schedule is published late; once loaded from the notice,
    deadlines in that year work. Hypothetical 2027: Jan 1 off. Start Fri 2027-01-08 ->
    7, 6, 5, 4, then Jan 3..1 off, Dec 31 2026 -> due 2026-12-31."""
    days = workdays.schedule_days(2027, {D(2027, 1, 1): (False, "元旦")})
    working, changed = calendar_load_year(actor=SYSTEM, year=2027, days=days, source="通知")
    assert changed
    assert working == 260
    assert sms_due(D(2027, 1, 8)) == D(2026, 12, 31)
    assert sms_due(D(2027, 1, 11)) == D(2027, 1, 4)
