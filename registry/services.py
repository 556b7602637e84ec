"""Verbs on the number registry. Atomic, audited, permission-checked (style.md).

Institutions register every number, port and sub-port that they, their branches and their
entrusted partners use for marketing and collection (000 §三(一)1; 002 短信营销号码库).
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from portal import audit
from portal.errors import Conflict, NotPermitted, PortalError, choices_text
from portal.models import Organisation, OrgKind, UploadJob
from portal.spreadsheets.pipeline import (
    UploadRejected,
    UploadSuperseded,
    duplicate_message,  # noqa: F401 - the upload page, API and CLI say it
    upload_job_create,
    upload_job_fail,
    upload_job_run,
)

from . import numbers
from .importers import merge as merging
from .importers import register
from .models import (
    ImportMode,
    Partner,
    Purpose,
    RegisteredNumber,
    Status,
)

log = logging.getLogger(__name__)


def write_denial(user, institution_id: int | None = None) -> NotPermitted | None:
    """The one rule for who changes an institution's register, its partners and its uploads
    (000 §三(一)1: the institution compiles its own numbers): its own 管理员 and 经办人.
    Returns why not, worded for what the user can do, or None. Pages, the API and the
    services all ask this (issue 10 §4)."""
    if not user.is_institution:
        return NotPermitted(
            "号码登记由金融机构自行填报和维护；您所在单位可以查看，不能修改",
            code="not_institution",
        )
    if institution_id is not None and institution_id != user.organisation_id:
        return NotPermitted("只能修改本机构的号码登记", code="not_own_institution")
    if not user.can_write:
        return NotPermitted(
            f"您的角色为“{user.get_role_display()}”：可以查看本机构的号码登记，不能修改；"
            "如需登记或修改，请联系本机构管理员调整角色",
            code="viewer_read_only",
        )
    return None


def _require_writer(actor, institution: Organisation) -> None:
    if audit.is_system(actor):
        return
    denial = write_denial(actor, institution.pk)
    if denial is not None:
        raise denial


def _require_institution(institution: Organisation) -> None:
    if institution.kind != OrgKind.INSTITUTION:
        raise PortalError("只有金融机构登记号码和合作单位", code="not_institution")


# --- partners --------------------------------------------------------------------------


def partner_save(
    *,
    actor,
    institution: Organisation,
    name: str,
    credit_code: str,
    kind: str,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    document_number: str = "",
    contact: str = "",
    document=None,
    partner: Partner | None = None,
) -> tuple[Partner, bool]:
    """Register (or update) an entrusted partner and its entrustment document
    (000 §一(一): nobody markets or collects for an institution without its written
    entrustment). Same credit code twice updates the existing partner; when nothing would
    change (same fields, no new document) nothing is saved or audited, so saving the same
    values again (``add_partner`` run twice) is a no-op."""
    from portal.creditcode import CreditCodeError, validate_credit_code

    _require_institution(institution)
    _require_writer(actor, institution)
    try:
        code = validate_credit_code(credit_code)
    except CreditCodeError as exc:
        raise PortalError(exc.message, code="credit_code", field="credit_code") from exc
    if code == institution.credit_code:
        raise PortalError("合作单位不能是本机构自己", code="self_partner", field="credit_code")
    if kind not in Purpose.values:
        raise PortalError(
            f"委托类型“{kind}”无效，可选：{choices_text(Purpose)}", code="kind", field="kind"
        )
    if not name.strip():
        raise PortalError("合作单位名称不能为空", code="name", field="name")
    if valid_to and valid_to < valid_from:
        raise PortalError("委托截止日期不能早于起始日期", code="period", field="valid_to")
    with transaction.atomic():
        existing = (
            partner or Partner.objects.filter(institution=institution, credit_code=code).first()
        )
        if partner is not None and partner.institution_id != institution.pk:
            raise NotPermitted("不能修改其他机构的合作单位")
        created = existing is None
        target = existing or Partner(
            institution=institution, created_by=None if audit.is_system(actor) else actor
        )
        before = {} if created else _partner_summary(target)
        if (
            partner is not None
            and code != partner.credit_code
            and (
                Partner.objects.filter(institution=institution, credit_code=code)
                .exclude(pk=partner.pk)
                .exists()
            )
        ):
            raise Conflict("该统一社会信用代码的合作单位已登记", field="credit_code")
        values = {
            "name": name.strip(),
            "credit_code": code,
            "kind": kind,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "document_number": document_number.strip(),
            "contact": contact.strip(),
        }
        unchanged = (
            not created
            and document is None
            and all(getattr(target, key) == value for key, value in values.items())
        )
        if not unchanged:
            for key, value in values.items():
                setattr(target, key, value)
            if document is not None:
                target.document_name = os.path.basename(document.name)[:255]
                target.document.save(document.name, document, save=False)
            target.save()
            audit.record(
                "partner.create" if created else "partner.update",
                actor=actor,
                organisation=institution,
                obj=target,
                summary={"before": before, "after": _partner_summary(target)},
            )
        if not created and target.valid_to and target.valid_to < timezone.localdate():
            _end_partner_numbers(target, actor=actor)
    return target, created


def _partner_summary(p: Partner) -> dict:
    return {
        "name": p.name,
        "credit_code": p.credit_code,
        "kind": p.kind,
        "valid_from": p.valid_from,
        "valid_to": p.valid_to,
        "document_number": p.document_number,
    }


def _end_partner_numbers(partner: Partner, *, actor) -> int:
    """An expired entrustment ends its partner's numbers, and says so (issue 4 §1)."""
    reason = f"委托书已于 {partner.valid_to} 到期"
    # One UPDATE for all of them (style.md: set-based); the end date never after the
    # entrustment's, never before the registration's own start (regnum_period_order).
    capped = Q(valid_to__isnull=True) | Q(valid_to__gt=partner.valid_to)
    count = RegisteredNumber.objects.filter(partner=partner, status=Status.ACTIVE).update(
        status=Status.ENDED,
        end_reason=reason,
        closed_at=timezone.now(),
        valid_to=Case(
            When(capped, then=Greatest(Value(partner.valid_to), F("valid_from"))),
            default=F("valid_to"),
        ),
    )
    if count:
        audit.record(
            "number.end_expired_partner",
            actor=actor,
            organisation=partner.institution,
            obj=partner,
            summary={"ended": count, "reason": reason},
        )
    return count


def partner_set_public_contact(*, actor, partner: Partner, contact: str) -> bool:
    """The contact number the institution publishes for an entrusted agency on the public
    disclosure page (001 第十三条: institutions publish the collection agencies they entrust
    and their contacts). Any number ``registry.numbers`` accepts, stored canonical; empty
    takes it off the page. Unchanged: nothing saved or audited (False)."""
    _require_writer(actor, partner.institution)
    contact = (contact or "").strip()
    if contact:
        try:
            contact = numbers.parse_number(contact).number
        except numbers.NumberError as exc:
            raise PortalError(exc.message, code="public_contact", field="public_contact") from exc
    with transaction.atomic():
        current = Partner.objects.select_for_update().get(pk=partner.pk)
        if current.public_contact == contact:
            return False
        before = current.public_contact
        current.public_contact = contact
        current.save(update_fields=["public_contact"])
        audit.record(
            "partner.public_contact",
            actor=actor,
            organisation=current.institution,
            obj=current,
            summary={"before": before, "after": contact},
        )
    partner.public_contact = contact
    return True


def partners_end_expired(*, today: dt.date | None = None) -> int:
    """Daily: end the numbers of every partner whose entrustment has run out."""
    today = today or timezone.localdate()
    total = 0
    expired = Partner.objects.filter(valid_to__lt=today, numbers__status=Status.ACTIVE).distinct()
    for partner in expired:
        with transaction.atomic():
            total += _end_partner_numbers(partner, actor=audit.SYSTEM)
    return total


# --- single numbers (online) -----------------------------------------------------------


def _validated(institution: Organisation, fields: dict[str, str]) -> tuple:
    ctx = register.Context.for_institution(institution, today=timezone.localdate())
    result = register.validate_row(lambda column: (fields.get(column) or "").strip(), ctx)
    if result.errors:
        column, reason = result.errors[0]
        message = "；".join(f"{c}：{r}" for c, r in result.errors)
        error = PortalError(message, code="invalid_row", field=column)
        error.errors = result.errors  # every (column, reason), for forms to place each one
        raise error
    return result.values


def _insert(institution: Organisation, values: tuple, *, actor, job=None) -> RegisteredNumber:
    data = dict(zip(merging.NUMBER_COLUMNS, values, strict=True))
    return RegisteredNumber.objects.create(
        institution=institution,
        source_job=job,
        created_by=actor if getattr(actor, "pk", None) else None,
        **data,
    )


def number_register(
    *, actor, institution: Organisation, fields: dict[str, str]
) -> RegisteredNumber:
    """Register one number online, with the same validation as the 号码登记表."""
    _require_institution(institution)
    _require_writer(actor, institution)
    values = _validated(institution, fields)
    number = values[0]
    with transaction.atomic():
        merging.lock_merges()
        if RegisteredNumber.objects.filter(
            institution=institution, number=number, status=Status.ACTIVE
        ).exists():
            raise Conflict(f"号码 {number} 已在本机构登记在用，请修改原登记", field=register.NUMBER)
        row = _insert(institution, values, actor=actor)
        # Another institution may hold the number too (a shared agency line): registered,
        # marked 多机构登记 for the administration to verify, and nobody named (issue 9 §6).
        row.shared = RegisteredNumber.objects.with_shared_mark().get(pk=row.pk).shared
        summary = {"after": _number_summary(row)}
        if row.shared:
            summary["shared"] = True
        audit.record(
            "number.create", actor=actor, organisation=institution, obj=row, summary=summary
        )
    return row


def number_update(*, actor, number: RegisteredNumber, fields: dict[str, str]) -> RegisteredNumber:
    """Change a registration: the current row becomes history, a new row is active."""
    institution = number.institution
    _require_writer(actor, institution)
    if number.status != Status.ACTIVE:
        raise PortalError("只能修改在用的登记", code="not_active")
    values = _validated(institution, fields)
    if values[0] != number.number:
        raise PortalError(
            "不能修改号码本身；请终止原登记后新增", code="number_changed", field=register.NUMBER
        )
    with transaction.atomic():
        current = RegisteredNumber.objects.select_for_update().get(pk=number.pk)
        if current.status != Status.ACTIVE:
            raise Conflict("该登记已被他人修改或终止，请刷新后重试")
        if current.fingerprint == values[-1]:
            return current
        before = _number_summary(current)
        current.status = Status.SUPERSEDED
        current.closed_at = timezone.now()
        current.save(update_fields=["status", "closed_at"])
        row = _insert(institution, values, actor=actor)
        audit.record(
            "number.update",
            actor=actor,
            organisation=institution,
            obj=row,
            summary={"before": before, "after": _number_summary(row)},
        )
    return row


def number_end(
    *, actor, number: RegisteredNumber, end_date: dt.date, reason: str
) -> RegisteredNumber:
    """Take a number out of use: its end date is set; nothing is deleted."""
    _require_writer(actor, number.institution)
    if not reason.strip():
        raise PortalError("请填写终止原因", code="reason", field="reason")
    with transaction.atomic():
        current = RegisteredNumber.objects.select_for_update().get(pk=number.pk)
        if current.status != Status.ACTIVE:
            raise Conflict("该登记已终止或已被修改")
        if end_date < current.valid_from:
            raise PortalError(
                f"终止日期不能早于合作起始日期 {current.valid_from}",
                code="period",
                field="end_date",
            )
        current.status = Status.ENDED
        current.valid_to = end_date
        current.end_reason = reason.strip()[:200]
        current.closed_at = timezone.now()
        current.save(update_fields=["status", "valid_to", "end_reason", "closed_at"])
        audit.record(
            "number.end",
            actor=actor,
            organisation=current.institution,
            obj=current,
            summary={"valid_to": end_date, "reason": current.end_reason},
        )
    return current


def _number_summary(row: RegisteredNumber) -> dict:
    return {
        "number": row.number,
        "kind": row.kind,
        "purpose": row.purpose,
        "user": row.user_name,
        "carrier": row.carrier,
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
    }


# --- imports: the 号码登记表 through the upload engine (portal/spreadsheets) --------------

ImportRejected = UploadRejected
ImportSuperseded = UploadSuperseded


def import_job_create(
    *,
    actor,
    institution: Organisation,
    upload,
    original_name: str,
    mode: str = ImportMode.MERGE,
    enqueue: bool = True,
) -> tuple[UploadJob, bool]:
    """Accept an uploaded 号码登记表 (the engine's ``upload_job_create``: stored under a
    server-made name, inspected at once, the same content recognised by SHA-256)."""
    return upload_job_create(
        actor=actor,
        organisation=institution,
        form=register.FORM.code,
        upload=upload,
        original_name=original_name,
        options={"mode": mode},
        enqueue=enqueue,
    )


def import_job_run(*, job_id: int) -> UploadJob:
    """Run one register import end to end (the engine's ``upload_job_run``)."""
    return upload_job_run(job_id=job_id)


def import_job_fail(*, job_id: int, reason: str) -> None:
    """The engine's ``upload_job_fail``: the register is unchanged; the job says so."""
    upload_job_fail(job_id=job_id, reason=reason)


# --- signatures --------------------------------------------------------------------------

SIGNATURE_MAX = 40


def signature_text(text: str) -> str:
    """A signature as registered: brackets (【】, [], 〖〗) and spaces dropped, full-width
    folded (NFKC)."""
    import unicodedata

    folded = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in folded if ch not in "【】[]〖〗〔〕 \t\r\n")


def signature_add(*, actor, institution: Organisation, name: str, note: str = ""):
    """Register a name the institution signs its SMS with (domain.md "SMS signatures":
    trademark or filed app name). Adding the same name again is a no-op."""
    from .models import RegisteredSignature

    _require_institution(institution)
    _require_writer(actor, institution)
    clean = signature_text(name)
    if len(clean) < 2:
        raise PortalError("签名至少 2 个字", code="signature", field="name")
    if len(clean) > SIGNATURE_MAX:
        raise PortalError(f"签名不能超过 {SIGNATURE_MAX} 个字", code="signature", field="name")
    with transaction.atomic():
        existing = RegisteredSignature.objects.filter(
            institution=institution, name=clean, removed_at__isnull=True
        ).first()
        if existing is not None:
            return existing, False
        signature = RegisteredSignature.objects.create(
            institution=institution,
            name=clean,
            note=note.strip()[:200],
            created_by=None if audit.is_system(actor) else actor,
        )
        audit.record(
            "signature.add",
            actor=actor,
            organisation=institution,
            obj=signature,
            summary={"name": clean, "note": signature.note},
        )
    return signature, True


def signature_remove(*, actor, signature) -> None:
    """Take a registered signature out of use (the row stays, with its removal time)."""
    from .models import RegisteredSignature

    _require_writer(actor, signature.institution)
    with transaction.atomic():
        current = RegisteredSignature.objects.select_for_update().get(pk=signature.pk)
        if current.removed_at is not None:
            return
        current.removed_at = timezone.now()
        current.save(update_fields=["removed_at"])
        audit.record(
            "signature.remove",
            actor=actor,
            organisation=current.institution,
            obj=current,
            summary={"name": current.name},
        )
