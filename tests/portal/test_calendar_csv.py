"""A year's holiday schedule as CSV, the way the State Council publishes it (domain.md,
"Working days": the next year's schedule is published late, the table must be loadable
without waiting for a new chinese-calendar release)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.calendar_csv import CalendarFileError, parse_calendar_csv

D = dt.date

# A hypothetical 2027 notice: 元旦 Jan 1 (Fri); 春节 Feb 6–12 off with Saturday Feb 20 worked.
NOTICE_2027 = """date,kind,name
2027-01-01,holiday,元旦
2027-02-06,holiday,春节
2027-02-07,holiday,春节
2027-02-08,holiday,春节
2027-02-09,holiday,春节
2027-02-10,holiday,春节
2027-02-11,holiday,春节
2027-02-12,holiday,春节
2027-02-20,workday,春节
"""


def as_dict(days):
    return {d: (w, n) for d, w, n in days}


def test_holiday_and_workday_rows_over_a_plain_week():
    """domain.md: statutory holidays off, adjusted working weekends (调休) on, every other day
    follows the week."""
    days = as_dict(parse_calendar_csv(NOTICE_2027.encode(), year=2027))
    assert len(days) == 365
    assert days[D(2027, 1, 1)] == (False, "元旦")
    assert days[D(2027, 2, 8)] == (False, "春节")  # a Monday, off
    assert days[D(2027, 2, 20)] == (True, "春节调休上班")  # a Saturday, worked
    assert days[D(2027, 2, 13)] == (False, "")  # plain Saturday
    assert days[D(2027, 2, 15)] == (True, "")  # plain Monday
    assert sum(1 for w, _ in days.values() if w) == 261 - 1 - 5 + 1


def test_chinese_kinds_and_gb18030():
    """Regulators save CSV from Excel on Chinese Windows: GB18030, 休/班, slashes in dates."""
    text = "日期,类型,说明\n2027/01/01,休,元旦\n2027-02-20,班,春节\n"
    days = as_dict(parse_calendar_csv(text.encode("gb18030"), year=2027))
    assert days[D(2027, 1, 1)] == (False, "元旦")
    assert days[D(2027, 2, 20)] == (True, "春节调休上班")


def test_utf8_with_bom_and_blank_lines():
    text = "\ufeffdate,kind\n\n2027-01-01,holiday\n,\n"
    days = as_dict(parse_calendar_csv(text.encode("utf-8"), year=2027))
    assert days[D(2027, 1, 1)] == (False, "")


def test_bad_rows_are_reported_with_line_numbers_in_chinese():
    text = (
        "date,kind\n"  # 1
        "2027-13-01,holiday\n"  # 2
        "2026-12-31,holiday\n"  # 3
        "2027-01-01,vacation\n"  # 4
        "2027-01-01\n"  # 5
        "2027-01-01,holiday\n"  # 6
        "2027-01-01,holiday\n"  # 7
    )
    with pytest.raises(CalendarFileError) as exc:
        parse_calendar_csv(text.encode(), year=2027)
    assert exc.value.message == (
        "第 2 行：日期“2027-13-01”格式应为 2027-01-01；"
        "第 3 行：日期 2026-12-31 不属于 2027 年；"
        "第 4 行：类型“vacation”应为 holiday 或 workday；"
        "第 5 行：应为“日期,类型”两列；"
        "第 7 行：日期 2027-01-01 重复"
    )


def test_make_up_workday_on_a_weekday_is_rejected():
    """调休上班 is always a weekend day; marking a Monday as one is a mistake in the file."""
    with pytest.raises(CalendarFileError) as exc:
        parse_calendar_csv(b"date,kind\n2027-02-15,workday\n", year=2027)
    assert exc.value.message == ("第 2 行：2027-02-15 是周一至周五，本就是工作日，无需标为调休上班")


def test_a_file_without_any_day_of_the_year_is_refused():
    with pytest.raises(CalendarFileError) as exc:
        parse_calendar_csv(b"date,kind\n", year=2027)
    assert exc.value.message == "文件中没有 2027 年的节假日或调休上班日"


def test_undecodable_file_is_refused():
    with pytest.raises(CalendarFileError) as exc:
        parse_calendar_csv(b"\xff\xfe\x00\x81\x30", year=2027)
    assert "UTF-8 或 GB18030" in exc.value.message


def test_oversized_file_is_refused_before_parsing():
    with pytest.raises(CalendarFileError) as exc:
        parse_calendar_csv(b"2027-01-01,holiday\n" * 20_000, year=2027)
    assert exc.value.message == "日历文件过大：每年只需几十行"


def test_many_errors_are_cut_after_twenty():
    text = "".join(f"2026-01-{day:02d},holiday\n" for day in range(1, 26))
    with pytest.raises(CalendarFileError) as exc:
        parse_calendar_csv(text.encode(), year=2027)
    assert exc.value.message.count("不属于 2027 年") == 20
    assert exc.value.message.endswith("……")


def test_calendar_csv_is_read_by_the_uploads_reader():
    """Issue 9 item 3: the calendar upload reads through the engine's reader, so what an
    upload accepts the calendar accepts too: Excel's "Unicode text" (UTF-16, tab-separated)
    and semicolon-separated CSV (the old decoder split on commas only)."""
    text = "date\tkind\tname\n2027-01-01\tholiday\t元旦\n2027-02-20\tworkday\t春节\n"
    days = as_dict(parse_calendar_csv(text.encode("utf-16"), year=2027))
    assert days[D(2027, 1, 1)] == (False, "元旦")
    assert days[D(2027, 2, 20)] == (True, "春节调休上班")
    semicolons = "date;kind\n2027-01-01;holiday\n"
    assert as_dict(parse_calendar_csv(semicolons.encode(), year=2027))[D(2027, 1, 1)] == (
        False,
        "",
    )
