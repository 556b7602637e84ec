"""Verbs of oversight. Each is atomic, checks permission and writes its audit event.

Complaints (issue 13 item 1; 000 §三(四)): the administration records them one by one or
imports a 投诉转办清单 through the upload engine (importers/complaints.py). The
complainant's contact is personal data (000 §二(一)5; 001 第十九–二十一条): it never goes
into an audit summary or a log, and each full read is itself audited."""

from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from portal import audit, workdays
from portal.errors import NotPermitted, PortalError
from portal.models import Organisation, Role
from portal.spreadsheets.pipeline import upload_job_create
from portal.spreadsheets.reader import fold
from registry import numbers

from .importers import complaints as complaint_form
from .models import (
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintGroup,
    ComplaintStatus,
    GroupKind,
    GroupMember,
    GroupStatus,
    ReconciliationRun,
    RunStatus,
)

log = logging.getLogger(__name__)

# No complaint transferred to the portal predates it by decades: an earlier year is a typo.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _require_regulator_writer(actor) -> None:
    if audit.is_system(actor):
        return
    if not (getattr(actor, "is_regulator", False) and actor.role in (Role.ADMIN, Role.OPERATOR)):
        raise NotPermitted("只有通信管理局的管理员或经办人可以录入投诉")


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
            institution_id=(
                complaint_form.institutions_by_name().get(fold(institution_name))
                if institution_name
                else None
            ),
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


# --- the public side (issue 15) ---------------------------------------------------------


def complaint_submit_public(
    *,
    actor,
    number: str,
    received_at: dt.datetime,
    category: str,
    content: str,
    contact: str = "",
    source: str = "",
) -> Complaint:
    """A complaint from the public form (issue 15 §2; 000 §三(四)), channel 本平台. The
    portal records it on the citizen's behalf (``actor=SYSTEM``; the audit event carries
    the client address, never the contact or the text). A number that one institution
    has registered and active is linked to it; the complainant gets the tracking code."""
    from .public.check import institution_of

    if not audit.is_system(actor):
        raise NotPermitted("公众投诉由平台代为登记")
    try:
        parsed = numbers.parse_number(number)
    except numbers.NumberError as exc:
        raise PortalError(exc.message, code="number", field="number") from exc
    if category not in ComplaintCategory.values:
        raise PortalError("请选择投诉类别", code="category", field="category")
    content = (content or "").strip()
    if len(content) < 5:
        raise PortalError("请简要写明发生了什么（至少 5 个字）", code="content", field="content")
    if len(content) > PUBLIC_CONTENT_MAX:
        raise PortalError(
            f"内容请不要超过 {PUBLIC_CONTENT_MAX} 字", code="content", field="content"
        )
    if timezone.is_naive(received_at):
        received_at = timezone.make_aware(received_at, timezone.get_default_timezone())
    now = timezone.now()
    if received_at > now + dt.timedelta(minutes=5):
        raise PortalError("来电或短信时间不能晚于现在", code="received_at", field="received_at")
    if received_at < now - dt.timedelta(days=366):
        raise PortalError("只受理一年内的来电或短信", code="received_at", field="received_at")
    institution_id = institution_of(parsed.number)
    with transaction.atomic():
        complaint = Complaint.objects.create(
            number=parsed.number,
            number_kind=str(parsed.kind),
            raw_number=str(number)[:64],
            received_at=received_at,
            channel=ComplaintChannel.PORTAL,
            category=category,
            content=content,
            institution_id=institution_id,
            institution_name=(
                Organisation.objects.get(pk=institution_id).name if institution_id else ""
            ),
            contact=(contact or "").strip()[: complaint_form.CONTACT_MAX],
            source=source[:64],
        )
        audit.record("complaint.submit", actor=actor, obj=complaint, summary=_summary(complaint))
    return complaint


PUBLIC_CONTENT_MAX = 2000
STATUS_ORDER = [ComplaintStatus.RECEIVED, ComplaintStatus.CHECKING, ComplaintStatus.PROCESSED]


def complaint_set_status(*, actor, complaint: Complaint, status: str, outcome: str = "") -> bool:
    """Move a complaint along 已受理 → 核查中 → 已处理 (issue 15 §2); 已处理 needs the outcome
    text the complainant reads on the tracking page. Never backwards; re-saving the same
    status and outcome changes nothing (False). Audited with the statuses, never the text
    (it may quote the complainant)."""
    _require_regulator_writer(actor)
    if status not in ComplaintStatus.values:
        raise PortalError("处理状态无效", code="status", field="status")
    outcome = (outcome or "").strip()
    if len(outcome) > PUBLIC_CONTENT_MAX:
        raise PortalError(
            f"处理结果不超过 {PUBLIC_CONTENT_MAX} 字", code="outcome", field="outcome"
        )
    if status == ComplaintStatus.PROCESSED and not outcome:
        raise PortalError(
            "办结时请写明处理结果（投诉人在查询页看到）", code="outcome", field="outcome"
        )
    with transaction.atomic():
        current = Complaint.objects.select_for_update().get(pk=complaint.pk)
        before = current.status
        if STATUS_ORDER.index(status) < STATUS_ORDER.index(before):
            raise PortalError(
                f"投诉已是“{current.get_status_display()}”，不能退回", code="status", field="status"
            )
        if before == ComplaintStatus.PROCESSED and status == before:
            raise PortalError("投诉已办结", code="status", field="status")
        if status == before and outcome == current.outcome:
            return False
        current.status = status
        current.outcome = outcome
        current.status_changed_at = timezone.now()
        current.save(update_fields=["status", "outcome", "status_changed_at"])
        audit.record(
            "complaint.status",
            actor=actor,
            obj=current,
            summary={
                "number": current.number,
                "before": before,
                "after": status,
                "outcome_chars": len(outcome),
            },
        )
    complaint.status, complaint.outcome = current.status, current.outcome
    complaint.status_changed_at = current.status_changed_at
    return True


def abnormal_detect(*, actor, year: int, quarter: int) -> dict:
    """Find the quarter's groups of possibly organised complaints (003: 异常投诉, 代理维权,
    反催收联盟; 001 第二十七条) and keep them with their evidence for the administration.
    Groups already decided stay as decided; undecided groups of the quarter are found
    afresh. Returns the counts per kind."""
    from . import abnormal

    _require_regulator_writer(actor)
    label = f"{year}Q{quarter}"
    start, end = abnormal.quarter_bounds(year, quarter)
    rows = list(
        Complaint.objects.filter(received_at__gte=start, received_at__lt=end)
        .order_by("pk")
        .values_list(
            "pk",
            "content",
            "contact",
            "institution_id",
            "institution_name",
            "source",
            "received_at",
            "number",
        )
    )
    found = abnormal.find_groups(rows)
    with transaction.atomic():
        ComplaintGroup.objects.filter(quarter=label, status=GroupStatus.PENDING).delete()
        decided = set(ComplaintGroup.objects.filter(quarter=label).values_list("kind", "key"))
        counts = {kind: 0 for kind in GroupKind.values}
        for group in found:
            if (group.kind, group.key) in decided:
                continue
            stored = ComplaintGroup.objects.create(
                quarter=label,
                kind=group.kind,
                key=group.key,
                size=len(group.members),
                evidence=group.evidence,
            )
            GroupMember.objects.bulk_create(
                GroupMember(group=stored, complaint_id=pk) for pk in group.members
            )
            counts[group.kind] += 1
        audit.record(
            "complaint.abnormal_detect",
            actor=actor,
            object_type="oversight.ComplaintGroup",
            object_id=label,
            object_repr=f"{label} 异常投诉识别",
            summary={"quarter": label, "complaints": len(rows), **counts},
        )
    return {"quarter": label, "complaints": len(rows), **counts}


def _refresh_exclusions(complaint_ids) -> None:
    """A complaint is excluded from the counts while any abnormal group holds it."""
    reasons = {}
    abnormal_members = (
        GroupMember.objects.filter(
            complaint_id__in=complaint_ids, group__status=GroupStatus.ABNORMAL
        )
        .order_by("group_id")
        .values_list("complaint_id", "group_id", "group__kind", "group__quarter")
    )
    labels = dict(GroupKind.choices)
    for complaint_id, group_id, kind, quarter in abnormal_members:
        reasons.setdefault(
            complaint_id, f"异常投诉：{quarter} {labels[kind]}组 #{group_id}，经研判不计入比对"
        )
    Complaint.objects.filter(pk__in=complaint_ids).exclude(pk__in=list(reasons)).update(
        excluded_reason=""
    )
    by_reason: dict[str, list[int]] = {}
    for complaint_id, reason in reasons.items():
        by_reason.setdefault(reason, []).append(complaint_id)
    for reason, ids in by_reason.items():
        Complaint.objects.filter(pk__in=ids).update(excluded_reason=reason)


def complaint_group_decide(*, actor, group: ComplaintGroup, status: str, note: str = "") -> bool:
    """The administration marks a flagged group abnormal (its complaints leave the
    ``COMPLAINED_REGISTERED`` counts, with the reason on each) or genuine (they count);
    it can change its mind, and each decision is audited."""
    _require_regulator_writer(actor)
    if status not in (GroupStatus.ABNORMAL, GroupStatus.GENUINE):
        raise PortalError("请选择研判结论", code="status", field="status")
    note = (note or "").strip()[:500]
    with transaction.atomic():
        current = ComplaintGroup.objects.select_for_update().get(pk=group.pk)
        if current.status == status and current.note == note:
            return False
        before = current.status
        current.status = status
        current.note = note
        current.decided_by = actor if getattr(actor, "pk", None) else None
        current.decided_at = timezone.now()
        current.save(update_fields=["status", "note", "decided_by", "decided_at"])
        _refresh_exclusions(list(current.members.values_list("complaint_id", flat=True)))
        audit.record(
            "complaint.group_decide",
            actor=actor,
            obj=current,
            summary={
                "quarter": current.quarter,
                "kind": current.kind,
                "size": current.size,
                "before": before,
                "after": status,
            },
        )
    group.status, group.note = current.status, current.note
    group.decided_at, group.decided_by = current.decided_at, current.decided_by
    return True


# --- the cross-match (issue 13 items 2 and 5) ------------------------------------------------


def _require_reconciler(actor) -> None:
    if audit.is_system(actor):
        return
    if not (getattr(actor, "is_regulator", False) and actor.role in (Role.ADMIN, Role.OPERATOR)):
        raise NotPermitted("只有通信管理局的管理员或经办人可以发起比对")


def progress_path(run_id: int) -> Path:
    """The live progress of a running cross-match: the run's one transaction keeps its
    rows invisible until it commits, so the percentage lives in a small file."""
    return Path(settings.MEDIA_ROOT) / "progress" / f"reconcile-{run_id}.txt"


def live_progress(run: ReconciliationRun) -> tuple[int, str]:
    if run.status != RunStatus.RUNNING:
        return run.progress, run.step
    try:
        percent, _, step = progress_path(run.pk).read_text(encoding="utf-8").partition("\t")
        return int(percent), step
    except (OSError, ValueError):
        return run.progress, run.step


def reconciliation_start(
    *, actor, as_of: dt.date, scheduled: bool = False, enqueue: bool = True
) -> ReconciliationRun:
    """Queue a cross-match as of ``as_of`` (000 §三(三): the administration compares both
    sides' usage with the complaints). The Celery task runs it; ``enqueue=False`` leaves it
    to the caller (the command line runs it at once)."""
    _require_reconciler(actor)
    workdays.quarter_of(as_of)
    year, quarter = workdays.quarter_of(as_of)
    with transaction.atomic():
        run = ReconciliationRun.objects.create(
            as_of=as_of,
            year=year,
            quarter=quarter,
            scheduled=scheduled,
            started_by=actor if getattr(actor, "pk", None) else None,
        )
        audit.record(
            "reconcile.start",
            actor=actor,
            obj=run,
            summary={"as_of": as_of.isoformat(), "scheduled": scheduled},
        )
        if enqueue:
            from .tasks import run_reconciliation

            run_id = run.pk
            transaction.on_commit(lambda: run_reconciliation.delay(run_id))
    return run


def reconciliation_execute(*, run_id: int) -> ReconciliationRun:
    """Run a queued cross-match once (a redelivered task finds it claimed or done and does
    nothing), in one transaction: its findings appear all at once or not at all."""
    from . import reconcile, reports

    claimed = ReconciliationRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), step="准备", progress=1
    )
    run = ReconciliationRun.objects.get(pk=run_id)
    if not claimed:
        return run
    path = progress_path(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)

    def progress(percent: int, step: str) -> None:
        path.write_text(f"{percent}\t{step}", encoding="utf-8")

    previous = (
        ReconciliationRun.objects.filter(status=RunStatus.DONE, pk__lt=run_id)
        .order_by("-pk")
        .first()
    )
    try:
        with transaction.atomic():
            result = reconcile.reconcile(
                run_id=run_id,
                as_of=run.as_of,
                previous_id=previous.pk if previous else None,
                progress=progress,
            )
            from .casework import carry_reviews

            carry_reviews(run_id)
            # Findings and counts commit together; the run is "done" once its report is
            # written too (next), so a done run always has its report.
            ReconciliationRun.objects.filter(pk=run_id).update(
                progress=98,
                step="生成比对报告",
                counts=result.counts,
                inputs=result.inputs,
                new_count=result.new,
                persisting_count=result.persisting,
                resolved_count=result.resolved,
                previous=previous,
                seconds=round(result.seconds, 3),
                finished_at=timezone.now(),
                message=f"发现问题线索 {sum(result.counts.values())} 条：新增 {result.new}，"
                f"持续 {result.persisting}，已消除 {result.resolved}",
            )
            run.refresh_from_db()
            audit.record(
                "reconcile.done",
                actor=audit.SYSTEM,
                obj=run,
                summary={"counts": result.counts, "new": result.new, "resolved": result.resolved},
            )
    except Exception:
        ReconciliationRun.objects.filter(pk=run_id).update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            message="比对过程中出现系统错误，未产生任何结果；请稍后重试或联系平台运维",
        )
        path.unlink(missing_ok=True)
        raise
    progress(98, "生成比对报告")
    report_name, message = "", run.message
    try:
        buffer = io.BytesIO()
        reports.write_report(run, buffer)
        name = f"比对报告-{run.as_of.isoformat()}-{run.pk}.xlsx"
        run.report.save(name, ContentFile(buffer.getvalue()), save=False)
        report_name = run.report.name
    except Exception:
        # The findings stand (committed); only the workbook is missing, and the page says so.
        log.exception("reconciliation %s: the report workbook failed", run_id)
        message += "（比对报告生成失败，请联系平台运维）"
    ReconciliationRun.objects.filter(pk=run_id).update(
        report=report_name, status=RunStatus.DONE, progress=100, step="完成", message=message
    )
    path.unlink(missing_ok=True)
    run.refresh_from_db()
    return run


def scheduled_reconciliation_start(*, today: dt.date) -> ReconciliationRun | None:
    """On the working day after a quarter's report deadline, start that quarter's
    cross-match once (issue 13 item 5)."""
    year, quarter = workdays.quarter_of(today)
    deadline = workdays.local_date(workdays.quarterly_report_deadline(year, quarter))
    if today != workdays.working_days_after(deadline, 1)[-1]:
        return None
    if ReconciliationRun.objects.filter(year=year, quarter=quarter, scheduled=True).exists():
        return None
    return reconciliation_start(actor=audit.SYSTEM, as_of=today, scheduled=True)
