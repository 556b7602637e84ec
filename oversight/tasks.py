"""Celery entry points of oversight. Thin, idempotent."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from portal.workdays import CalendarYearMissing

from . import services

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def run_reconciliation(run_id: int) -> str:
    """Run one queued cross-match; a redelivered task finds it claimed and does nothing."""
    run = services.reconciliation_execute(run_id=run_id)
    return run.status


@shared_task(acks_late=True)
def scheduled_reconciliation() -> int | None:
    """A few times a day: on the working day after the quarter's report deadline, start
    that quarter's cross-match (once)."""
    try:
        run = services.scheduled_reconciliation_start(today=timezone.localdate())
    except CalendarYearMissing as exc:
        log.error("定时比对未启动：%s", exc)
        return None
    return run.pk if run else None


@shared_task(acks_late=True)
def case_overdue_reminders() -> dict:
    """Hourly: flag disposal cases past their deadline, remind each carrier once a day per
    case and the administration once a day with the list (idempotent)."""
    from .casework import overdue_remind

    try:
        return overdue_remind()
    except CalendarYearMissing as exc:
        log.error("逾期提醒未发送：%s", exc)
        return {}
