"""Bulk import pages (issue 4 §7): upload a 号码登记表, watch the job's progress (htmx
polling that stops when the job is finished), read the result, download the error workbook
of a rejected file. Files are built in tmp_path with openpyxl (style.md: tests)."""

from __future__ import annotations

import io
import time

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.models import UploadJob
from registry import services
from registry.models import ImportStatus, RegisteredNumber, Status
from tests.registry.conftest import make_xlsx, register, upload_of

pytestmark = pytest.mark.django_db

NEW = "/registry/imports/new/"
GOOD_ROWS = [
    ("13800138000", "营销", "本机构", "中国移动", "2026-01-01"),
    ("0571-87654321", "催收", "本机构", "电信", "2026/3/1"),
    ("95599", "营销及催收", "本机构", "中国联通", "2026年2月1日"),
]
BAD_ROWS = [
    ("13800138000", "营销", "本机构", "中国移动", "2026-01-01"),
    ("12345", "营销", "本机构", "中国移动", "2026-01-01"),
    ("13900139000", "推销", "本机构", "中国移动", "2026-01-01"),
]


def text(response) -> str:
    return response.content.decode()


def upload(client, eager, path, mode="merge"):
    """Post the file; the task runs when the upload commits; then open the job page."""
    with eager():
        response = client.post(NEW, {"file": upload_of(path), "mode": mode})
    assert response.status_code == 302, response.content.decode()
    return client.get(response["Location"])


@pytest.fixture
def good_file(tmp_path):
    return make_xlsx(tmp_path / "号码登记表.xlsx", GOOD_ROWS)


@pytest.fixture
def bad_file(tmp_path):
    return make_xlsx(tmp_path / "有错误的登记表.xlsx", BAD_ROWS)


@pytest.fixture
def alice_job(inst_alice, good_file):
    job, _ = services.import_job_create(
        actor=inst_alice,
        institution=inst_alice.organisation,
        upload=upload_of(good_file),
        original_name=good_file.name,
        enqueue=False,
    )
    return job


@pytest.fixture
def alice_rejected_job(client_for, inst_alice, bad_file, eager):
    upload(client_for(inst_alice), eager, bad_file)
    return UploadJob.objects.get(original_name=bad_file.name)


# --- the happy path ------------------------------------------------------------------------


def test_upload_imports_in_the_background_and_shows_the_result(
    client_for, inst_alice, good_file, eager
):
    client = client_for(inst_alice)
    form = text(client.get(NEW))
    assert "文件中没有的号码将全部终止" in form  # what replace does, said before choosing it
    response = upload(client, eager, good_file)
    job = UploadJob.objects.get()
    assert response.wsgi_request.path == f"/registry/imports/{job.pk}/"
    assert job.status == ImportStatus.DONE
    body = text(response)
    assert "导入进度和结果见下方" in body
    assert 'data-status="done"' in body
    assert 'data-testid="counts"' in body
    assert "新增 3" in body
    assert 'data-progress="100"' in body
    # Issue 10 §14: the bar is rendered at its width; a finished bar never grows from 0.
    assert "w-progress-100" in body and "w-progress-0" not in body
    assert "hx-trigger" not in body  # finished: nothing polls
    assert " 上传 · " in body  # "由 alice 上传", with the space
    assert set(RegisteredNumber.objects.values_list("number", flat=True)) == {
        "13800138000",
        "057187654321",
        "95599",
    }
    row = RegisteredNumber.objects.get(number="95599")
    assert row.source_job == job
    detail = text(client.get(f"/registry/numbers/{row.pk}/"))
    assert f"导入：{good_file.name}" in detail


def test_replace_ends_numbers_not_in_the_file(client_for, inst_alice, good_file, eager):
    old = register(inst_alice, "13700137000")
    response = upload(client_for(inst_alice), eager, good_file, mode="replace")
    assert "终止 1" in text(response)
    old.refresh_from_db()
    assert old.status == Status.ENDED


def test_the_same_file_twice_says_it_was_already_uploaded(client_for, inst_alice, good_file, eager):
    client = client_for(inst_alice)
    upload(client, eager, good_file)
    response = upload(client, eager, good_file)
    job = UploadJob.objects.get()
    assert response.wsgi_request.path == f"/registry/imports/{job.pk}/"
    body = text(response)
    assert "该文件已于" in body and "未重复导入" in body
    assert RegisteredNumber.objects.count() == 3


def test_a_bad_file_is_rejected_with_a_downloadable_error_workbook(
    client_for, inst_alice, bad_file, eager
):
    client = client_for(inst_alice)
    body = text(upload(client, eager, bad_file))
    job = UploadJob.objects.get()
    assert job.status == ImportStatus.REJECTED
    assert 'data-status="rejected"' in body
    assert "2 行错误" in body
    assert "未导入任何数据" in body
    assert f"/registry/imports/{job.pk}/errors.xlsx" in body
    assert not RegisteredNumber.objects.exists()  # never a partial import
    response = client.get(f"/registry/imports/{job.pk}/errors.xlsx")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert "%E9%94%99%E8%AF%AF%E6%8A%A5%E5%91%8A" in response["Content-Disposition"]  # 错误报告
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(wb["错误明细"].iter_rows(values_only=True))
    assert rows[0][0] == "原行号"
    assert [r[0] for r in rows[1:]] == [3, 4]  # 原行号 is a number (issue 10 §14)
    assert "号码" in rows[1][-2] and "用途" in rows[2][-2]


def test_a_file_that_is_not_a_spreadsheet_is_rejected_at_once(client_for, inst_alice, eager):
    fake = SimpleUploadedFile("号码.xlsx", b"MZ\x90\x00 this is not a workbook")
    client = client_for(inst_alice)
    with eager():
        response = client.post(NEW, {"file": fake, "mode": "merge"}, follow=True)
    job = UploadJob.objects.get()
    assert job.status == ImportStatus.REJECTED
    body = text(response)
    assert "文件未通过检查" in body
    assert job.message in body


def test_upload_form_errors_are_in_chinese(client_for, inst_alice):
    body = text(client_for(inst_alice).post(NEW, {"mode": "merge"}))
    assert 'data-testid="error-file"' in body
    assert "没有提交文件" in body or "该字段是必填项" in body
    assert not UploadJob.objects.exists()


# --- progress ------------------------------------------------------------------------------


def test_progress_fragment_polls_while_the_job_runs(client_for, inst_alice, alice_job):
    client = client_for(inst_alice)
    page = text(client.get(f"/registry/imports/{alice_job.pk}/"))
    assert 'hx-trigger="every 1s"' in page
    assert f'hx-get="/registry/imports/{alice_job.pk}/progress/"' in page
    assert "X-Portal-Poll" in page
    response = client.get(f"/registry/imports/{alice_job.pk}/progress/")
    assert response.status_code == 200
    fragment = text(response)
    assert fragment.lstrip().startswith('<div id="import-progress"')
    assert "<html" not in fragment
    assert 'hx-trigger="every 1s"' in fragment
    assert 'data-progress="0"' in fragment
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_progress_shows_rows_and_stops_when_finished(client_for, inst_alice, alice_job):
    client = client_for(inst_alice)
    UploadJob.objects.filter(pk=alice_job.pk).update(
        status=ImportStatus.RUNNING, rows_total=200, rows_done=50
    )
    fragment = text(client.get(f"/registry/imports/{alice_job.pk}/progress/"))
    assert "50 / 200 行" in fragment
    assert 'data-progress="25"' in fragment and "w-progress-25" in fragment
    assert 'hx-trigger="every 1s"' in fragment
    services.import_job_run(job_id=alice_job.pk)
    fragment = text(client.get(f"/registry/imports/{alice_job.pk}/progress/"))
    assert 'data-status="done"' in fragment
    assert "hx-trigger" not in fragment and "hx-get" not in fragment
    assert "新增" in fragment and "已导入 3 行" in fragment


def test_polling_does_not_keep_the_session_alive(client_for, inst_alice, alice_job):
    client = client_for(inst_alice)
    client.get("/registry/imports/")
    session = client.session
    session["last_seen"] = time.time() - 600
    session.save()
    before = client.session["last_seen"]
    client.get(f"/registry/imports/{alice_job.pk}/progress/", headers={"X-Portal-Poll": "1"})
    assert client.session["last_seen"] == before


# --- who sees what -----------------------------------------------------------------------


def test_job_list_is_per_institution(client_for, inst_alice, inst_bob, alice_job):
    assert alice_job.original_name in text(client_for(inst_alice).get("/registry/imports/"))
    assert alice_job.original_name not in text(client_for(inst_bob).get("/registry/imports/"))


def test_bob_gets_404_on_alices_job_and_error_report(client_for, inst_bob, alice_rejected_job):
    client = client_for(inst_bob)
    pk = alice_rejected_job.pk
    for path in (
        f"/registry/imports/{pk}/",
        f"/registry/imports/{pk}/progress/",
        f"/registry/imports/{pk}/errors.xlsx",
    ):
        assert client.get(path).status_code == 404, path


def test_carrier_gets_404_on_import_pages(client_for, carrier_carol, alice_rejected_job):
    client = client_for(carrier_carol)
    pk = alice_rejected_job.pk
    for path in (
        "/registry/imports/",
        NEW,
        f"/registry/imports/{pk}/",
        f"/registry/imports/{pk}/progress/",
        f"/registry/imports/{pk}/errors.xlsx",
    ):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize("who", ["regulator_rita", "financial_fiona"])
def test_regulators_see_every_job_but_cannot_upload(
    request, client_for, who, alice_rejected_job, good_file
):
    client = client_for(request.getfixturevalue(who))
    listing = text(client.get("/registry/imports/"))
    assert alice_rejected_job.original_name in listing and "甲银行" in listing
    assert 'data-testid="upload-link"' not in listing
    assert client.get(f"/registry/imports/{alice_rejected_job.pk}/").status_code == 200
    assert client.get(f"/registry/imports/{alice_rejected_job.pk}/errors.xlsx").status_code == 200
    assert client.get(NEW).status_code == 404
    response = client.post(NEW, {"file": upload_of(good_file), "mode": "merge"})
    assert response.status_code == 404
    assert UploadJob.objects.count() == 1


def test_viewer_reads_jobs_but_cannot_upload(
    client_for, viewer_viola, alice_rejected_job, good_file
):
    client = client_for(viewer_viola)
    assert alice_rejected_job.original_name in text(client.get("/registry/imports/"))
    assert client.get(f"/registry/imports/{alice_rejected_job.pk}/errors.xlsx").status_code == 200
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, {"file": upload_of(good_file), "mode": "merge"}).status_code == 403


def test_no_error_report_for_a_job_without_one(client_for, inst_alice, alice_job):
    response = client_for(inst_alice).get(f"/registry/imports/{alice_job.pk}/errors.xlsx")
    assert response.status_code == 404


# --- dashboard and menu ------------------------------------------------------------------


def test_institution_dashboard_panel(client_for, inst_alice, alice_partner, alice_rejected_job):
    register(inst_alice, "95599", 用途="催收")
    body = text(client_for(inst_alice).get("/"))
    assert 'data-testid="registry-panel"' in body
    assert 'data-testid="numbers-total">1<' in body
    assert 'data-testid="numbers-collection">1<' in body
    assert 'data-testid="partners-total">1<' in body
    assert alice_rejected_job.original_name in body
    assert "/registry/template.xlsx" in body
    for label in ("号码登记", "合作单位", "批量导入"):
        assert label in body


def test_regulator_dashboard_panel(client_for, regulator_rita, alice_number, alice_rejected_job):
    body = text(client_for(regulator_rita).get("/"))
    assert 'data-testid="numbers-total">1<' in body
    assert 'data-testid="imports-today">1<' in body
    assert 'data-testid="rejected-today">1<' in body
    assert "号码库" in body


def test_carrier_has_no_registry_menu(client_for, carrier_carol):
    body = text(client_for(carrier_carol).get("/"))
    assert "/registry/" not in body
