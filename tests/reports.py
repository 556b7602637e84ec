"""服务对象报送表 files and reports for the tests that need them (issue 11), made through
the services: the pipeline the upload page, the API and the CLI share."""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.files import File

from registry import services
from registry.models import ServiceReport

HEADER = [
    "号码",
    "服务对象名称",
    "服务对象统一社会信用代码",
    "委托金融机构名称",
    "委托金融机构统一社会信用代码",
    "用途",
    "委托书编号",
    "合作起始日期",
    "合作截止日期",
]
ALICE = "91330000MA2A1CE00B"
BOB = "91330000MA2B0B000F"
UNKNOWN = "91330100MA2UNKN012"  # a valid code no organisation or partner has
PARTNER = "91330100MA2PART01W"


def row(number: str, **extra) -> list[str]:
    """One valid line: alice's bank served for marketing from 2026-01-01."""
    values = {
        "号码": number,
        "服务对象名称": "甲银行",
        "服务对象统一社会信用代码": ALICE,
        "委托金融机构名称": "",
        "委托金融机构统一社会信用代码": "",
        "用途": "营销",
        "委托书编号": "",
        "合作起始日期": "2026-01-01",
        "合作截止日期": "",
        **extra,
    }
    return [values[c] for c in HEADER]


def report_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def upload_report(actor, path: Path, quarter: tuple[int, int] = (2026, 2)):
    """Upload and run the import in this process: (report, finished job)."""
    with open(path, "rb") as fh:
        report, job, _created = services.service_report_upload(
            actor=actor,
            carrier=actor.organisation,
            year=quarter[0],
            quarter=quarter[1],
            upload=File(fh, name=path.name),
            original_name=path.name,
            enqueue=False,
        )
    job = services.upload_job_run(job_id=job.pk)
    job.refresh_from_db()
    report.refresh_from_db()
    return report, job


def submitted_report(actor, tmp_path: Path, numbers, quarter=(2026, 2)) -> ServiceReport:
    name = f"report-{quarter[0]}Q{quarter[1]}-{len(list(numbers))}.csv"
    path = report_csv(tmp_path / name, [row(n) for n in numbers])
    report, job = upload_report(actor, path, quarter)
    assert job.status == "done", job.message
    return services.service_report_submit(actor=actor, report=report)
