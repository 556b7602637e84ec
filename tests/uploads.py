"""Register files and uploads for tests that need a real import (the pipeline the upload
page, the API and the CLI share), without each test module writing its own."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

import factory
import openpyxl
from django.core.files import File

from portal.models import UploadJob
from registry import services
from registry.models import ImportStatus, NumberStaging, RegisteredNumber, Status
from tests.hostile_files import FULL  # the 号码登记表's columns, shared with bench/

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


class RegisterRow(factory.DictFactory):
    """One valid row of the 号码登记表 (canonical column names), any column overridable;
    numbers in sequence when none is given."""

    号码 = factory.Sequence(lambda n: f"139{n:08d}")
    用途 = "营销"
    使用单位 = "本机构"
    电信运营商 = "中国移动"
    合作起始日期 = "2026-01-01"


def line(number, **fields) -> dict:
    return RegisterRow(号码=number, **fields)


def write_xlsx(path: Path, rows, header=FULL, *, titles=(), setup=None) -> Path:
    """rows: dicts keyed by header text, or lists in header order."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "号码登记表"
    for title in titles:
        ws.append(list(title))
    ws.append(list(header))
    for row in rows:
        ws.append([row.get(h) for h in header] if isinstance(row, dict) else list(row))
    if setup:
        setup(ws)
    wb.save(path)
    return path


def write_csv(path: Path, rows, header=FULL, *, encoding="utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h, "") for h in header] if isinstance(row, dict) else row)
    return path


def upload(actor, path: Path, *, mode="merge", institution=None, name=None):
    name = name or path.name
    with open(path, "rb") as fh:
        return services.import_job_create(
            actor=actor,
            institution=institution or actor.organisation,
            upload=File(fh, name=name),
            original_name=name,
            mode=mode,
            enqueue=False,
        )


def run(actor, path: Path, **kwargs) -> UploadJob:
    job, created = upload(actor, path, **kwargs)
    assert created
    if job.status == ImportStatus.QUEUED:
        job = services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def snapshot(institution=None) -> list[tuple]:
    """Every registry row, history included, in a comparable form."""
    rows = RegisteredNumber.objects.order_by("pk")
    if institution is not None:
        rows = rows.filter(institution=institution)
    return list(
        rows.values_list(
            "pk",
            "institution_id",
            "number",
            "status",
            "valid_from",
            "valid_to",
            "end_reason",
            "fingerprint",
            "carrier",
        )
    )


def active(institution) -> dict[str, RegisteredNumber]:
    rows = RegisteredNumber.objects.filter(institution=institution, status=Status.ACTIVE)
    return {n.number: n for n in rows}


def staged(job: UploadJob) -> int:
    # Per job: on PostgreSQL the staging rows are COPYed on a connection of their own and
    # committed there, so other tests' leftovers survive the test transaction's rollback.
    return NumberStaging.objects.filter(job_id=job.pk).count()


def error_rows(job: UploadJob) -> list[list[str]]:
    wb = openpyxl.load_workbook(job.error_report.path, read_only=True)
    assert wb.sheetnames == ["错误明细", "说明"]
    # 原行号 is a number in the workbook (issue 10 §14); compared as text here, like the rest.
    return [
        ["" if v is None else str(v) if i == 0 else v for i, v in enumerate(row)]
        for row in wb["错误明细"].iter_rows(values_only=True)
    ]


def seed(user, tmp_path, numbers, name="seed.xlsx", **fields) -> UploadJob:
    job = run(user, write_xlsx(tmp_path / name, [line(n, **fields) for n in numbers]))
    assert job.status == ImportStatus.DONE, job.message
    return job
