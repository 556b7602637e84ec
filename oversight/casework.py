"""Verbs of oversight, part 2 (issue 14): review findings, order disposal, the carrier's
report or dispute, verification, appeals (002) and the daily overdue reminder.

000 §三(三): the administration flags the numbers; the carriers check them, suspend or
close those that break the rules and report back. 002: appeal and relief (申诉救济) for
legitimate business disposed of by mistake. Each verb is atomic, checks who may do it,
writes a step the parties read (``CaseEvent``), its audit event, and its notices (through
the notice centre, e-mail after commit)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from portal import audit, workdays
from portal.errors import Conflict, NotPermitted, PortalError
from portal.models import Organisation, OrgKind, Role

from .attachments import validate_attachment
from .cases import (
    AWAITING_CARRIER,
    OPEN_CASE_STATUSES,
    Appeal,
    AppealStatus,
    CaseEvent,
    CaseStatus,
    DisposalAction,
    DisposalCase,
    FindingDecision,
    Review,
)
from .models import Finding, FindingState

log = logging.getLogger(__name__)

REASON_MAX = 500
TEXT_MAX = 2000
# One bulk review at most: a wider filter is narrowed first (the page says so).
BULK_MAX = 5000


# --- who may ----------------------------------------------------------------------------


def _writer(actor) -> bool:
    return audit.is_system(actor) or (
        getattr(actor, "is_regulator", False) and actor.role in (Role.ADMIN, Role.OPERATOR)
    )


def _require_regulator(actor, what: str) -> None:
    if not _writer(actor):
        raise NotPermitted(f"只有通信管理局的管理员或经办人可以{what}")


def _require_party(actor, organisation_id: int | None, what: str) -> None:
    if audit.is_system(actor):
        return
    if organisation_id is None or getattr(actor, "organisation_id", None) != organisation_id:
        raise NotPermitted(f"只有本案所涉单位可以{what}")
    if actor.role == Role.VIEWER:
        raise NotPermitted(f"查看账号不能{what}")


def _text(value: str, label: str, field: str, *, required: bool = True, limit=REASON_MAX) -> str:
    value = (value or "").strip()
    if required and not value:
        raise PortalError(f"请填写{label}", code=field, field=field)
    if len(value) > limit:
        raise PortalError(f"{label}不能超过 {limit} 字", code=field, field=field)
    return value


def _deadline(moment: dt.datetime, days: int) -> dt.datetime:
    """End of the ``days``-th working day after ``moment``'s day (Asia/Shanghai); a year
    the calendar does not know is an error, never a guess."""
    try:
        day = workdays.working_days_after(workdays.local_date(moment), days)[-1]
    except workdays.CalendarYearMissing as exc:
        raise PortalError(exc.message, code="calendar_missing") from exc
    return workdays.end_of_day(day)


def _event(*, case=None, appeal=None, kind: str, label: str, actor, note: str = "") -> None:
    CaseEvent.objects.create(
        case=case,
        appeal=appeal,
        kind=kind,
        label=label,
        note=note,
        actor=actor if getattr(actor, "pk", None) else None,
        organisation_id=getattr(actor, "organisation_id", None),
    )


def _notify(organisation: Organisation | None, *, actor, kind: str, title: str, body: str, url):
    if organisation is None:
        return
    from portal.notices import notice_send

    notice_send(actor=actor, organisation=organisation, kind=kind, title=title, body=body, url=url)


def _notify_regulators(*, actor, kind: str, title: str, body: str, url: str) -> None:
    for org in Organisation.objects.filter(kind=OrgKind.REGULATOR, is_active=True):
        _notify(org, actor=actor, kind=kind, title=title, body=body, url=url)


REGULATORS = "regulators"


def _case_step(
    case: DisposalCase,
    *,
    actor,
    action: str,
    kind: str,
    label: str,
    note: str = "",
    extra: dict | None = None,
    to=None,
    title: str = "",
    body: str | None = None,
) -> None:
    """One step of a case: what the parties read (``CaseEvent``), the audit event
    (``action``, the case's summary and ``extra``) and the notice (notice kind ``case.<kind>``)
    to ``to``: an organisation, or ``REGULATORS`` for the administration."""
    _event(case=case, kind=kind, label=label, actor=actor, note=note)
    audit.record(action, actor=actor, obj=case, summary=_case_summary(case) | (extra or {}))
    notice = {
        "actor": actor,
        "kind": f"case.{kind}",
        "url": _case_url(case),
        "title": title,
        "body": note if body is None else body,
    }
    if to == REGULATORS:
        _notify_regulators(**notice)
    elif to is not None:
        _notify(to, **notice)


# --- review -----------------------------------------------------------------------------


def evidence_key(finding: Finding) -> str:
    """What the decision was taken on: the register line(s), the filing, the service
    object, the complaint count and the organisations. A report line's id is not in it (a
    new report version with the same content is the same evidence)."""
    parts = (
        finding.registered_id,
        finding.other_registered_id,
        finding.filing_id,
        finding.object_credit_code,
        finding.object_name,
        finding.complaint_count,
        finding.institution_id,
        finding.other_institution_id,
        finding.carrier_id,
    )
    text = "|".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def finding_review(*, actor, findings: Iterable[Finding], decision: str, reason: str) -> int:
    """Confirm or dismiss findings, with the reason (issue 14 §1). One decision row per
    finding, one audit event for the batch (its finding ids). A finding resolved already
    needs no decision; one with an open case cannot be dismissed (the case comes first)."""
    _require_regulator(actor, "研判问题线索")
    if decision not in (Review.CONFIRMED, Review.DISMISSED):
        raise PortalError("研判结论只能是确认或排除", code="decision", field="decision")
    reason = _text(reason, "研判理由", "reason")
    findings = list(findings)
    if not findings:
        raise PortalError("没有选中任何问题线索", code="empty")
    if len(findings) > BULK_MAX:
        raise PortalError(
            f"一次最多研判 {BULK_MAX} 条，当前筛选结果 {len(findings)} 条：请缩小筛选范围",
            code="too_many",
        )
    resolved = [f for f in findings if f.state == FindingState.RESOLVED]
    if resolved:
        raise PortalError(
            f"号码 {resolved[0].number} 的问题已在比对中消除，无需研判", code="resolved"
        )
    with transaction.atomic():
        if decision == Review.DISMISSED:
            open_case = (
                DisposalCase.objects.filter(
                    identity__in=[f.identity for f in findings], status__in=OPEN_CASE_STATUSES
                )
                .values_list("case_number", flat=True)
                .first()
            )
            if open_case:
                raise Conflict(
                    f"处置案件 {open_case} 尚未办结：请先核验或撤销该案件，再排除线索",
                    code="open_case",
                )
        now = timezone.now()
        decided_by = actor if getattr(actor, "pk", None) else None
        rows = FindingDecision.objects.bulk_create(
            [
                FindingDecision(
                    identity=f.identity,
                    finding=f,
                    code=f.code,
                    number=f.number,
                    decision=decision,
                    reason=reason,
                    evidence_key=evidence_key(f),
                    decided_by=decided_by,
                    decided_at=now,
                )
                for f in findings
            ]
        )
        if not all(r.pk for r in rows):  # MySQL-like backends; ours return ids
            rows = list(FindingDecision.objects.filter(decided_at=now, decided_by=decided_by))
        by_finding = {r.finding_id: r.pk for r in rows}
        for f in findings:
            f.review, f.decision_id = decision, by_finding[f.pk]
        Finding.objects.bulk_update(findings, ["review", "decision"], batch_size=1000)
        audit.record(
            "finding.review",
            actor=actor,
            object_type="oversight.Finding",
            object_id=str(findings[0].pk) if len(findings) == 1 else "",
            object_repr=f"{len(findings)} 条问题线索",
            summary={
                "decision": decision,
                "reason": reason,
                "count": len(findings),
                "findings": [f.pk for f in findings],
            },
        )
    return len(findings)


def carry_reviews(run_id: int) -> int:
    """Give a new run's findings the current decision on their identity while its evidence
    is unchanged (a dismissed finding stays dismissed until its evidence changes). Runs in
    the cross-match's transaction; decisions are few, so this is a few indexed reads."""
    latest: dict[str, FindingDecision] = {}
    for d in FindingDecision.objects.order_by("decided_at", "pk").only(
        "identity", "decision", "evidence_key"
    ):
        latest[d.identity] = d
    identities = list(latest)
    carried = 0
    for start in range(0, len(identities), 500):
        chunk = identities[start : start + 500]
        changed = []
        for f in Finding.objects.filter(run_id=run_id, identity__in=chunk).exclude(
            state=FindingState.RESOLVED
        ):
            d = latest[f.identity]
            if d.evidence_key == evidence_key(f):
                f.review, f.decision_id = d.decision, d.pk
                changed.append(f)
        Finding.objects.bulk_update(changed, ["review", "decision"], batch_size=1000)
        carried += len(changed)
    return carried


# --- disposal ---------------------------------------------------------------------------


def _case_url(case: DisposalCase) -> str:
    return reverse("case_detail", args=[case.pk])


def _case_summary(case: DisposalCase) -> dict:
    return {
        "case": case.case_number,
        "number": case.number,
        "code": case.code,
        "status": case.status,
        "carrier": case.carrier_id,
        "institution": case.institution_id,
    }


def case_order(
    *, actor, finding: Finding, action: str, instruction: str = "", carrier=None
) -> DisposalCase:
    """Order a carrier to act on a confirmed finding: 暂停, 关停 or 核实整改, within
    ``DISPOSAL_WORKING_DAYS`` working days (issue 14 §2). The carrier defaults to the one the
    finding names; a finding without one (a complained-of number) names it here."""
    _require_regulator(actor, "下达处置要求")
    if action not in DisposalAction.values:
        raise PortalError("处置要求只能是暂停、关停或核实整改", code="action", field="action")
    if finding.state == FindingState.RESOLVED:
        raise PortalError("该问题已在比对中消除，无需处置", code="resolved")
    if finding.review != Review.CONFIRMED:
        raise PortalError("请先确认该问题线索，再下达处置要求", code="not_confirmed")
    carrier = carrier or finding.carrier
    if carrier is None:
        raise PortalError("请选择承办处置的电信运营商", code="carrier", field="carrier")
    if carrier.kind != OrgKind.CARRIER:
        raise PortalError("承办处置的单位必须是电信运营商", code="carrier", field="carrier")
    instruction = _text(instruction, "处置说明", "instruction", required=False, limit=TEXT_MAX)
    now = timezone.now()
    deadline = _deadline(now, settings.DISPOSAL_WORKING_DAYS)
    try:
        with transaction.atomic():
            case = DisposalCase.objects.create(
                finding=finding,
                identity=finding.identity,
                code=finding.code,
                number=finding.number,
                carrier=carrier,
                institution_id=finding.institution_id,
                action=action,
                instruction=instruction,
                ordered_by=actor if getattr(actor, "pk", None) else None,
                ordered_at=now,
                deadline=deadline,
            )
            case.case_number = f"CZ{workdays.local_date(now):%Y}-{case.pk:06d}"
            case.save(update_fields=["case_number"])
            label = DisposalAction(action).label
            _event(
                case=case,
                kind="ordered",
                label=f"下达处置要求：{label}",
                actor=actor,
                note=instruction,
            )
            audit.record("case.order", actor=actor, obj=case, summary=_case_summary(case))
            body = (
                f"号码 {case.number}（{finding.get_code_display()}）：请于 "
                f"{workdays.local_date(deadline):%Y 年 %m 月 %d 日} 前{label}并在平台反馈处置情况。"
            )
            _notify(
                carrier,
                actor=actor,
                kind="case.ordered",
                url=_case_url(case),
                title=f"【处置要求】{case.case_number} 号码 {case.number} {label}",
                body=body,
            )
            if case.institution_id:
                _notify(
                    case.institution,
                    actor=actor,
                    kind="case.ordered",
                    url=_case_url(case),
                    title=f"【处置通知】贵单位登记的号码 {case.number} 被要求{label}",
                    body=f"通信管理局已要求 {carrier.name} {label}号码 {case.number}。"
                    f"如属合法业务，可在 {settings.APPEAL_WORKING_DAYS} 个工作日内在平台提出申诉。",
                )
    except IntegrityError as exc:
        raise Conflict("该问题线索已有未办结的处置案件", code="case_open") from exc
    return case


def _require_status(case: DisposalCase, statuses, what: str) -> None:
    if case.status not in statuses:
        raise Conflict(f"案件当前状态为「{case.get_status_display()}」，不能{what}", code="status")


def case_report(
    *,
    actor,
    case: DisposalCase,
    action_taken: str,
    action_date: dt.date,
    note: str,
    evidence=None,
) -> DisposalCase:
    """The carrier reports the action taken, with the date and evidence (issue 14 §2)."""
    _require_party(actor, case.carrier_id, "反馈处置情况")
    _require_status(case, AWAITING_CARRIER, "反馈处置情况")
    if action_taken not in DisposalAction.values:
        raise PortalError("请选择已采取的措施", code="action_taken", field="action_taken")
    today = timezone.localdate()
    if action_date is None or action_date > today:
        raise PortalError("处置日期不能晚于今天", code="action_date", field="action_date")
    if action_date < workdays.local_date(case.finding.run.created_at) - dt.timedelta(days=366):
        raise PortalError("处置日期过早，请核对", code="action_date", field="action_date")
    note = _text(note, "处置情况", "note", limit=TEXT_MAX)
    if evidence is None:
        raise PortalError(
            "请上传处置凭证（如停机工单截图、整改报告）", code="document", field="document"
        )
    validate_attachment(evidence, what="处置凭证")
    with transaction.atomic():
        case.action_taken, case.action_date, case.action_note = action_taken, action_date, note
        case.evidence_name = (getattr(evidence, "name", "") or "")[-200:]
        case.evidence.save(case.evidence_name, evidence, save=False)
        case.status, case.reported_at = CaseStatus.REPORTED, timezone.now()
        case.save()
        _case_step(
            case,
            actor=actor,
            action="case.report",
            kind="reported",
            label=f"反馈处置情况：{DisposalAction(action_taken).label}（{action_date:%Y-%m-%d}）",
            note=note,
            extra={"action_taken": action_taken, "action_date": action_date},
            to=REGULATORS,
            title=f"【待核验】{case.case_number} 运营商已反馈处置情况",
        )
    return case


def case_dispute(*, actor, case: DisposalCase, reason: str) -> DisposalCase:
    """The carrier disputes the order, with a reason; the administration answers."""
    _require_party(actor, case.carrier_id, "提出异议")
    _require_status(case, (CaseStatus.ORDERED,), "提出异议")
    reason = _text(reason, "异议理由", "reason", limit=TEXT_MAX)
    with transaction.atomic():
        case.status, case.dispute_reason = CaseStatus.DISPUTED, reason
        case.save(update_fields=["status", "dispute_reason"])
        _case_step(
            case,
            actor=actor,
            action="case.dispute",
            kind="disputed",
            label="运营商提出异议",
            note=reason,
            to=REGULATORS,
            title=f"【异议】{case.case_number} 运营商对处置要求有异议",
        )
    return case


def case_verify(*, actor, case: DisposalCase, accepted: bool, note: str = "") -> DisposalCase:
    """The administration verifies the carrier's report: the case closes, or goes back to
    the carrier with a new deadline (issue 14 §2)."""
    _require_regulator(actor, "核验处置情况")
    _require_status(case, (CaseStatus.REPORTED,), "核验")
    note = _text(note, "核验意见", "note", required=not accepted)
    with transaction.atomic():
        now = timezone.now()
        if accepted:
            case.status, case.verified_at, case.verify_note = CaseStatus.CLOSED, now, note
            case.verified_by = actor if getattr(actor, "pk", None) else None
            label, title = "核验通过，案件办结", f"【已办结】{case.case_number} 处置情况核验通过"
        else:
            case.status, case.verify_note = CaseStatus.ORDERED, note
            case.deadline = _deadline(now, settings.DISPOSAL_WORKING_DAYS)
            case.overdue_since = None
            label = (
                f"核验未通过，退回运营商（新期限 {workdays.local_date(case.deadline):%Y-%m-%d}）"
            )
            title = f"【退回】{case.case_number} 处置情况核验未通过"
        case.save()
        _case_step(
            case,
            actor=actor,
            action="case.verify",
            kind="verified" if accepted else "returned",
            label=label,
            note=note,
            extra={"accepted": accepted},
            to=case.carrier,
            title=title,
            body=note or label,
        )
    return case


def case_answer_dispute(*, actor, case: DisposalCase, maintain: bool, note: str) -> DisposalCase:
    """The administration answers a dispute: keeps the order (new deadline) or withdraws
    it (the finding is dismissed with the note as the reason; the case is reversed)."""
    _require_regulator(actor, "答复异议")
    _require_status(case, (CaseStatus.DISPUTED,), "答复异议")
    note = _text(note, "答复意见", "note")
    with transaction.atomic():
        if maintain:
            case.status = CaseStatus.ORDERED
            case.deadline = _deadline(timezone.now(), settings.DISPOSAL_WORKING_DAYS)
            case.overdue_since = None
            label = f"维持处置要求（新期限 {workdays.local_date(case.deadline):%Y-%m-%d}）"
        else:
            case.status = CaseStatus.REVERSED
            label = "采纳异议，撤销处置要求"
        case.save()
        if not maintain:
            _dismiss(actor, case.identity, f"采纳运营商异议：{note}")
        _case_step(
            case,
            actor=actor,
            action="case.dispute_answer",
            kind="dispute_answered",
            label=label,
            note=note,
            extra={"maintain": maintain},
            to=case.carrier,
            title=f"【异议答复】{case.case_number} {label}",
        )
    return case


def case_restore(*, actor, case: DisposalCase, restored_on: dt.date, note: str) -> DisposalCase:
    """The carrier reports the number restored after an upheld appeal (002)."""
    _require_party(actor, case.carrier_id, "反馈恢复情况")
    if not case.restore_pending or case.restore_deadline is None:
        raise Conflict("该案件无需恢复号码", code="status")
    if restored_on is None or restored_on > timezone.localdate():
        raise PortalError("恢复日期不能晚于今天", code="restored_on", field="restored_on")
    note = _text(note, "恢复情况", "note")
    with transaction.atomic():
        case.restored_on, case.restored_at = restored_on, timezone.now()
        case.save(update_fields=["restored_on", "restored_at"])
        _case_step(
            case,
            actor=actor,
            action="case.restore",
            kind="restored",
            label=f"号码已恢复（{restored_on:%Y-%m-%d}）",
            note=note,
            to=case.institution,
            title=f"【已恢复】号码 {case.number} 已恢复使用",
        )
    return case


def _dismiss(actor, identity: str, reason: str, appeal: Appeal | None = None) -> None:
    """Dismiss the latest finding of ``identity`` (a withdrawn order, an upheld appeal)."""
    finding = Finding.objects.filter(identity=identity).order_by("-run_id").first()
    if finding is None:
        return
    decision = FindingDecision.objects.create(
        identity=identity,
        finding=finding,
        code=finding.code,
        number=finding.number,
        decision=Review.DISMISSED,
        reason=reason[:REASON_MAX],
        evidence_key=evidence_key(finding),
        appeal=appeal,
        decided_by=actor if getattr(actor, "pk", None) else None,
    )
    Finding.objects.filter(identity=identity).exclude(state=FindingState.RESOLVED).filter(
        run_id=finding.run_id
    ).update(review=Review.DISMISSED, decision=decision)


# --- overdue ----------------------------------------------------------------------------


def overdue_remind(*, now: dt.datetime | None = None) -> dict:
    """Daily: flag cases past their deadline and remind the carrier once per case per day
    (one ``ReminderSent`` row per case and day), the administration once a day with the
    list. Idempotent: a second run the same day sends nothing."""
    from portal.models import ReminderSent

    now = now or timezone.now()
    today = workdays.local_date(now)
    flagged = DisposalCase.objects.overdue(now).filter(overdue_since__isnull=True)
    newly = 0
    with transaction.atomic():
        for case in flagged.select_for_update():
            case.overdue_since = now
            case.save(update_fields=["overdue_since"])
            _event(case=case, kind="overdue", label="已超过处置期限", actor=audit.SYSTEM)
            audit.record("case.overdue", actor=audit.SYSTEM, obj=case, summary=_case_summary(case))
            newly += 1
    reminded = 0
    overdue = list(DisposalCase.objects.overdue(now).select_related("carrier"))
    for case in overdue:
        key = f"case-{case.pk}-overdue-{today:%Y%m%d}"
        days = workdays.working_days_late(case.deadline, now)
        try:
            with transaction.atomic():
                ReminderSent.objects.create(organisation=case.carrier, key=key)
                _notify(
                    case.carrier,
                    actor=audit.SYSTEM,
                    kind="case.overdue",
                    url=_case_url(case),
                    title=f"【逾期】{case.case_number} 号码 {case.number} "
                    f"处置已逾期 {days} 个工作日",
                    body=f"处置期限为 {workdays.local_date(case.deadline):%Y-%m-%d}，"
                    "请尽快处置并在平台反馈。",
                )
        except IntegrityError:
            continue  # reminded today already
        reminded += 1
    if overdue:
        summary_key = f"cases-overdue-{today:%Y%m%d}"
        for org in Organisation.objects.filter(kind=OrgKind.REGULATOR, is_active=True):
            try:
                with transaction.atomic():
                    ReminderSent.objects.create(organisation=org, key=summary_key)
                    _notify(
                        org,
                        actor=audit.SYSTEM,
                        kind="case.overdue",
                        url=reverse("case_list") + "?overdue=1",
                        title=f"【逾期汇总】{len(overdue)} 件处置案件已逾期",
                        body="\n".join(
                            f"{c.case_number} {c.number} {c.carrier.name}" for c in overdue[:50]
                        ),
                    )
            except IntegrityError:
                continue
    return {"flagged": newly, "reminded": reminded, "overdue": len(overdue)}


# --- appeals (002) ----------------------------------------------------------------------


def appeal_window(finding: Finding, case: DisposalCase | None) -> dt.datetime | None:
    """The last moment to appeal: ``APPEAL_WORKING_DAYS`` working days after the order (or,
    with no order yet, after the finding was confirmed). None: nothing to appeal yet."""
    if case is not None:
        start = case.ordered_at
    else:
        confirmed = (
            FindingDecision.objects.filter(identity=finding.identity, decision=Review.CONFIRMED)
            .order_by("-decided_at")
            .values_list("decided_at", flat=True)
            .first()
        )
        if confirmed is None or finding.review != Review.CONFIRMED:
            return None
        start = confirmed
    return _deadline(start, settings.APPEAL_WORKING_DAYS)


def appeal_lodge(
    *, actor, finding: Finding, reasons: str, document=None, case: DisposalCase | None = None
) -> Appeal:
    """An institution (or the carrier) appeals a finding or a disposal with its reasons and
    documents, within the window after the order (issue 14 §3; 002)."""
    if case is None:
        case = (
            DisposalCase.objects.filter(identity=finding.identity)
            .exclude(status=CaseStatus.REVERSED)
            .order_by("-ordered_at")
            .first()
        )
    parties = {finding.institution_id, finding.other_institution_id}
    if case is not None:
        parties |= {case.carrier_id, case.institution_id}
    parties.discard(None)
    organisation_id = getattr(actor, "organisation_id", None)
    if organisation_id not in parties:
        raise NotPermitted("只有问题线索所涉的机构或承办处置的运营商可以申诉")
    _require_party(actor, organisation_id, "提出申诉")
    reasons = _text(reasons, "申诉理由", "reasons", limit=TEXT_MAX)
    window = appeal_window(finding, case)
    if window is None:
        raise PortalError("该问题线索尚未确认或下达处置，无需申诉", code="nothing_to_appeal")
    if timezone.now() > window:
        raise PortalError(
            f"申诉期已过：应在处置要求下达后 {settings.APPEAL_WORKING_DAYS} 个工作日内"
            f"（{workdays.local_date(window):%Y 年 %m 月 %d 日}前）提出",
            code="out_of_time",
        )
    if document is not None:
        validate_attachment(document, what="申诉材料")
    try:
        with transaction.atomic():
            appeal = Appeal(
                finding=finding,
                identity=finding.identity,
                case=case,
                number=finding.number,
                institution_id=finding.institution_id or (case.institution_id if case else None),
                appellant_id=organisation_id,
                lodged_by=actor,
                reasons=reasons,
            )
            if document is not None:
                appeal.document_name = (getattr(document, "name", "") or "")[-200:]
                appeal.document.save(appeal.document_name, document, save=False)
            appeal.save()
            _event(
                appeal=appeal,
                case=case,
                kind="appeal_lodged",
                actor=actor,
                note=reasons,
                label=f"{actor.organisation.name} 提出申诉",
            )
            audit.record(
                "appeal.lodge",
                actor=actor,
                obj=appeal,
                summary={
                    "number": appeal.number,
                    "case": case.case_number if case else None,
                    "finding": finding.pk,
                },
            )
            _notify_regulators(
                actor=actor,
                kind="appeal.lodged",
                url=_appeal_url(appeal),
                title=f"【申诉】号码 {appeal.number} 收到申诉",
                body=reasons,
            )
    except IntegrityError as exc:
        raise Conflict("贵单位对该问题线索已有待处理的申诉", code="appeal_pending") from exc
    return appeal


def _appeal_url(appeal: Appeal) -> str:
    return reverse("appeal_detail", args=[appeal.pk])


def appeal_decide(*, actor, appeal: Appeal, upheld: bool, reason: str) -> Appeal:
    """Uphold (the finding is dismissed, the case reversed, the carrier told to restore the
    number within ``RESTORE_WORKING_DAYS``) or reject, with the reason (issue 14 §3)."""
    _require_regulator(actor, "处理申诉")
    if appeal.status != AppealStatus.PENDING:
        raise Conflict("该申诉已处理", code="status")
    reason = _text(reason, "处理意见", "reason", limit=TEXT_MAX)
    with transaction.atomic():
        now = timezone.now()
        appeal.status = AppealStatus.UPHELD if upheld else AppealStatus.REJECTED
        appeal.decision_reason, appeal.decided_at = reason, now
        appeal.decided_by = actor if getattr(actor, "pk", None) else None
        appeal.save()
        case = appeal.case
        if upheld:
            _dismiss(actor, appeal.identity, f"申诉成立：{reason}", appeal=appeal)
            if case is not None and case.status != CaseStatus.REVERSED:
                case.status = CaseStatus.REVERSED
                case.restore_deadline = _deadline(now, settings.RESTORE_WORKING_DAYS)
                case.save(update_fields=["status", "restore_deadline"])
                restore_by = workdays.local_date(case.restore_deadline)
                _case_step(
                    case,
                    actor=actor,
                    action="case.reverse",
                    kind="reversed",
                    label=f"申诉成立，撤销处置；请于 {restore_by:%Y-%m-%d} 前恢复号码",
                    note=reason,
                    to=case.carrier,
                    title=f"【恢复号码】{case.case_number} 申诉成立，请恢复号码 {case.number}",
                    body=f"请于 {restore_by:%Y 年 %m 月 %d 日}前恢复号码 {case.number} "
                    f"并在平台反馈。\n{reason}",
                )
        label = "申诉成立" if upheld else "申诉驳回"
        _event(
            appeal=appeal, case=case, kind="appeal_decided", label=label, actor=actor, note=reason
        )
        audit.record(
            "appeal.decide",
            actor=actor,
            obj=appeal,
            summary={
                "upheld": upheld,
                "number": appeal.number,
                "case": case.case_number if case else None,
            },
        )
        for party in {appeal.appellant, appeal.institution} - {None}:
            _notify(
                party,
                actor=actor,
                kind="appeal.decided",
                url=_appeal_url(appeal),
                title=f"【申诉结果】号码 {appeal.number}：{label}",
                body=reason,
            )
    return appeal
