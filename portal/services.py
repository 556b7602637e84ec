"""Verbs on the working-day calendar (regulators edit it; every change is audited) and the
deadline reminders that follow from it."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from . import audit, workdays
from .errors import NotPermitted, PortalError
from .models import CalendarYear, Organisation, OrgKind, ReminderSent, Role, WorkDay

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


def deadline_reminders_send(*, today: dt.date) -> int:
    """E-mail every active carrier once, 3 working days before the quarterly service-object
    report is due (000 §三(一)2; domain.md: remind 3 working days before). One
    ``ReminderSent`` row per carrier and deadline makes a second run send nothing; each
    reminder is audited (``notice.reminder``) with its recipients counted, never listed."""
    try:
        year, quarter, due = workdays.next_quarterly_deadline(today)
        remind_from = workdays.working_days_before(due.date(), workdays.REMINDER_WORKING_DAYS)[-1]
    except workdays.CalendarYearMissing as exc:
        log.warning("deadline reminders skipped: %s", exc.message)
        return 0
    if today < remind_from:
        return 0
    key = f"quarterly-{year}Q{quarter}"
    sent = 0
    for org in Organisation.objects.filter(kind=OrgKind.CARRIER, is_active=True):
        recipients = {u.email for u in org.users.filter(is_active=True) if u.email}
        if org.contact_email:
            recipients.add(org.contact_email)
        if not recipients:
            continue
        try:
            with transaction.atomic():
                ReminderSent.objects.create(organisation=org, key=key)
                audit.record(
                    "notice.reminder",
                    organisation=org,
                    object_type="portal.ReminderSent",
                    object_repr=f"{year} 年第 {quarter} 季度服务对象报送截止提醒",
                    summary={"key": key, "due": due.date(), "recipients": len(recipients)},
                )
                send_mail(
                    f"【提醒】{year} 年第 {quarter} 季度服务对象报送截止：{due:%Y-%m-%d}",
                    f"{org.name}：\n\n请于 {due:%Y 年 %m 月 %d 日} 24 时前在平台提交 {year} 年第 "
                    f"{quarter} 季度金融营销催收号码服务对象报送（季度末前 5 个工作日）。\n",
                    settings.DEFAULT_FROM_EMAIL,
                    sorted(recipients),
                )
        except IntegrityError:
            continue  # sent already (the beat ran twice, or another worker won)
        sent += 1
    return sent
