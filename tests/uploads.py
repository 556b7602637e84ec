"""Register files and uploads for tests that need a real import (the pipeline the upload
page, the API and the CLI share), without each test module writing its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from django.core.files import File

from portal.models import UploadJob
from registry import services

HEADER = "号码,用途,使用单位,电信运营商,合作起始日期"


def register_csv(
    path: Path, numbers: Iterable[str], *, carrier: Callable[[int], str] = lambda i: "中国移动"
) -> Path:
    """A minimal 号码登记表 (CSV, UTF-8): one marketing number of the institution per line."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER + "\n")
        for i, number in enumerate(numbers):
            fh.write(f"{number},营销,本机构,{carrier(i)},2026-01-01\n")
    return path


def upload_file(actor, path: Path, *, mode: str = "merge", enqueue: bool = False) -> UploadJob:
    """Upload ``path`` as ``actor`` into its own institution; a new job (not a duplicate)."""
    with open(path, "rb") as fh:
        job, created = services.import_job_create(
            actor=actor,
            institution=actor.organisation,
            upload=File(fh, name=path.name),
            original_name=path.name,
            mode=mode,
            enqueue=enqueue,
        )
    assert created
    return job


def import_file(actor, path: Path, *, mode: str = "merge") -> UploadJob:
    """Upload and run the import in this process; the finished job, as stored."""
    job = services.import_job_run(job_id=upload_file(actor, path, mode=mode).pk)
    job.refresh_from_db()
    return job
