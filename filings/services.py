"""Verbs on bulk-SMS filings (000 §二(二)3: a carrier files each campaign 5 working days
ahead; the administration reviews). Atomic, audited, permission-checked (style.md).

Status: 草稿 → 已提交 → 已通过 / 已退回 / 不予通过 → 已发送 / 已撤回. An amendment is a new
version and resets the review (back to 草稿, to be submitted again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from portal import audit
from portal.errors import Conflict, NotPermitted, PortalError, joined
from portal.models import Organisation, OrgKind

from . import checks
from .importers.sms_filing import Context, clean_values, column_texts
from .models import (
    AMENDABLE,
    SUBMITTABLE,
    WITHDRAWABLE,
    FilingStatus,
    SmsFiling,
    SmsFilingVersion,
)

VALUE_FIELDS = (
    "carrier_label",
    "sender_name",
    "sender_credit_code",
    "entrusting_name",
    "entrusting_credit_code",
    "signature",
    "port",
    "port_raw",
    "purpose",
    "content",
    "start_at",
    "end_at",
    "planned_count",
    "recipients",
    "consent",
    "region",
    "opt_out",
    "contact_name",
    "contact_phone",
)


class FilingBlocked(PortalError):
    """Submission refused: blocking checks fired. ``checks``: every check that fired."""

    code = "filing_blocked"
    status = 409

    def __init__(self, message: str, *, checks_fired: list[dict]):
        super().__init__(message)
        self.checks = checks_fired


class FilingInvalid(PortalError):
    """Values no filing may hold (the same rule as an uploaded row): ``errors`` lists every
    (column, reason); ``field`` is the first column."""

    code = "invalid_filing"

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(joined(reason for _, reason in errors), field=errors[0][0])
        self.errors = errors


# --- who may do what ----------------------------------------------------------------------


def filer_denial(user, carrier_id: int | None = None) -> NotPermitted | None:
    """The one rule for who files and changes a carrier's filings: its 管理员 and 经办人."""
    if audit.is_system(user):
        return None
    if not user.is_carrier:
        return NotPermitted(
            "短信群发由电信业务经营者报备；您所在单位可以查看，不能报备", code="not_carrier"
        )
    if carrier_id is not None and carrier_id != user.organisation_id:
        return NotPermitted("只能修改本单位的报备", code="not_own_carrier")
    if not user.can_write:
        return NotPermitted(
            f"您的角色为“{user.get_role_display()}”：可以查看本单位的报备，不能报备或修改",
            code="viewer_read_only",
        )
    return None


def reviewer_denial(user) -> NotPermitted | None:
    """Only the communications administration's 管理员 and 经办人 review filings."""
    if audit.is_system(user):
        return None
    if not user.is_regulator:
        return NotPermitted("只有通信管理局审核短信报备", code="not_regulator")
    if not user.can_write:
        return NotPermitted("查看角色不能审核短信报备", code="viewer_read_only")
    return None


def _require(denial: NotPermitted | None) -> None:
    if denial is not None:
        raise denial


def _actor_user(actor):
    return None if audit.is_system(actor) else actor


# --- values -------------------------------------------------------------------------------


def values_from_columns(texts: dict[str, str], *, carrier: Organisation) -> dict:
    """The form's column texts (online form, API) -> model values; PortalError naming the
    first bad column (``field``: the column) and every problem in its message."""
    values, errors = clean_values(lambda c: str(texts.get(c) or ""), Context(carrier, carrier.name))
    if errors:
        raise FilingInvalid(errors)
    return values


def _snapshot(values: dict) -> dict:
    return column_texts(values)


def _values_of(filing: SmsFiling) -> dict:
    return {name: getattr(filing, name) for name in VALUE_FIELDS}


def _apply_outcome(filing: SmsFiling, outcome: checks.Outcome, now: dt.datetime) -> None:
    filing.checks = outcome.checks
    filing.checked_at = now
    filing.institution_id = outcome.institution_id
    filing.register_entry_id = outcome.register_entry_id
    filing.qualification = outcome.qualification
    filing.partner_id = outcome.partner_id


LINK_FIELDS = ["checks", "checked_at", "institution", "register_entry", "qualification", "partner"]


def recheck(filings: list[SmsFiling], *, now: dt.datetime | None = None) -> None:
    """Run every check on ``filings`` at once (set-based) and store the results."""
    now = now or timezone.now()
    keyed = {i: f for i, f in enumerate(filings)}
    facts = []
    for i, f in keyed.items():
        fact = checks.Facts.of(f)
        fact.key = i
        facts.append(fact)
    outcomes = checks.run(facts, now=now)
    for i, f in keyed.items():
        _apply_outcome(f, outcomes[i], now)
    SmsFiling.objects.bulk_update(filings, LINK_FIELDS, batch_size=500)


# --- filing -------------------------------------------------------------------------------


def filing_create(*, actor, carrier: Organisation, values: dict, note: str = "") -> SmsFiling:
    """A new filing (草稿) with its first version and its checks (000 §二(二)3)."""
    return filings_create(actor=actor, carrier=carrier, rows=[(None, values)], note=note)[0]


def filings_create(
    *, actor, carrier: Organisation, rows: list[tuple[int | None, dict]], job=None, note: str = ""
) -> list[SmsFiling]:
    """Drafts for many campaigns at once (an uploaded workbook: ``rows`` are (Excel row,
    values)), checked in one set-based run; one audit event per filing."""
    if carrier.kind != OrgKind.CARRIER:
        raise PortalError("只有电信业务经营者报备短信群发", code="not_carrier")
    _require(filer_denial(actor, carrier.pk))
    user = _actor_user(actor)
    with transaction.atomic():
        filings = SmsFiling.objects.bulk_create(
            [
                SmsFiling(
                    carrier=carrier,
                    source_job=job,
                    source_row=row,
                    created_by=user,
                    **{k: values[k] for k in VALUE_FIELDS},
                )
                for row, values in rows
            ]
        )
        if any(f.pk is None for f in filings):  # backends without RETURNING
            filings = list(SmsFiling.objects.filter(source_job=job).order_by("source_row", "pk"))
        for f in filings:
            f.carrier = carrier
        recheck(filings)
        SmsFilingVersion.objects.bulk_create(
            [
                SmsFilingVersion(
                    filing=f,
                    number=1,
                    values=_snapshot(_values_of(f)),
                    note=note or ("批量上传" if job else "在线填报"),
                    created_by=user,
                )
                for f in filings
            ]
        )
        for f in filings:
            audit.record(
                "filing.create",
                actor=actor,
                organisation=carrier,
                obj=f,
                summary={
                    "port": f.port,
                    "purpose": f.purpose,
                    "start_at": f.start_at,
                    "checks": [c["code"] for c in f.checks],
                    **({"job": job.pk, "row": f.source_row} if job else {}),
                },
            )
    return filings


def _locked(filing: SmsFiling) -> SmsFiling:
    return SmsFiling.objects.select_for_update().select_related("carrier").get(pk=filing.pk)


def filing_amend(*, actor, filing: SmsFiling, values: dict, note: str = "") -> SmsFiling:
    """A new version of a filing: its values change, its review is reset (back to 草稿,
    to be submitted again) and its checks run again. Nothing changed: no new version."""
    _require(filer_denial(actor, filing.carrier_id))
    with transaction.atomic():
        current = _locked(filing)
        if current.status not in AMENDABLE:
            raise Conflict(
                f"报备已{current.get_status_display()}，不能再修改", code="not_amendable"
            )
        before = _snapshot(_values_of(current))
        after = _snapshot({**_values_of(current), **{k: values[k] for k in VALUE_FIELDS}})
        changed = {c: (before[c], after[c]) for c in after if before[c] != after[c]}
        if not changed:
            return current
        for name in VALUE_FIELDS:
            setattr(current, name, values[name])
        status_before = current.status
        current.version += 1
        current.status = FilingStatus.DRAFT
        current.submitted_at = current.reviewed_at = None
        current.reviewed_by = None
        current.review_reason = ""
        current.save()
        recheck([current])
        SmsFilingVersion.objects.create(
            filing=current,
            number=current.version,
            values=after,
            note=note or "修改",
            created_by=_actor_user(actor),
        )
        audit.record(
            "filing.amend",
            actor=actor,
            organisation=current.carrier,
            obj=current,
            summary={
                "version": current.version,
                "status": [status_before, current.status],
                "changed": {c: list(v) for c, v in changed.items()},
            },
        )
    return current


def _submit_locked(actor, rows: list[SmsFiling], now: dt.datetime) -> list[SmsFiling]:
    for f in rows:
        if f.status not in SUBMITTABLE:
            raise Conflict(
                f"报备 {f.pk} 已{f.get_status_display()}，不能提交", code="not_submittable"
            )
    recheck(rows, now=now)
    blocked = [f for f in rows if f.blocking]
    if blocked:
        reasons = [f"{c['message']}" for f in blocked for c in f.blocking]
        raise FilingBlocked(
            "未提交：" + joined(reasons),
            checks_fired=[c for f in blocked for c in f.blocking],
        )
    for f in rows:
        f.status = FilingStatus.SUBMITTED
        f.submitted_at = now
    SmsFiling.objects.bulk_update(rows, ["status", "submitted_at"])
    for f in rows:
        audit.record(
            "filing.submit",
            actor=actor,
            organisation=f.carrier,
            obj=f,
            summary={"version": f.version, "warnings": [c["code"] for c in f.warnings]},
        )
    return rows


def filing_submit(*, actor, filing: SmsFiling) -> SmsFiling:
    """Submit a filing: its checks run again now; blocking ones stop it (FilingBlocked, the
    filing stays 草稿 with the results stored), warnings go with it to the regulator."""
    return filings_submit(actor=actor, filings=[filing])[0]


def filings_submit(*, actor, filings: Iterable[SmsFiling]) -> list[SmsFiling]:
    """All or nothing: a blocking check on any filing submits none (issue 12 §7). The check
    results are kept either way."""
    filings = list(filings)
    for f in filings:
        _require(filer_denial(actor, f.carrier_id))
    now = timezone.now()
    try:
        with transaction.atomic():
            rows = list(
                SmsFiling.objects.select_for_update()
                .select_related("carrier")
                .filter(pk__in=[f.pk for f in filings])
                .order_by("source_row", "pk")
            )
            return _submit_locked(actor, rows, now)
    except FilingBlocked:
        # Keep the fresh results for the carrier to read (outside the refused transaction).
        with transaction.atomic():
            rows = list(
                SmsFiling.objects.select_for_update()
                .select_related("carrier")
                .filter(pk__in=[f.pk for f in filings])
            )
            recheck(rows, now=now)
        raise


REVIEW_DECISIONS = {
    "accept": FilingStatus.ACCEPTED,
    "return": FilingStatus.RETURNED,
    "reject": FilingStatus.REJECTED,
}


def filing_review(*, actor, filing: SmsFiling, decision: str, reason: str = "") -> SmsFiling:
    """The administration accepts a submitted filing, returns it for correction with a
    reason, or rejects it (不予通过) with a reason; the carrier sees status and reason."""
    _require(reviewer_denial(actor))
    status = REVIEW_DECISIONS.get(decision)
    if status is None:
        raise PortalError(
            "审核结论应为 accept（通过）、return（退回）或 reject（不予通过）",
            code="decision",
            field="decision",
        )
    reason = (reason or "").strip()
    if status != FilingStatus.ACCEPTED and not reason:
        raise PortalError("退回或不予通过须填写原因", code="reason_required", field="reason")
    with transaction.atomic():
        current = _locked(filing)
        if current.status != FilingStatus.SUBMITTED:
            raise Conflict(
                f"报备当前为“{current.get_status_display()}”，只能审核已提交的报备",
                code="not_submitted",
            )
        current.status = status
        current.reviewed_at = timezone.now()
        current.reviewed_by = _actor_user(actor)
        current.review_reason = reason[:500]
        current.save(
            update_fields=["status", "reviewed_at", "reviewed_by", "review_reason", "updated_at"]
        )
        audit.record(
            f"filing.{decision}",
            actor=actor,
            obj=current,
            summary={"version": current.version, "reason": reason[:200]},
        )
    return current


def filings_accept_clean(*, actor, filings: Iterable[SmsFiling]) -> list[SmsFiling]:
    """Bulk accept: only submitted filings whose checks found nothing (no warnings); the
    others are left for one-by-one review. Returns the accepted ones."""
    _require(reviewer_denial(actor))
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            SmsFiling.objects.select_for_update().filter(
                pk__in=[f.pk for f in filings], status=FilingStatus.SUBMITTED
            )
        )
        clean = [f for f in rows if not f.checks]
        for f in clean:
            f.status = FilingStatus.ACCEPTED
            f.reviewed_at = now
            f.reviewed_by = _actor_user(actor)
            f.review_reason = ""
        SmsFiling.objects.bulk_update(
            clean, ["status", "reviewed_at", "reviewed_by", "review_reason"]
        )
        for f in clean:
            audit.record(
                "filing.accept", actor=actor, obj=f, summary={"version": f.version, "bulk": True}
            )
    return clean


def filing_mark_sent(*, actor, filing: SmsFiling, actual_count: int) -> SmsFiling:
    """After sending, the carrier records the actual count (an accepted filing only)."""
    _require(filer_denial(actor, filing.carrier_id))
    if actual_count is None or int(actual_count) < 0:
        raise PortalError("实际发送数量应为非负整数", code="actual_count", field="actual_count")
    with transaction.atomic():
        current = _locked(filing)
        if current.status != FilingStatus.ACCEPTED:
            raise Conflict(
                f"报备当前为“{current.get_status_display()}”，只有已通过的报备可以标记为已发送",
                code="not_accepted",
            )
        current.status = FilingStatus.SENT
        current.actual_count = int(actual_count)
        current.sent_at = timezone.now()
        current.save(update_fields=["status", "actual_count", "sent_at", "updated_at"])
        audit.record(
            "filing.sent",
            actor=actor,
            organisation=current.carrier,
            obj=current,
            summary={"actual_count": current.actual_count, "planned_count": current.planned_count},
        )
    return current


def filing_withdraw(*, actor, filing: SmsFiling, reason: str = "") -> SmsFiling:
    """The carrier withdraws a filing that was not sent (it stays, as 已撤回)."""
    _require(filer_denial(actor, filing.carrier_id))
    with transaction.atomic():
        current = _locked(filing)
        if current.status not in WITHDRAWABLE:
            raise Conflict(
                f"报备当前为“{current.get_status_display()}”，不能撤回", code="not_withdrawable"
            )
        before = current.status
        current.status = FilingStatus.WITHDRAWN
        current.withdrawn_at = timezone.now()
        current.withdraw_reason = (reason or "").strip()[:500]
        current.save(update_fields=["status", "withdrawn_at", "withdraw_reason", "updated_at"])
        audit.record(
            "filing.withdraw",
            actor=actor,
            organisation=current.carrier,
            obj=current,
            summary={"status": [before, current.status], "reason": current.withdraw_reason[:200]},
        )
    return current


def version_changes(filing: SmsFiling) -> list[dict]:
    """Each version with what changed from the one before: [{version, changes: [(column,
    before, after)]}], newest first."""
    versions = list(filing.versions.order_by("number"))
    result = []
    previous: dict[str, str] = {}
    for v in versions:
        changes = [
            (column, previous.get(column, ""), text)
            for column, text in v.values.items()
            if previous and previous.get(column, "") != text
        ]
        result.append({"version": v, "changes": changes})
        previous = v.values
    return list(reversed(result))
