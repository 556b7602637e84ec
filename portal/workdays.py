"""China's official working-day calendar and the two filing deadlines (domain.md, Working days).

The table (``WorkDay``, one row per day of each covered ``CalendarYear``) is seeded from
``chinese-calendar`` and editable by regulators, because the State Council publishes next
year's schedule late in the year. A date in a year the table does not cover raises
:class:`CalendarYearMissing`; there is no Monday-to-Friday fallback.

Deadlines are whole working days before the event, the event's own day never counted, and
fall due at 23:59:59 Asia/Shanghai of the last allowed working day:

- bulk SMS filing (000 §二(二)3): start on day S -> end of the 5th working day before S;
- quarterly service-object report (000 §三(一)2): quarter ends on E -> end of the 5th
  working day before E.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.db import transaction

SHANGHAI = ZoneInfo("Asia/Shanghai")
LEAD_WORKING_DAYS = 5
REMINDER_WORKING_DAYS = 3

HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


def no_such_day(year: int, month: int, day: int) -> str | None:
    """Why year-month-day is no date (in Chinese), or None when it is one: "2026-02-30" is
    well written, so the answer names the day that does not exist, not the format."""
    if not 1 <= year <= 9999:
        return f"年份 {year} 无效"
    if not 1 <= month <= 12:
        return f"日期 {year}-{month:02d}-{day:02d} 不存在：月份应为 1–12"
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        return f"日期 {year}-{month:02d}-{day:02d} 不存在：{year} 年 {month} 月只有 {last} 天"
    return None


def parse_iso_day(text: str) -> dt.date:
    """A date typed as 2026-03-01; a ValueError in Chinese otherwise."""
    parts = text.strip().split("-")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ValueError(f"日期“{text.strip()}”格式应为 2026-03-01")
    year, month, day = map(int, parts)
    problem = no_such_day(year, month, day)
    if problem:
        raise ValueError(problem)
    return dt.date(year, month, day)


class CalendarYearMissing(LookupError):
    """A date falls in a year the working-day table does not cover."""

    code = "calendar_year_missing"

    def __init__(self, year: int) -> None:
        self.year = year
        self.message = (
            f"工作日历未包含 {year} 年：请监管人员在“工作日历”中加载 {year} 年的节假日安排后再试"
        )
        super().__init__(self.message)


def local_date(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of an aware datetime (naive means Shanghai)."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(SHANGHAI).date()


def end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=SHANGHAI)


def covered_years() -> set[int]:
    from .models import CalendarYear

    return set(CalendarYear.objects.values_list("year", flat=True))


def _require_years(years: Iterable[int]) -> None:
    known = covered_years()
    for year in sorted(set(years)):
        if year not in known:
            raise CalendarYearMissing(year)


def is_workday(day: dt.date) -> bool:
    from .models import WorkDay

    _require_years([day.year])
    row = WorkDay.objects.filter(date=day).values_list("is_workday", flat=True).first()
    if row is None:  # a covered year always has every day; a gap is a broken table
        raise CalendarYearMissing(day.year)
    return row


def working_days_before(day: dt.date, count: int) -> list[dt.date]:
    """The ``count`` working days strictly before ``day``, latest first."""
    from .models import WorkDay

    _require_years([day.year])
    days = list(
        WorkDay.objects.filter(date__lt=day, is_workday=True)
        .order_by("-date")
        .values_list("date", flat=True)[:count]
    )
    # Every year between the earliest day reached and `day` must be covered, or the walk
    # may have jumped over a year the table does not know.
    earliest_year = days[-1].year if len(days) == count else day.year - 1
    _require_years(range(earliest_year, day.year + 1))
    if len(days) < count:
        raise CalendarYearMissing(day.year - 1)
    return days


def working_days_after(day: dt.date, count: int) -> list[dt.date]:
    """The ``count`` working days strictly after ``day``, earliest first."""
    from .models import WorkDay

    _require_years([day.year])
    days = list(
        WorkDay.objects.filter(date__gt=day, is_workday=True)
        .order_by("date")
        .values_list("date", flat=True)[:count]
    )
    latest_year = days[-1].year if len(days) == count else day.year + 1
    _require_years(range(day.year, latest_year + 1))
    if len(days) < count:
        raise CalendarYearMissing(day.year + 1)
    return days


def working_days_between(start: dt.date, end: dt.date) -> int:
    """The working days ``d`` with ``start < d <= end`` (0 when ``end <= start``)."""
    from .models import WorkDay

    if end <= start:
        return 0
    _require_years(range(start.year, end.year + 1))
    return WorkDay.objects.filter(date__gt=start, date__lte=end, is_workday=True).count()


def working_days_late(due: dt.datetime, moment: dt.datetime) -> int:
    """How many working days ``moment`` is past ``due`` (0 when on time): the working days
    after the due day up to and including the day of ``moment`` (Asia/Shanghai). Submitted
    on the Wednesday after a Tuesday deadline: 1; on the weekend after it: 3."""
    if moment <= due:
        return 0
    return working_days_between(local_date(due), local_date(moment))


def sms_filing_deadline(start: dt.datetime | dt.date) -> dt.datetime:
    """Latest moment to file a bulk-SMS campaign that starts at ``start`` (000 §二(二)3).

    Start Monday 2026-03-16 -> due 2026-03-09 23:59:59 Asia/Shanghai.
    """
    start_day = start if not isinstance(start, dt.datetime) else local_date(start)
    return end_of_day(working_days_before(start_day, LEAD_WORKING_DAYS)[-1])


def sms_filing_deadlines(
    days: Iterable[dt.date],
) -> dict[dt.date, dt.datetime | CalendarYearMissing]:
    """:func:`sms_filing_deadline` for many start days in two queries (the covered years,
    then the working days of the span): each day maps to its deadline, or to the
    :class:`CalendarYearMissing` that the single-day function would raise for it."""
    from .models import WorkDay

    wanted = sorted(set(days))
    if not wanted:
        return {}
    known = covered_years()
    # Five working days never span more than a few weeks, even over Spring Festival.
    opened = list(
        WorkDay.objects.filter(
            date__gte=wanted[0] - dt.timedelta(days=62), date__lt=wanted[-1], is_workday=True
        )
        .order_by("date")
        .values_list("date", flat=True)
    )
    result: dict[dt.date, dt.datetime | CalendarYearMissing] = {}
    for day in wanted:
        if day.year not in known:
            result[day] = CalendarYearMissing(day.year)
            continue
        index = bisect.bisect_left(opened, day)
        found = index >= LEAD_WORKING_DAYS
        earliest_year = opened[index - LEAD_WORKING_DAYS].year if found else day.year - 1
        missing = [y for y in range(earliest_year, day.year + 1) if y not in known]
        if missing:
            result[day] = CalendarYearMissing(missing[0])
        elif not found:
            result[day] = CalendarYearMissing(day.year - 1)
        else:
            result[day] = end_of_day(opened[index - LEAD_WORKING_DAYS])
    return result


def quarter_last_day(year: int, quarter: int) -> dt.date:
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"季度应为 1–4，实际为 {quarter}")
    month = quarter * 3
    if month == 12:
        return dt.date(year, 12, 31)
    return dt.date(year, month + 1, 1) - dt.timedelta(days=1)


def quarterly_report_deadline(year: int, quarter: int) -> dt.datetime:
    """Due moment of a carrier's service-object report for a quarter (000 §三(一)2).

    Q2 2026 ends Tuesday 2026-06-30 -> due 2026-06-23 23:59:59 Asia/Shanghai.
    """
    return end_of_day(working_days_before(quarter_last_day(year, quarter), LEAD_WORKING_DAYS)[-1])


def quarter_of(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def next_quarterly_deadline(today: dt.date) -> tuple[int, int, dt.datetime]:
    """The first quarterly-report deadline that is not yet past on ``today``."""
    year, quarter = quarter_of(today)
    for _ in range(2):
        due = quarterly_report_deadline(year, quarter)
        if due.date() >= today:
            return year, quarter, due
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    raise AssertionError("unreachable")  # pragma: no cover


def parse_quarter(text: str) -> tuple[int, int]:
    """'2026Q2' / '2026q2' / '2026-Q2' -> (2026, 2)."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    if len(cleaned) != 6 or cleaned[4] != "Q" or not cleaned[:4].isdigit():
        raise ValueError(f"季度格式应为 2026Q2，实际为“{text}”")
    quarter = int(cleaned[5]) if cleaned[5].isdigit() else 0
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"季度应为 1–4，实际为“{text}”")
    return int(cleaned[:4]), quarter


# --- loading the table -----------------------------------------------------------------


def chinese_calendar_days(year: int) -> list[tuple[dt.date, bool, str]]:
    """A year's days from the ``chinese-calendar`` package; raises for unknown years."""
    import chinese_calendar

    day = dt.date(year, 1, 1)
    result = []
    try:
        while day.year == year:
            on_holiday, holiday = chinese_calendar.get_holiday_detail(day)
            working = chinese_calendar.is_workday(day)
            name = HOLIDAY_NAMES.get(holiday, holiday or "") if holiday else ""
            if working and name:
                name = f"{name}调休上班"
            elif not working and not on_holiday:
                name = ""
            result.append((day, working, name))
            day += dt.timedelta(days=1)
    except NotImplementedError as exc:
        raise CalendarYearMissing(year) from exc
    return result


def schedule_days(
    year: int, exceptions: dict[dt.date, tuple[bool, str]]
) -> list[tuple[dt.date, bool, str]]:
    """A year's days from a published schedule: weekends off, weekdays on, then exceptions."""
    day = dt.date(year, 1, 1)
    result = []
    while day.year == year:
        working, name = exceptions.get(day, (day.weekday() < 5, ""))
        result.append((day, working, name))
        day += dt.timedelta(days=1)
    return result


def store_year(year: int, days: list[tuple[dt.date, bool, str]], *, source: str) -> int:
    """Replace one year's rows in the table; returns the number of working days."""
    from .models import CalendarYear, WorkDay

    with transaction.atomic():
        WorkDay.objects.filter(date__year=year).delete()
        WorkDay.objects.bulk_create(
            [WorkDay(date=d, is_workday=w, name=n) for d, w, n in days], batch_size=400
        )
        CalendarYear.objects.update_or_create(year=year, defaults={"source": source})
    return sum(1 for _, w, _ in days if w)
