"""The upload engine (issue 9): a tiny test-only form of two columns goes through the whole
engine (inspection, the reader child, header matching with a synonym, the validating
thread, the one transaction, set-level checks, the one-pass error workbook, the template,
the job pages and API), declared here and registered like an app's form: no engine change.
Uploaded by a carrier, whose job is its own; other organisations get 404."""

from __future__ import annotations

import datetime as dt
import gc
import io
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.files.base import ContentFile

from portal.errors import PortalError
from portal.models import OrgKind, UploadJob, UploadStatus
from portal.spreadsheets import pipeline
from portal.spreadsheets.form import (
    Column,
    FormStaging,
    RowResult,
    SpreadsheetForm,
    register_form,
    unregister_form,
)
from portal.spreadsheets.template import build_template

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The form's "own table": what its merge wrote, by organisation.
MERGED: dict[int, dict[str, str]] = {}


class TinyStaging(FormStaging):
    """Stages rows in memory; the set-level check: a code already merged by another
    organisation (a conflict with stored data)."""

    def __init__(self, job) -> None:
        self.organisation_id = job.organisation_id
        self.batch: dict[str, str] = {}

    def stage(self, batch):
        found = {}
        for row in batch:
            code, name = row.result.values
            if any(code in rows for org, rows in MERGED.items() if org != self.organisation_id):
                found[row.row_no] = [("编号", f"编号 {code} 已由其他单位报送")]
        return found

    def merge_batch(self, batch):
        self.batch.update(dict(row.result.values for row in batch))

    def complete(self):
        MERGED.setdefault(self.organisation_id, {}).update(self.batch)
        return {"created": len(self.batch)}


class TinyForm(SpreadsheetForm):
    code = "tests.tiny"
    label = "测试小表"
    sheet_title = "测试小表"
    columns = (
        Column("编号", required=True, synonyms=("代码",), example="A001", help="字母加数字"),
        Column("名称", required=True, choices=("甲", "乙"), example="甲", help="甲或乙"),
    )
    uploader_kinds = (OrgKind.CARRIER,)
    duplicate_column = "编号"
    duplicate_message = "编号 {key} 与第 {first} 行重复"

    def validate(self, cells, columns, ctx):
        code = cells[columns["编号"]] if columns["编号"] < len(cells) else ""
        name = cells[columns["名称"]] if columns["名称"] < len(cells) else ""
        errors = []
        if not code.isalnum():
            errors.append(("编号", f"编号“{code}”只能是字母和数字"))
        if name not in ("甲", "乙"):
            errors.append(("名称", f"名称“{name}”应为甲或乙"))
        return RowResult(errors=errors) if errors else RowResult(values=(code, name), key=code)

    def staging(self, job, ctx):
        return TinyStaging(job)

    def result_message(self, job, counts):
        return f"已报送 {counts['created']} 行"


@pytest.fixture(autouse=True)
def tiny_form(settings, tmp_path, time_machine):
    settings.MEDIA_ROOT = tmp_path / "media"
    time_machine.move_to(dt.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI))
    MERGED.clear()
    form = register_form(TinyForm())
    yield form
    unregister_form(form.code)


def xlsx(rows, header=("代码", "名称")) -> ContentFile:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["测试小表（标题行）"])
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return ContentFile(out.getvalue(), name="tiny.xlsx")


def upload(actor, rows) -> UploadJob:
    job, created = pipeline.upload_job_create(
        actor=actor,
        organisation=actor.organisation,
        form="tests.tiny",
        upload=xlsx(rows),
        original_name="tiny.xlsx",
        enqueue=False,
    )
    assert created
    return pipeline.upload_job_run(job_id=job.pk)


def error_rows(job) -> list[list]:
    wb = openpyxl.load_workbook(job.error_report.path)
    return [[c.value for c in row] for row in wb.worksheets[0].iter_rows()]


def test_a_new_form_is_a_declaration_plus_its_validation_and_merge(carrier_carol):
    """Issue 9 item 9: the two-column form imports through the engine (title row, a header
    synonym, the reader child, one transaction), its merge writes its own table."""
    job = upload(carrier_carol, [("A001", "甲"), ("B002", "乙")])
    assert job.status == UploadStatus.DONE, job.message
    assert (job.form, job.rows_total, job.created, job.message) == (
        "tests.tiny",
        2,
        2,
        "已报送 2 行",
    )
    assert {carrier_carol.organisation_id: {"A001": "甲", "B002": "乙"}} == MERGED
    assert job.organisation == carrier_carol.organisation


def test_the_new_form_gets_one_pass_errors_in_row_order(carrier_carol, inst_alice):
    """Issue 9 item 4, for any form: row errors, repeats within the file and the form's
    set-level conflicts in one error workbook, in row order; nothing is merged."""
    MERGED[inst_alice.organisation_id] = {"Z999": "甲"}  # stored data of someone else
    rows = [("A001", "甲"), ("A001", "乙"), ("Z999", "甲"), ("C-3", "丙"), ("D004", "乙")]
    job = upload(carrier_carol, rows)
    assert job.status == UploadStatus.REJECTED
    assert job.error_count == 3
    report = error_rows(job)
    assert [r[0] for r in report[1:]] == [4, 5, 6]  # 原行号 is a number
    assert report[1][-1] == "编号 A001 与第 3 行重复"
    assert report[2][-1] == "编号 Z999 已由其他单位报送"
    assert report[3][-2:] == ["编号、名称", "编号“C-3”只能是字母和数字；名称“丙”应为甲或乙"]
    assert carrier_carol.organisation_id not in MERGED


def test_the_garbage_collector_settings_come_back_after_an_upload(carrier_carol):
    """Issue 9 item 8: while rows stream through, the cyclic collector runs less often and
    the worker's own objects are frozen; afterwards the process is as it was, even when the
    upload is rejected."""
    before = gc.get_threshold()
    job = upload(carrier_carol, [("A001", "甲"), ("B002", "乙")])
    assert job.status == UploadStatus.DONE, job.message
    rejected = upload(carrier_carol, [("C-3", "丙")])
    assert rejected.status == UploadStatus.REJECTED
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_template_comes_from_the_declaration(tiny_form):
    """Issue 9 item 1: header row, drop-down for the enumeration, 填写说明 with the help and
    the example (never on the sheet that is read)."""
    wb = openpyxl.load_workbook(io.BytesIO(build_template(tiny_form)))
    ws = wb["测试小表"]
    assert [c.value for c in ws[1]] == ["编号*", "名称*"]
    assert ws.max_row == 1
    lists = {str(v.sqref): v.formula1 for v in ws.data_validations.dataValidation}
    assert lists == {"B2:B5001": '"甲,乙"'}
    help_rows = [[c.value for c in row] for row in wb["填写说明"].iter_rows()]
    assert ["编号", "必填", "字母加数字", "A001"] in help_rows


def test_only_the_forms_organisations_upload_it(inst_alice):
    with pytest.raises(PortalError) as exc:
        pipeline.upload_job_create(
            actor=inst_alice,
            organisation=inst_alice.organisation,
            form="tests.tiny",
            upload=xlsx([("A001", "甲")]),
            original_name="tiny.xlsx",
            enqueue=False,
        )
    assert exc.value.code == "form_not_for_organisation"


def test_a_carrier_sees_its_own_job_and_others_get_404(
    carrier_carol, inst_alice, inst_bob, regulator_rita, financial_fiona, client_for
):
    """Issue 9 items 2 and 9: a carrier's upload is its own job (pages and API), the
    administration reads it, an institution gets 404 on it and on its error report; so
    does a financial regulator, whose scope is institutions, not carriers' files that
    name institutions outside it (issue 14 §6)."""
    job = upload(carrier_carol, [("A001", "甲"), ("A001", "乙")])
    assert job.status == UploadStatus.REJECTED
    pages = [
        f"/uploads/{job.pk}/",
        f"/uploads/{job.pk}/progress/",
        f"/uploads/{job.pk}/errors.xlsx",
        f"/api/uploads/{job.pk}/",
        f"/api/uploads/{job.pk}/error-report/",
    ]
    for user, expected in (
        (carrier_carol, 200),
        (regulator_rita, 200),
        (financial_fiona, 404),
        (inst_alice, 404),
    ):
        client = client_for(user)
        for url in pages:
            assert client.get(url).status_code == expected, (user, url)
    carol = client_for(carrier_carol)
    body = carol.get(f"/api/uploads/{job.pk}/").json()
    assert (body["form"], body["form_label"], body["status"]) == (
        "tests.tiny",
        "测试小表",
        "rejected",
    )
    assert [j["id"] for j in carol.get("/api/uploads/").json()["results"]] == [job.pk]
    assert "测试小表" in carol.get(f"/uploads/{job.pk}/").content.decode()


def test_institution_b_gets_404_on_as_register_job(
    inst_alice, inst_bob, carrier_carol, regulator_rita, financial_fiona, client_for, tmp_path
):
    """Issue 9 item 9: B gets a 404 on A's job and on its error report, at the engine's
    addresses and at the register's old ones; the regulators read it (the financial
    regulator supervises alice's bank, issue 14 §6); a carrier does not."""
    from tests.uploads import import_file, register_csv

    path = register_csv(tmp_path / "a.csv", ["13800138000", "12345"])
    job = import_file(inst_alice, path)
    assert job.status == UploadStatus.REJECTED and job.error_report
    urls = [
        f"/uploads/{job.pk}/",
        f"/uploads/{job.pk}/errors.xlsx",
        f"/registry/imports/{job.pk}/",
        f"/registry/imports/{job.pk}/errors.xlsx",
        f"/api/uploads/{job.pk}/error-report/",
        f"/api/registry/imports/{job.pk}/error-report/",
    ]
    for user, expected in (
        (inst_alice, 200),
        (regulator_rita, 200),
        (financial_fiona, 200),
        (inst_bob, 404),
        (carrier_carol, 404),
    ):
        client = client_for(user)
        for url in urls:
            assert client.get(url).status_code == expected, (user, url)


def test_a_running_jobs_progress_shows_on_sqlite_too(client_for, carrier_carol, settings, tmp_path):
    """Architecture (embedded default): long jobs show progress in the page. SQLite has one
    writer, held by the merge transaction: the count goes through a file beside the uploads,
    and the page and the API read it while the job runs."""
    from django.db import connection

    from portal.models import UploadJob
    from portal.spreadsheets import pipeline

    settings.MEDIA_ROOT = tmp_path / "media"
    job = UploadJob.objects.create(
        organisation=carrier_carol.organisation,
        created_by=carrier_carol,
        form="tests.tiny",
        original_name="a.xlsx",
        size=1,
        sha256="ab" * 32,
        status="running",
        rows_total=2000,
    )
    progress = pipeline._Progress(job)
    progress(500)
    client = client_for(carrier_carol)
    page = client.get(f"/uploads/{job.pk}/progress/").content.decode()
    api = client.get(f"/api/uploads/{job.pk}/").json()
    if connection.vendor == "postgresql":  # written to the job row at once there
        assert UploadJob.objects.get(pk=job.pk).rows_done == 500
    assert 'data-progress="25"' in page and "500" in page
    assert api["rows_done"] == 500
    progress.close()
    assert not pipeline._progress_file(job.pk).exists()


def test_reader_child_imports_neither_django_nor_celery_nor_openpyxl():
    """The reader's process starts in a fraction of the time: the web app's package
    ``__init__`` (openpyxl and the Celery app, 0.25 s of CPU) is not run there."""
    import subprocess
    import sys

    from portal.spreadsheets import sandbox

    probe = sandbox._BOOTSTRAP.replace(
        "_child(json.loads(sys.argv[1]))",
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'celery', 'django', 'openpyxl'}))",
    )
    assert probe != sandbox._BOOTSTRAP
    out = subprocess.run(  # noqa: S603 - our interpreter and our own probe
        [sys.executable, "-c", probe, "{}"],
        cwd=str(sandbox._project_root()),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
