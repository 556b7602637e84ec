"""Celery entry points of the portal shell. Thin, idempotent."""

from __future__ import annotations

import logging

from celery import shared_task

from . import audit

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def write_audit_checkpoint() -> dict:
    """Daily: verify the audit trail (an ERROR log line when it is broken, so a rewrite or a
    cut tail is found the day it happens), then write a signed checkpoint of it to the
    checkpoint file and the log. A repeated run only adds one more checkpoint."""
    report = audit.verify_chain()
    if not report.ok:
        log.error("审计日志校验未通过：%s", report.describe())
    return audit.write_checkpoint(reason="daily")


@shared_task(bind=True, acks_late=True, max_retries=2, default_retry_delay=10)
def run_upload_job(self, job_id: int) -> str:
    """Run one upload of any spreadsheet form. A worker that dies mid-way leaves the form's
    data as it was (the merge is one transaction); the redelivered task starts the job
    again, at most IMPORT_MAX_LOST_ATTEMPTS times (pipeline.upload_job_run). The file is
    parsed in a child process with a memory limit, so a hostile file fails its job, not the
    worker."""
    from .spreadsheets import pipeline

    try:
        job = pipeline.upload_job_run(job_id=job_id)
    except Exception as exc:
        log.exception("upload job %s failed (attempt %s)", job_id, self.request.retries + 1)
        if self.request.retries < self.max_retries:
            pipeline.upload_job_requeue(job_id=job_id)  # ended, not lost: see upload_job_run
        else:
            pipeline.upload_job_fail(
                job_id=job_id, reason="处理过程中出现系统错误，请稍后重试或联系平台运维"
            )
            return "failed"
        raise self.retry(exc=exc) from exc
    return job.status
