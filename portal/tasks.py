"""Celery entry points of the portal shell. Thin, idempotent."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from . import audit, services

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def send_deadline_reminders() -> int:
    """Daily: e-mail carriers 3 working days before the quarterly report is due."""
    return services.deadline_reminders_send(today=timezone.localdate())


@shared_task(acks_late=True)
def write_audit_checkpoint() -> dict:
    """Daily: verify the audit trail (an ERROR log line when it is broken, so a rewrite or a
    cut tail is found the day it happens), then write a signed checkpoint of it to the
    checkpoint file and the log. A repeated run only adds one more checkpoint."""
    report = audit.verify_chain()
    if not report.ok:
        log.error("审计日志校验未通过：%s", report.describe())
    return audit.write_checkpoint(reason="daily")
