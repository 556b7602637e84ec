"""Celery entry points for the registry: take ids, call services, safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from portal.spreadsheets import retention

from . import services

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def run_import_job(job_id: int) -> str:
    """Tasks queued before issue 9 named this; the engine's task runs them."""
    from portal.tasks import run_upload_job

    run_upload_job.delay(job_id)
    return "requeued"


@shared_task(acks_late=True)
def end_expired_partner_numbers() -> int:
    return services.partners_end_expired()


@shared_task(acks_late=True)
def purge_expired_imports() -> dict:
    """Daily (CELERY_BEAT_SCHEDULE): files of imports past retention go; see retention.py."""
    return retention.imports_purge_expired().as_dict()


@shared_task(acks_late=True)
def send_report_reminders() -> int:
    """Hourly: remind carriers that have not submitted, 3 working days before the quarterly
    report is due and on the day, each reminder once (services.service_report_reminders_send)."""
    from django.utils import timezone

    return services.service_report_reminders_send(today=timezone.localdate())
