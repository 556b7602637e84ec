"""Celery entry points for the registry: take ids, call services, safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from . import retention, services

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=2, default_retry_delay=10)
def run_import_job(self, job_id: int) -> str:
    """Import one uploaded register. A worker that dies mid-way leaves the registry as it
    was (the merge is one transaction); the redelivered task starts the job again, at most
    IMPORT_MAX_LOST_ATTEMPTS times (services.import_job_run). The file is parsed in a
    child process with a memory limit, so a hostile file fails its job, not the worker."""
    try:
        job = services.import_job_run(job_id=job_id)
    except Exception as exc:
        log.exception("import job %s failed (attempt %s)", job_id, self.request.retries + 1)
        if self.request.retries < self.max_retries:
            services.import_job_requeue(job_id=job_id)  # ended, not lost: see import_job_run
        else:
            services.import_job_fail(
                job_id=job_id, reason="处理过程中出现系统错误，请稍后重试或联系平台运维"
            )
            return "failed"
        raise self.retry(exc=exc) from exc
    return job.status


@shared_task(acks_late=True)
def end_expired_partner_numbers() -> int:
    return services.partners_end_expired()


@shared_task(acks_late=True)
def purge_expired_imports() -> dict:
    """Daily (CELERY_BEAT_SCHEDULE): files of imports past retention go; see retention.py."""
    return retention.imports_purge_expired().as_dict()
