"""``manage.py purge_expired [--dry-run]`` and the daily task (registry/retention.py).

Records are kept at least 2 years (000 §二(一)2; 001 第十二条; ``RETENTION_DAYS``, default
731, never under 730): past that, the stored upload and the error report of a finished
import job are deleted from disk; the job row stays with its counts (history), marked
purged. Registered numbers and audit events are never deleted. Dates: time-machine.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse

from portal import audit
from portal.models import AuditEvent, UploadJob
from portal.settings import retention_days
from portal.spreadsheets import retention
from registry import tasks
from registry.models import ImportStatus, RegisteredNumber
from tests.uploads import import_file, register_csv

SHANGHAI = ZoneInfo("Asia/Shanghai")
OLD = dt.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
NEW = dt.datetime(2027, 6, 1, 10, 0, tzinfo=SHANGHAI)
# 731 days after 2026-03-15 (2028 is a leap year): the cutoff falls between OLD and NEW.
PURGE_DAY = dt.date(2028, 3, 15)
KEYS = {
    "dry_run",
    "cutoff",
    "retention_days",
    "import_jobs",
    "import_files",
    "error_reports",
    "bytes",
    "audit_events",
    "note",
}


def upload(actor, path: Path, numbers: list[str]) -> UploadJob:
    """A 号码登记表 (CSV) through the pipeline; a bad number makes a rejected job with an
    error report."""
    return import_file(actor, register_csv(path, numbers))


@pytest.fixture
def jobs(inst_alice, tmp_path, time_machine):
    """Two jobs finished in March 2026 (one imported, one rejected with an error report),
    one imported in June 2027, and one from March 2026 that never finished."""
    time_machine.move_to(OLD)
    old_done = upload(inst_alice, tmp_path / "old.csv", ["13800138000", "13800138001"])
    old_rejected = upload(inst_alice, tmp_path / "bad.csv", ["13800138002", "not-a-number"])
    stuck = upload(inst_alice, tmp_path / "stuck.csv", ["13800138003"])
    UploadJob.objects.filter(pk=stuck.pk).update(status=ImportStatus.RUNNING, finished_at=None)
    time_machine.move_to(NEW)
    new_done = upload(inst_alice, tmp_path / "new.csv", ["13800138000", "13800138004"])
    assert (old_done.status, old_rejected.status, new_done.status) == ("done", "rejected", "done")
    assert old_rejected.error_report
    return {
        "old_done": old_done,
        "old_rejected": old_rejected,
        "stuck": stuck,
        "new_done": new_done,
    }


def paths(job: UploadJob) -> list[Path]:
    return [Path(f.path) for f in (job.file, job.error_report) if f]


def numbers() -> list[tuple]:
    return list(RegisteredNumber.objects.order_by("pk").values_list("pk", "number", "status"))


def test_files_of_jobs_past_retention_are_deleted_rows_and_numbers_stay(jobs, time_machine):
    """000 §二(一)2 / 001 第十二条: only what finished before the cutoff goes, and only the
    files: the job keeps its name, hash and counts; no registered number is touched."""
    old_files = paths(jobs["old_done"]) + paths(jobs["old_rejected"])
    kept_files = paths(jobs["new_done"]) + paths(jobs["stuck"])
    assert len(old_files) == 3 and all(p.is_file() for p in old_files)
    size = sum(p.stat().st_size for p in old_files)
    registry = numbers()
    time_machine.move_to(dt.datetime.combine(PURGE_DAY, dt.time(3, 0), tzinfo=SHANGHAI))

    report = retention.imports_purge_expired()

    assert report.as_dict() == {
        "dry_run": False,
        "cutoff": "2026-03-15",
        "retention_days": 731,
        "import_jobs": 2,
        "import_files": 2,
        "error_reports": 1,
        "bytes": size,
        "audit_events": 0,
        "note": retention.AUDIT_KEPT,
    }
    assert not any(p.exists() for p in old_files)
    assert all(p.is_file() for p in kept_files)
    for key in ("old_done", "old_rejected"):
        job = UploadJob.objects.get(pk=jobs[key].pk)
        assert (job.file.name, job.error_report.name) == ("", "")
        assert job.purged_at is not None
        assert (job.original_name, job.sha256, job.rows_total, job.created, job.status) == (
            jobs[key].original_name,
            jobs[key].sha256,
            jobs[key].rows_total,
            jobs[key].created,
            jobs[key].status,
        )
    for key in ("new_done", "stuck"):
        job = UploadJob.objects.get(pk=jobs[key].pk)
        assert job.file.name == jobs[key].file.name
        assert job.purged_at is None
    assert numbers() == registry


def test_the_purge_is_audited_as_the_system_with_counts_only(jobs):
    """style.md: the change is audited in its own transaction; counts, not contents."""
    before = AuditEvent.objects.count()
    retention.imports_purge_expired(today=PURGE_DAY)
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-pk").first()
    assert event.action == "retention.purge"
    assert audit.action_label(event.action) == "清理超过保存期限的文件"
    assert (event.actor_id, event.actor_label, event.organisation_id) == (None, "系统", None)
    assert event.summary == {
        "cutoff": "2026-03-15",
        "retention_days": 731,
        "import_jobs": 2,
        "import_files": 2,
        "error_reports": 1,
        "bytes": event.summary["bytes"],
    }
    assert event.summary["bytes"] > 0
    assert audit.verify_chain().ok


def test_dry_run_reports_the_same_and_changes_nothing(jobs):
    files = [p for job in jobs.values() for p in paths(job)]
    rows = list(UploadJob.objects.order_by("pk").values())
    events = AuditEvent.objects.count()

    dry = retention.imports_purge_expired(today=PURGE_DAY, dry_run=True)

    assert dry.dry_run is True
    assert (dry.import_jobs, dry.import_files, dry.error_reports) == (2, 2, 1)
    assert all(p.is_file() for p in files)
    assert list(UploadJob.objects.order_by("pk").values()) == rows
    assert AuditEvent.objects.count() == events
    real = retention.imports_purge_expired(today=PURGE_DAY)
    assert {**dry.as_dict(), "dry_run": False} == real.as_dict()


def test_a_second_run_deletes_nothing_and_writes_no_event(jobs):
    retention.imports_purge_expired(today=PURGE_DAY)
    events = AuditEvent.objects.count()
    again = retention.imports_purge_expired(today=PURGE_DAY)
    assert (again.import_jobs, again.import_files, again.error_reports, again.bytes) == (0,) * 4
    assert AuditEvent.objects.count() == events


def test_a_job_is_kept_for_the_full_retention_period(jobs, settings):
    """ "At least 2 years": finished on 2026-03-10, the files are still there on the 731st day
    (cutoff = that day) and go on the day after; a longer RETENTION_DAYS keeps them longer."""
    finished = jobs["old_done"].finished_at.astimezone(SHANGHAI).date()
    assert finished == dt.date(2026, 3, 10)
    last_day = finished + dt.timedelta(days=731)
    assert retention.imports_purge_expired(today=last_day).import_jobs == 0
    settings.RETENTION_DAYS = 1000
    assert retention.imports_purge_expired(today=last_day + dt.timedelta(days=1)).import_jobs == 0
    settings.RETENTION_DAYS = 731
    assert retention.imports_purge_expired(today=last_day + dt.timedelta(days=1)).import_jobs == 2


def test_a_file_already_missing_from_disk_still_clears_the_row(jobs):
    path = Path(jobs["old_done"].file.path)
    path.unlink()
    report = retention.imports_purge_expired(today=PURGE_DAY)
    assert (report.import_jobs, report.import_files, report.error_reports) == (2, 1, 1)
    assert UploadJob.objects.get(pk=jobs["old_done"].pk).purged_at is not None


def cli(*args) -> dict:
    out = io.StringIO()
    call_command("purge_expired", *args, stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, out.getvalue()
    payload = json.loads(lines[0])
    assert set(payload) == KEYS
    return payload


def test_command_prints_one_json_line_dry_run_first(jobs, time_machine):
    """README "Command line": one JSON line; audit events are stated as never purged."""
    time_machine.move_to(dt.datetime.combine(PURGE_DAY, dt.time(3, 0), tzinfo=SHANGHAI))
    dry = cli("--dry-run")
    assert (dry["dry_run"], dry["cutoff"], dry["import_jobs"], dry["import_files"]) == (
        True,
        "2026-03-15",
        2,
        2,
    )
    assert dry["audit_events"] == 0
    assert "审计日志不清理" in dry["note"]
    assert all(p.is_file() for p in paths(jobs["old_done"]))
    done = cli()
    assert (done["dry_run"], done["import_jobs"], done["error_reports"]) == (False, 2, 1)
    assert not any(p.exists() for p in paths(jobs["old_done"]))
    assert cli()["import_jobs"] == 0


def test_daily_task_runs_the_purge(jobs, settings, time_machine):
    """CELERY_BEAT_SCHEDULE runs it every day through a thin task."""
    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-imports"]
    assert entry["task"] == tasks.purge_expired_imports.name
    assert entry["schedule"] == 24 * 3600
    time_machine.move_to(dt.datetime.combine(PURGE_DAY, dt.time(3, 0), tzinfo=SHANGHAI))
    assert tasks.purge_expired_imports.apply().get()["import_jobs"] == 2
    assert tasks.purge_expired_imports.apply().get()["import_jobs"] == 0


def test_retention_setting_defaults_to_731_and_refuses_under_two_years():
    """000 §二(一)2; 001 第十二条: kept at least 2 years, so RETENTION_DAYS < 730 is refused
    at start-up with a Chinese message."""
    assert retention_days(None) == 731
    assert retention_days("") == 731
    assert retention_days("730") == 730
    assert retention_days(" 1095 ") == 1095
    with pytest.raises(ImproperlyConfigured, match="不能少于 730 天"):
        retention_days("729")
    with pytest.raises(ImproperlyConfigured, match="整数"):
        retention_days("two years")


def test_a_purged_job_page_says_its_files_went_and_the_report_link_is_gone(
    jobs, client, time_machine
):
    """The history stays readable after the purge: the job's page keeps its result and says
    when and why its files went; the error report is no longer offered (a 404, not a 500)."""
    time_machine.move_to(dt.datetime.combine(PURGE_DAY, dt.time(3, 0), tzinfo=SHANGHAI))
    retention.imports_purge_expired()
    rejected = jobs["old_rejected"]
    client.force_login(rejected.created_by)
    page = client.get(reverse("registry_import_detail", args=[rejected.pk])).content.decode()
    assert 'data-testid="purged"' in page and "按保存期限清理" in page
    assert 'data-testid="error-report"' not in page
    assert rejected.message in page
    report = client.get(reverse("registry_import_errors", args=[rejected.pk]))
    assert report.status_code == 404
