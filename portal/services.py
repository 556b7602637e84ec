"""Verbs on the working-day calendar (regulators edit it; every change is audited). The
deadline reminders that follow from it are registry.services.service_report_reminders_send:
they remind only carriers that have not submitted, which the portal shell cannot know."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from . import audit, workdays
from .errors import NotPermitted, PortalError
from .models import CalendarYear, Role, WorkDay

log = logging.getLogger(__name__)


def _require_calendar_editor(actor) -> None:
    if not audit.is_system(actor) and not (
        actor.is_regulator and actor.role in (Role.ADMIN, Role.OPERATOR)
    ):
        raise NotPermitted("只有通信管理局的管理员或经办人可以修改工作日历")


def calendar_load_year(
    *, actor, year: int, days: list[tuple[dt.date, bool, str]] | None = None, source: str = ""
) -> tuple[int, bool]:
    """Load (or reload) one year of the working-day table (domain.md, Working days).

    Without ``days`` the year comes from the ``chinese-calendar`` package, which raises
    :class:`workdays.CalendarYearMissing` for a year it does not know. Returns
    ``(working days in the year, changed)``; loading the same schedule again changes nothing.
    """
    _require_calendar_editor(actor)
    if days is None:
        days = workdays.chinese_calendar_days(year)
        source = source or "chinese-calendar"
    if not days or any(d.year != year for d, _, _ in days):
        raise PortalError(f"日历数据与年份 {year} 不符", code="calendar_year")
    current = {
        (d, w, n)
        for d, w, n in WorkDay.objects.filter(date__year=year).values_list(
            "date", "is_workday", "name"
        )
    }
    if current == set(days) and CalendarYear.objects.filter(year=year).exists():
        return sum(1 for _, w, _ in days if w), False
    with transaction.atomic():
        working = workdays.store_year(year, days, source=source)
        audit.record(
            "calendar.load_year",
            actor=actor,
            object_type="portal.CalendarYear",
            object_id=str(year),
            object_repr=f"{year} 年工作日历",
            summary={"source": source, "working_days": working, "replaced_days": len(current)},
        )
    return working, True


def workday_set(*, actor, day: dt.date, is_workday: bool, name: str = "") -> WorkDay:
    """Correct one day of a loaded year (e.g. a late 调休 announcement)."""
    _require_calendar_editor(actor)
    if not CalendarYear.objects.filter(year=day.year).exists():
        raise workdays.CalendarYearMissing(day.year)
    with transaction.atomic():
        row = WorkDay.objects.select_for_update().get(date=day)
        before = {"is_workday": row.is_workday, "name": row.name}
        row.is_workday = is_workday
        row.name = name.strip()[:32]
        row.save()
        CalendarYear.objects.filter(year=day.year).update(source="人工调整")
        audit.record(
            "calendar.set_day",
            actor=actor,
            obj=row,
            summary={"before": before, "after": {"is_workday": is_workday, "name": row.name}},
        )
    return row
