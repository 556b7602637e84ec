"""A year's holiday schedule as a small CSV: ``date,kind[,name]``.

``kind`` is ``holiday`` (休) or ``workday`` (班, the make-up working weekends); all other
days follow the week (Monday–Friday working). Used by ``load_calendar`` and the upload on
the regulator's calendar page.
"""

from __future__ import annotations

import datetime as dt

from .spreadsheets.files import FileRejected
from .spreadsheets.reader import read_csv_bytes
from .workdays import schedule_days

KINDS = {
    "holiday": False,
    "休": False,
    "休息": False,
    "假日": False,
    "节假日": False,
    "workday": True,
    "班": True,
    "上班": True,
    "工作日": True,
    "调休上班": True,
}


class CalendarFileError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_calendar_csv(data: bytes, *, year: int) -> list[tuple[dt.date, bool, str]]:
    if len(data) > 200_000:
        raise CalendarFileError("日历文件过大：每年只需几十行")
    exceptions: dict[dt.date, tuple[bool, str]] = {}
    errors = []
    try:
        # The uploads' own CSV reader (encodings, delimiters, messages): issue 9 item 3.
        rows = read_csv_bytes(data, max_columns=8)
    except FileRejected as exc:
        raise CalendarFileError(exc.message) from None
    for number, cells in rows:
        if cells[0].lower() in ("date", "日期"):
            continue
        if len(cells) < 2:
            errors.append(f"第 {number} 行：应为“日期,类型”两列")
            continue
        try:
            day = dt.date.fromisoformat(cells[0].replace("/", "-"))
        except ValueError:
            errors.append(f"第 {number} 行：日期“{cells[0]}”格式应为 2027-01-01")
            continue
        if day.year != year:
            errors.append(f"第 {number} 行：日期 {day} 不属于 {year} 年")
            continue
        kind = KINDS.get(cells[1].lower())
        if kind is None:
            errors.append(f"第 {number} 行：类型“{cells[1]}”应为 holiday 或 workday")
            continue
        if day in exceptions:
            errors.append(f"第 {number} 行：日期 {day} 重复")
            continue
        name = cells[2] if len(cells) > 2 else ""
        if kind and day.weekday() < 5:
            errors.append(f"第 {number} 行：{day} 是周一至周五，本就是工作日，无需标为调休上班")
            continue
        if kind and name and not name.endswith("上班"):
            name = f"{name}调休上班"
        exceptions[day] = (kind, name)
    if errors:
        raise CalendarFileError("；".join(errors[:20]) + ("……" if len(errors) > 20 else ""))
    if not exceptions:
        raise CalendarFileError(f"文件中没有 {year} 年的节假日或调休上班日")
    return schedule_days(year, exceptions)
