"""Retention of every form's uploads (the engine's jobs): past ``RETENTION_DAYS`` the
stored files go.

Records are kept at least 2 years (000 §二(一)2; 001 第十二条), so this deletes only what is
older than that, and only file contents: the upload job row stays with its file name, size,
SHA-256, counts and message (the history stays readable), and ``purged_at`` says when its
files went. Registered numbers are never deleted (they are ended). Entrustment documents
stay: they are the evidence behind partner registrations, which are never deleted either.
Audit events are never purged: the retention period is a minimum, not a maximum, and the
hash chain must stay verifiable from its first event (portal/audit.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal import audit
from portal.audit import SYSTEM

from .models import FINISHED, UploadJob

AUDIT_KEPT = "审计日志不清理：保存期限是最低要求，哈希链须自第一条起始终可校验"


@dataclass
class PurgeReport:
    dry_run: bool
    cutoff: str
    retention_days: int
    import_jobs: int = 0
    import_files: int = 0
    error_reports: int = 0
    bytes: int = 0
    audit_events: int = 0  # never purged, always 0; in the report so nobody has to guess
    note: str = AUDIT_KEPT

    def as_dict(self) -> dict:
        return asdict(self)


def retention_cutoff(today: dt.date | None = None) -> dt.date:
    """The first day still inside retention: anything finished before it may go."""
    today = today or timezone.localdate()
    return today - dt.timedelta(days=settings.RETENTION_DAYS)


def _storage():
    return UploadJob._meta.get_field("file").storage


def _size(name: str) -> int | None:
    """The stored file's size, or None when it is not (or no longer) on disk."""
    try:
        return _storage().size(name)
    except OSError:
        return None


def imports_purge_expired(*, today: dt.date | None = None, dry_run: bool = False) -> PurgeReport:
    """Delete the stored upload and error report of every finished import job that finished
    before the retention cutoff; keep the job row, mark it purged, audit the counts.

    Run by the system (daily beat task, ``manage.py purge_expired``). Idempotent: a purged
    job is not looked at again, and a run that deletes nothing writes no audit event.
    ``dry_run`` counts what would go and changes nothing.
    """
    cutoff = retention_cutoff(today)
    cutoff_at = dt.datetime.combine(cutoff, dt.time.min, tzinfo=timezone.get_current_timezone())
    report = PurgeReport(
        dry_run=dry_run, cutoff=cutoff.isoformat(), retention_days=settings.RETENTION_DAYS
    )
    expired = UploadJob.objects.filter(
        status__in=FINISHED, finished_at__lt=cutoff_at, purged_at__isnull=True
    ).order_by("pk")
    with transaction.atomic():
        jobs = list(
            (expired if dry_run else expired.select_for_update()).values_list(
                "pk", "file", "error_report"
            )
        )
        for _, upload, error_report in jobs:
            for name, counter in ((upload, "import_files"), (error_report, "error_reports")):
                size = _size(name) if name else None
                if size is None:
                    continue  # nothing on disk (never was, or gone already): the row is cleared
                setattr(report, counter, getattr(report, counter) + 1)
                report.bytes += size
                if not dry_run:
                    # Inside the transaction: if anything below fails, the rows still name
                    # their files and the next run deletes what is left.
                    _storage().delete(name)
        report.import_jobs = len(jobs)
        if dry_run or not jobs:
            return report
        UploadJob.objects.filter(pk__in=[pk for pk, _, _ in jobs]).update(
            file="", error_report="", purged_at=timezone.now()
        )
        audit.record(
            "retention.purge",
            actor=SYSTEM,
            object_type=UploadJob._meta.label,
            object_repr="超过保存期限的导入文件",
            summary={
                key: value
                for key, value in report.as_dict().items()
                if key not in ("dry_run", "note", "audit_events")
            },
        )
    return report
