"""Verbs of oversight. Each is atomic, checks permission and writes its audit event.

Complaints (issue 13 item 1; 000 §三(四)): the administration records them one by one or
imports a 投诉转办清单 through the upload engine (importers/complaints.py). The
complainant's contact is personal data (000 §二(一)5; 001 第十九–二十一条): it never goes
into an audit summary or a log, and each full read is itself audited."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from portal import audit
from portal.errors import NotPermitted, PortalError
from portal.models import Organisation, OrgKind, Role
from portal.spreadsheets.pipeline import upload_job_create
from portal.spreadsheets.reader import fold
from registry import numbers

from .importers import complaints as complaint_form
from .models import Complaint, ComplaintCategory, ComplaintChannel

# No complaint transferred to the portal predates it by decades: an earlier year is a typo.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _require_regulator_writer(actor) -> None:
    if audit.is_system(actor):
        return
    if not (getattr(actor, "is_regulator", False) and actor.role in (Role.ADMIN, Role.OPERATOR)):
        raise NotPermitted("只有通信管理局的管理员或经办人可以录入投诉")


def _institution_named(name: str) -> Organisation | None:
    if not name:
        return None
    wanted = fold(name)
    for org in Organisation.objects.filter(kind=OrgKind.INSTITUTION).only("pk", "name"):
        if fold(org.name) == wanted:
            return org
    return None


def _summary(complaint: Complaint) -> dict:
    """What the audit trail keeps of a complaint: never the contact, never the text."""
    return {
        "number": complaint.number,
        "channel": complaint.channel,
        "category": complaint.category,
        "received_at": complaint.received_at.isoformat(),
        "reference": complaint.reference,
    }


def complaint_create(
    *,
    actor,
    number: str,
    received_at: dt.datetime,
    channel: str,
    category: str,
    content: str,
    institution_name: str = "",
    contact: str = "",
    reference: str = "",
) -> Complaint:
    """Record one complaint (000 §三(四): complaints are transferred to the administration
    and are evidence of the cross-match, 000 §三(三))."""
    _require_regulator_writer(actor)
    try:
        parsed = numbers.parse_number(number)
    except numbers.NumberError as exc:
        raise PortalError(str(exc), code="number", field="number") from exc
    if channel not in ComplaintChannel.values:
        raise PortalError("投诉渠道无效", code="channel", field="channel")
    if category not in ComplaintCategory.values:
        raise PortalError("投诉类别无效", code="category", field="category")
    content = (content or "").strip()
    if not content:
        raise PortalError("投诉内容不能为空", code="content", field="content")
    if len(content) > complaint_form.CONTENT_MAX:
        raise PortalError(
            f"投诉内容超过 {complaint_form.CONTENT_MAX} 字", code="content", field="content"
        )
    if timezone.is_naive(received_at):
        received_at = timezone.make_aware(received_at, timezone.get_default_timezone())
    if received_at > timezone.now():
        raise PortalError("投诉时间晚于当前时间", code="received_at", field="received_at")
    if received_at < EARLIEST:
        raise PortalError("投诉时间早于 2000 年，请核对", code="received_at", field="received_at")
    reference = (reference or "").strip()[: complaint_form.REFERENCE_MAX]
    institution_name = (institution_name or "").strip()[: complaint_form.INSTITUTION_MAX]
    with transaction.atomic():
        if reference and Complaint.objects.filter(channel=channel, reference=reference).exists():
            raise PortalError(
                f"该渠道的转办编号 {reference} 已录入过", code="reference_taken", field="reference"
            )
        complaint = Complaint.objects.create(
            number=parsed.number,
            number_kind=str(parsed.kind),
            raw_number=str(number)[:64],
            received_at=received_at,
            channel=channel,
            category=category,
            content=content,
            institution_name=institution_name,
            institution=_institution_named(institution_name),
            contact=(contact or "").strip()[: complaint_form.CONTACT_MAX],
            reference=reference,
            entered_by=actor if getattr(actor, "pk", None) else None,
        )
        audit.record("complaint.create", actor=actor, obj=complaint, summary=_summary(complaint))
    return complaint


def complaint_contact_reveal(*, actor, complaint: Complaint) -> str:
    """The complainant's full contact, for the administration's follow-up only; the read
    is audited (001 第二十条: access to personal information is recorded). The audit
    event names the complaint, never the contact."""
    if not (getattr(actor, "is_regulator", False) and actor.role != Role.VIEWER):
        raise NotPermitted("只有通信管理局的管理员或经办人可以查看投诉人完整联系方式")
    with transaction.atomic():
        audit.record(
            "complaint.reveal",
            actor=actor,
            obj=complaint,
            summary={"field": "contact", "number": complaint.number},
        )
    return complaint.contact


def complaint_import_create(*, actor, upload, original_name: str, enqueue: bool = True):
    """Accept an uploaded 投诉转办清单 (the engine's ``upload_job_create``)."""
    return upload_job_create(
        actor=actor,
        organisation=actor.organisation,
        form=complaint_form.FORM.code,
        upload=upload,
        original_name=original_name,
        enqueue=enqueue,
    )
