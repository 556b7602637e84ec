"""Complaints as evidence (issue 13 item 1): the administration records complaints one by
one or imports a 投诉转办清单 (forms.md §4) through the upload engine; the complainant's
contact is personal data, masked everywhere, its full read audited (000 §二(一)5;
001 第十九–二十一条; 000 §三(四): complaint transfer)."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from oversight import services
from oversight.importers.complaints import FORM
from oversight.models import Complaint
from portal.errors import NotPermitted, PortalError
from portal.masking import mask_contact, mask_text
from portal.models import AuditEvent
from portal.spreadsheets import pipeline
from portal.spreadsheets.models import UploadStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = [
    "被投诉号码",
    "投诉时间",
    "投诉渠道",
    "投诉类别",
    "投诉内容",
    "涉及机构名称",
    "投诉人联系方式",
    "转办编号",
]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now(time_machine, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    time_machine.move_to(dt.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI))


def complaint(actor, **kw) -> Complaint:
    values = {
        "number": "137 0013 7000",
        "received_at": dt.datetime(2026, 11, 18, 23, 5, tzinfo=SHANGHAI),
        "channel": "12321",
        "category": "collection",
        "content": "夜里催收，报出我的身份证号330106199001011234，还打给13912345678",
        "contact": "13600000001",
        "reference": "12321-0001",
    } | kw
    return services.complaint_create(actor=actor, **values)


def workbook(rows, header=HEADER) -> ContentFile:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["12321 转办投诉清单（2026 年 11 月）"])
    ws.append(header)
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return ContentFile(out.getvalue(), name="list.xlsx")


def upload(actor, rows):
    job, created = services.complaint_import_create(
        actor=actor, upload=workbook(rows), original_name="list.xlsx", enqueue=False
    )
    assert created
    return pipeline.upload_job_run(job_id=job.pk)


def row(number="13700137000", when="2026-11-18 23:05", channel="12321", ref="R-1", **kw):
    values = {
        "category": "催收",
        "content": "深夜催收",
        "institution": "",
        "contact": "13912345678",
    } | kw
    return [
        number,
        when,
        channel,
        values["category"],
        values["content"],
        values["institution"],
        values["contact"],
        ref,
    ]


# --- masking -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("13912345678", "139****5678"),
        ("+86 139 1234 5678", "139****5678"),
        ("0571-87654321", "057*****4321"),
        ("someone@example.com", "s***@example.com"),
        ("王小二", "王*二"),
        ("", ""),
    ],
)
def test_a_contact_is_shown_masked(value, shown):
    """000 §二(一)5: personal information masked on display."""
    assert mask_contact(value) == shown


def test_personal_data_inside_a_text_is_masked():
    text = mask_text("身份证330106199001011234，手机13912345678，固话0571-87654321，客服95588")
    assert text == "身份证330106********1234，手机139****5678，固话0571-****4321，客服95588"


# --- recording ----------------------------------------------------------------------------


def test_the_administration_records_a_complaint_and_the_audit_keeps_no_contact(
    regulator_rita,
):
    c = complaint(regulator_rita)
    assert (c.number, c.number_kind, c.channel, c.category) == (
        "13700137000",
        "mobile",
        "12321",
        "collection",
    )
    assert c.received_at == dt.datetime(2026, 11, 18, 15, 5, tzinfo=dt.UTC)  # stored in UTC
    assert c.contact_masked == "136****0001"
    event = AuditEvent.objects.get(action="complaint.create")
    assert "13600000001" not in str(event.summary)
    assert "身份证" not in str(event.summary)


@pytest.mark.parametrize("who", ["inst_alice", "carrier_carol", "viewer_viola"])
def test_only_the_administrations_writers_record_complaints(request, who):
    user = request.getfixturevalue(who)
    with pytest.raises(NotPermitted):
        complaint(user)


def test_a_transfer_number_is_unique_within_its_channel(regulator_rita):
    """forms.md §4: duplicates within a channel are refused."""
    complaint(regulator_rita)
    with pytest.raises(PortalError) as exc:
        complaint(regulator_rita)
    assert exc.value.code == "reference_taken"
    complaint(regulator_rita, channel="12345")  # the same number in another channel is not
    assert Complaint.objects.count() == 2


def test_a_complaint_from_the_future_is_refused(regulator_rita):
    with pytest.raises(PortalError) as exc:
        complaint(regulator_rita, received_at=dt.datetime(2026, 11, 21, tzinfo=SHANGHAI))
    assert exc.value.code == "received_at"


def test_reading_the_full_contact_is_audited(regulator_rita):
    """001 第二十条: access to personal information is recorded."""
    c = complaint(regulator_rita)
    assert services.complaint_contact_reveal(actor=regulator_rita, complaint=c) == "13600000001"
    event = AuditEvent.objects.get(action="complaint.reveal")
    assert event.actor == regulator_rita and event.object_id == str(c.pk)
    assert "13600000001" not in str(event.summary)


def test_a_viewer_cannot_read_the_full_contact(regulator_rita, viewer_viola):
    with pytest.raises(NotPermitted):
        services.complaint_contact_reveal(actor=viewer_viola, complaint=complaint(regulator_rita))


# --- the 投诉转办清单 through the engine ------------------------------------------------------


def test_a_transfer_list_imports_through_the_engine(regulator_rita, inst_alice):
    job = upload(
        regulator_rita,
        [
            row(),
            row(
                "1069 0555 9901",
                "2026/11/19 9:30",
                "12345",
                "R-2",
                category="营销",
                institution=inst_alice.organisation.name,
            ),
            row("0571-87650001", "2026年11月1日", "信访", ""),
        ],
    )
    assert job.status == UploadStatus.DONE, job.message
    assert job.message == "已导入投诉 3 件"
    stored = list(Complaint.objects.order_by("received_at"))
    assert [c.number for c in stored] == [
        "057187650001",
        "13700137000",
        "10690555 9901".replace(" ", ""),
    ]
    assert stored[2].institution == inst_alice.organisation
    assert stored[2].category == "marketing" and stored[2].channel == "12345"
    assert all(c.upload_job_id == job.pk and c.entered_by == regulator_rita for c in stored)
    assert AuditEvent.objects.filter(action="complaints.done").exists()
    # Issue 15: every imported complaint has a tracking code of its own, 已受理.
    assert len({c.tracking_code for c in stored}) == 3
    assert {c.status for c in stored} == {"received"}


def test_a_bad_list_imports_nothing_and_names_every_bad_row(regulator_rita):
    """One error workbook, every bad row, column and reason; the contact in it masked."""
    complaint(regulator_rita, reference="R-OLD")
    job = upload(
        regulator_rita,
        [
            row(),
            row("12345", ref="R-2"),  # not a number anyone uses
            row(when="2026-02-30 10:00", ref="R-3"),
            row(channel="微信", ref="R-4", category="咨询"),
            row(ref="R-1"),  # repeats row 3 within the channel
            row(ref="R-OLD"),  # already recorded
            row(when="2026-12-01 10:00", ref="R-5"),  # in the future
        ],
    )
    assert job.status == UploadStatus.REJECTED
    assert Complaint.objects.count() == 1
    wb = openpyxl.load_workbook(job.error_report.path, read_only=True)
    report = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    assert [r[0] for r in report[1:]] == [4, 5, 6, 7, 8, 9]
    reasons = {r[0]: r[-1] for r in report[1:]}
    assert "2026 年 2 月只有 28 天" in reasons[5]
    assert "投诉渠道“微信”无效" in reasons[6] and "投诉类别“咨询”无效" in reasons[6]
    assert reasons[7] == "转办编号 R-1（12321 转办）在文件中重复（与第 3 行相同）"
    assert reasons[8] == "12321 转办渠道的转办编号 R-OLD 已导入过，不能重复导入"
    assert "晚于当前时间" in reasons[9]
    echoed = {cell for r in report for cell in r if isinstance(cell, str)}
    assert "13912345678" not in echoed and "139****5678" in echoed


def test_only_the_administration_uploads_a_transfer_list(carrier_carol, inst_alice):
    for user in (carrier_carol, inst_alice):
        with pytest.raises(PortalError):
            pipeline.upload_job_create(
                actor=user,
                organisation=user.organisation,
                form=FORM.code,
                upload=workbook([row()]),
                original_name="list.xlsx",
                enqueue=False,
            )


def test_the_template_lists_the_columns_and_channels(client_for, regulator_rita):
    response = client_for(regulator_rita).get(reverse("complaint_template"))
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    header = [c.value for c in wb.worksheets[0][1]]
    assert header[:5] == ["被投诉号码*", "投诉时间*", "投诉渠道*", "投诉类别*", "投诉内容*"]
    lists = {v.formula1 for v in wb.worksheets[0].data_validations.dataValidation}
    assert '"12321,12345,信访,金融管理部门,其他"' in lists
    assert "填写说明" in wb.sheetnames


# --- pages and API: who sees what -----------------------------------------------------------


def test_the_list_shows_contacts_masked(client_for, regulator_rita):
    complaint(regulator_rita)
    page = client_for(regulator_rita).get(reverse("complaint_list")).content.decode()
    assert "13700137000" in page and "136****0001" in page
    assert "13600000001" not in page and "330106199001011234" not in page


def test_the_page_reveals_the_contact_once_and_audits_it(client_for, regulator_rita):
    c = complaint(regulator_rita)
    client = client_for(regulator_rita)
    detail = client.get(reverse("complaint_detail", args=[c.pk])).content.decode()
    assert "13600000001" not in detail and "查看完整联系方式" in detail
    response = client.post(reverse("complaint_reveal", args=[c.pk]))
    assert "13600000001" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(action="complaint.reveal").count() == 1
    assert (
        "13600000001" not in client.get(reverse("complaint_detail", args=[c.pk])).content.decode()
    )


def test_the_financial_regulator_reads_but_never_reveals(
    client_for, regulator_rita, financial_fiona, org_alice
):
    c = complaint(regulator_rita, institution_name=org_alice.name)
    client = client_for(financial_fiona)
    assert client.get(reverse("complaint_list")).status_code == 200
    detail = client.get(reverse("complaint_detail", args=[c.pk])).content.decode()
    assert "查看完整联系方式" not in detail
    assert client.post(reverse("complaint_reveal", args=[c.pk])).status_code == 404
    assert client.get(reverse("complaint_create")).status_code == 404
    assert client.get(reverse("complaint_import")).status_code == 404


@pytest.mark.parametrize("who", ["inst_alice", "inst_bob", "carrier_carol"])
def test_institutions_and_carriers_have_no_complaint_pages(
    client_for, regulator_rita, request, who
):
    c = complaint(regulator_rita)
    client = client_for(request.getfixturevalue(who))
    for url in (
        reverse("complaint_list"),
        reverse("complaint_detail", args=[c.pk]),
        reverse("complaint_create"),
        reverse("complaint_import"),
        reverse("complaint_template"),
        reverse("oversight-complaint-list"),
        reverse("oversight-complaint-detail", args=[c.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("complaint_reveal", args=[c.pk])).status_code == 404


def test_the_public_sees_no_complaints(client, regulator_rita):
    c = complaint(regulator_rita)
    assert client.get(reverse("complaint_detail", args=[c.pk])).status_code == 302  # to login
    assert client.get(reverse("oversight-complaint-detail", args=[c.pk])).status_code == 401


def test_the_api_lists_masked_complaints_and_records_new_ones(
    client_for, regulator_rita, financial_fiona, org_alice
):
    complaint(regulator_rita, institution_name=org_alice.name)
    rita = client_for(regulator_rita)
    data = rita.get(reverse("oversight-complaint-list")).json()
    assert data["count"] == 1
    item = data["results"][0]
    assert item["contact"] == "136****0001"
    assert "330106********1234" in item["content"]
    created = rita.post(
        reverse("oversight-complaint-list"),
        {
            "number": "95599",
            "received_at": "2026-11-19T09:00:00+08:00",
            "channel": "12345",
            "category": "marketing",
            "content": "推销电话",
            "contact": "13912345678",
            "institution_name": org_alice.name,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["contact"] == "139****5678"
    fiona = client_for(financial_fiona)
    # Both name alice's bank, which fiona supervises (issue 14 §6).
    assert fiona.get(reverse("oversight-complaint-list")).json()["count"] == 2
    refused = fiona.post(
        reverse("oversight-complaint-list"), {"number": "95599"}, content_type="application/json"
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


def test_a_complaint_from_before_2000_is_refused(regulator_rita):
    """schemathesis found year 0598 accepted (and shown as 0598-10-11T01:51:47+08:05:43)."""
    with pytest.raises(PortalError) as exc:
        complaint(regulator_rita, received_at=dt.datetime(598, 10, 11, tzinfo=dt.UTC))
    assert exc.value.code == "received_at"


def test_institutions_posting_a_complaint_get_the_documented_404(client_for, inst_alice):
    response = client_for(inst_alice).post(
        reverse("oversight-complaint-list"), {}, content_type="application/json"
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"
