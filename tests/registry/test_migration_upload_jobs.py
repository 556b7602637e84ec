"""Issue 9 item 2: the register's ImportJob rows become UploadJob rows under their own ids,
with their history (counts, files, attempts, times), and the registered numbers keep
pointing at the job that brought them in; migrating back restores them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.migrations import latest, migrate

BEFORE = [("registry", "0006_import_attempt_cap"), ("portal", "0009_uploadjob")]
AFTER = [("registry", "0007_import_jobs_to_upload_jobs")]


@pytest.mark.django_db(transaction=True)
def test_import_jobs_are_carried_over_under_their_ids(inst_alice):
    old = migrate(BEFORE)
    ImportJob = old.get_model("registry", "ImportJob")
    Number = old.get_model("registry", "RegisteredNumber")
    finished = timezone.now() - dt.timedelta(days=3)
    job = ImportJob.objects.create(
        id=41,
        institution_id=inst_alice.organisation_id,
        created_by_id=inst_alice.pk,
        file="imports/2026/11/x.xlsx",
        original_name="号码登记表.xlsx",
        size=1234,
        sha256="ab" * 32,
        mode="replace",
        status="done",
        rows_total=2,
        rows_done=2,
        created=2,
        attempts=1,
        message="已导入 2 行",
        finished_at=finished,
    )
    Number.objects.create(
        institution_id=inst_alice.organisation_id,
        number="13800138000",
        kind="mobile",
        purpose="marketing",
        user_type="self",
        user_name="本机构",
        carrier="中国移动",
        valid_from=dt.date(2026, 1, 1),
        fingerprint="x",
        source_job_id=job.pk,
    )
    new = migrate(AFTER)
    UploadJob = new.get_model("portal", "UploadJob")
    carried = UploadJob.objects.get(pk=41)
    assert (carried.form, carried.options, carried.organisation_id) == (
        "registry.numbers",
        {"mode": "replace"},
        inst_alice.organisation_id,
    )
    assert (carried.original_name, carried.rows_total, carried.created, carried.status) == (
        "号码登记表.xlsx",
        2,
        2,
        "done",
    )
    assert carried.finished_at == finished and carried.file.name == "imports/2026/11/x.xlsx"
    number = new.get_model("registry", "RegisteredNumber").objects.get(number="13800138000")
    assert number.source_job_id == 41
    # A new job after the carried-over ones gets a fresh id (the sequence moved on).
    later = UploadJob.objects.create(
        organisation_id=inst_alice.organisation_id,
        form="registry.numbers",
        original_name="b.xlsx",
        size=1,
        sha256="cd" * 32,
    )
    assert later.pk > 41
    later.delete()
    back = migrate(BEFORE)
    assert back.get_model("registry", "ImportJob").objects.get(pk=41).mode == "replace"
    migrate(latest())
