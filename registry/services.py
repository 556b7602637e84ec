"""Verbs on the number registry. Atomic, audited, permission-checked (style.md).

Institutions register every number, port and sub-port that they, their branches and their
entrusted partners use for marketing and collection (000 §三(一)1; 002 短信营销号码库).
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from portal import audit, workdays
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
from .importers import service_report as report_importer
from .models import (
    OPEN_STATUSES,
    ImportMode,
    ObjectMatch,
    Partner,
    Purpose,
    RegisteredNumber,
    ReportStatus,
    ServiceReport,
    ServiceReportLine,
    Status,
)

log = logging.getLogger(__name__)
REPORT_STARTS = ("empty", "previous", "latest")
RETURN_REASON_MAX = 1000


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


# --- carriers' quarterly service-object reports (000 §三(一)2; issue 11) -----------------


def report_write_denial(user, carrier_id: int | None = None) -> NotPermitted | None:
    """The one rule for who writes a service-object report: the carrier's own 管理员 and
    经办人 (000 §三(一)2: the carrier reports its own services). Pages, API and services."""
    if not user.is_carrier:
        return NotPermitted(
            "服务对象报送由电信运营商填报；您所在单位可以查看，不能修改", code="not_carrier"
        )
    if carrier_id is not None and carrier_id != user.organisation_id:
        return NotPermitted("只能报送本单位的服务对象", code="not_own_carrier")
    if not user.can_write:
        return NotPermitted(
            f"您的角色为“{user.get_role_display()}”：可以查看本单位的报送，不能修改；"
            "如需报送，请联系本单位管理员调整角色",
            code="viewer_read_only",
        )
    return None


def review_denial(user) -> NotPermitted | None:
    """Who accepts or returns a report: the administration's 管理员 and 经办人."""
    if not user.is_regulator or not user.can_write:
        return NotPermitted("只有通信管理局的管理员或经办人可以审核报送", code="not_reviewer")
    return None


def _require_report_writer(actor, carrier: Organisation) -> None:
    if carrier.kind != OrgKind.CARRIER:
        raise PortalError("只有电信运营商报送服务对象", code="not_carrier")
    if audit.is_system(actor):
        return
    denial = report_write_denial(actor, carrier.pk)
    if denial is not None:
        raise denial


def _require_reviewer(actor) -> None:
    if audit.is_system(actor):
        return
    denial = review_denial(actor)
    if denial is not None:
        raise denial


def _report_summary(report: ServiceReport) -> dict:
    return {
        "quarter": report.quarter_code,
        "version": report.version,
        "status": report.status,
        "lines": report.line_count,
        "flagged": report.flagged_count,
    }


def _report_url(report: ServiceReport) -> str:
    from django.urls import reverse

    return reverse("service_report_detail", args=[report.pk])


def report_recount(report_id: int) -> None:
    total, flagged = report_importer.line_counts(report_id)
    ServiceReport.objects.filter(pk=report_id).update(
        line_count=total, flagged_count=flagged, updated_at=timezone.now()
    )


def rematch_flagged(report_id: int) -> None:
    """Lines copied from an earlier version whose service object (or institution) was
    unknown then: matched again, set-based, against the organisations known now."""
    from django.db import connection

    known, unknown = ObjectMatch.ORGANISATION.value, ObjectMatch.UNKNOWN.value
    with connection.cursor() as cursor:
        for column in ("object", "institution"):
            cursor.execute(
                f"""
                UPDATE registry_servicereportline SET {column}_match = %s,
                    {column}_org_id = (SELECT o.id FROM portal_organisation o
                                       WHERE o.credit_code = {column}_credit_code)
                WHERE report_id = %s AND {column}_match = %s AND EXISTS (
                    SELECT 1 FROM portal_organisation o WHERE o.credit_code = {column}_credit_code)
                """,  # noqa: S608 - column names are constants
                [known, report_id, unknown],
            )


def service_report_create(
    *, actor, carrier: Organisation, year: int, quarter: int, start_from: str = "empty"
) -> ServiceReport:
    """Open a new draft version of ``carrier``'s report for a quarter (issue 11 §2).

    ``start_from``: ``empty``; ``previous`` (the previous quarter's latest accepted version,
    to edit online); ``latest`` (this quarter's latest version: a correction after
    submission, or a returned report). A quarter has at most one open version (a draft, or
    one submitted and not yet reviewed): the database refuses a second.
    """
    _require_report_writer(actor, carrier)
    if start_from not in REPORT_STARTS:
        raise PortalError("起始方式应为 empty、previous 或 latest", code="start_from")
    deadline = workdays.quarterly_report_deadline(year, quarter)
    with transaction.atomic():
        Organisation.objects.select_for_update().filter(pk=carrier.pk).first()
        versions = ServiceReport.objects.filter(carrier=carrier, year=year, quarter=quarter)
        open_version = versions.filter(status__in=OPEN_STATUSES).first()
        if open_version is not None:
            raise Conflict(
                f"{open_version}{open_version.get_status_display()}，"
                + (
                    "请继续编辑该草稿"
                    if open_version.status == ReportStatus.DRAFT
                    else "待管理局审核"
                ),
                code="report_open",
            )
        source = None
        if start_from == "previous":
            prev_year, prev_quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
            source = latest_accepted(carrier, prev_year, prev_quarter)
            if source is None:
                raise PortalError(
                    f"{prev_year} 年第 {prev_quarter} 季度没有已受理的报送，不能以其为起点",
                    code="no_previous",
                )
        elif start_from == "latest":
            source = versions.order_by("-version").first()
            if source is None:
                raise PortalError("本季度还没有报送版本", code="no_latest")
        version = (versions.order_by("-version").values_list("version", flat=True).first() or 0) + 1
        now = timezone.now()
        report = ServiceReport.objects.create(
            carrier=carrier,
            year=year,
            quarter=quarter,
            version=version,
            based_on=source,
            deadline=deadline,
            created_by=None if audit.is_system(actor) else actor,
            created_at=now,
            updated_at=now,
        )
        if source is not None:
            _copy_lines(source.pk, report.pk)
            rematch_flagged(report.pk)
            report_recount(report.pk)
            report.refresh_from_db()
        audit.record(
            "report.create",
            actor=actor,
            organisation=carrier,
            obj=report,
            summary={**_report_summary(report), "based_on": source.pk if source else None},
        )
    return report


def _copy_lines(source_id: int, report_id: int) -> None:
    from django.db import connection

    columns = ", ".join(report_importer.VALUE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO registry_servicereportline (report_id, row_no, {columns})
            SELECT %s, row_no, {columns} FROM registry_servicereportline WHERE report_id = %s
            """,  # noqa: S608 - column names are constants
            [report_id, source_id],
        )


def latest_accepted(carrier: Organisation, year: int, quarter: int) -> ServiceReport | None:
    """The version that counts: the latest accepted one (issue 11 §1)."""
    return (
        ServiceReport.objects.filter(
            carrier=carrier, year=year, quarter=quarter, status=ReportStatus.ACCEPTED
        )
        .order_by("-version")
        .first()
    )


def service_report_upload(
    *,
    actor,
    carrier: Organisation,
    year: int,
    quarter: int,
    upload,
    original_name: str,
    enqueue: bool = True,
) -> tuple[ServiceReport, UploadJob, bool]:
    """Upload a 服务对象报送表 into the quarter's draft (a new empty draft version when the
    quarter has none): the engine checks the file and, in one transaction, replaces the
    draft's lines with the file's, or leaves them as they were (issue 11 §2)."""
    _require_report_writer(actor, carrier)
    report = (
        ServiceReport.objects.filter(carrier=carrier, year=year, quarter=quarter)
        .filter(status__in=OPEN_STATUSES)
        .first()
    )
    if report is None:
        report = service_report_create(actor=actor, carrier=carrier, year=year, quarter=quarter)
    elif report.status != ReportStatus.DRAFT:
        raise Conflict(f"{report}已提交，待管理局审核；审核后可新建版本更正", code="report_open")
    job, created = upload_job_create(
        actor=actor,
        organisation=carrier,
        form=report_importer.FORM.code,
        upload=upload,
        original_name=original_name,
        options={"report": report.pk, "quarter": report.quarter_code},
        enqueue=enqueue,
    )
    return report, job, created


def _draft_for_edit(actor, report: ServiceReport) -> ServiceReport:
    _require_report_writer(actor, report.carrier)
    locked = ServiceReport.objects.select_for_update().get(pk=report.pk)
    if locked.status != ReportStatus.DRAFT:
        raise PortalError(
            f"{locked}{locked.get_status_display()}，不能修改；如需更正，请新建版本",
            code="report_not_draft",
        )
    return locked


def line_fields(line: ServiceReportLine) -> dict[str, str]:
    """A line as the form's cells (the online editor starts from these)."""
    r = report_importer
    return {
        r.NUMBER: line.number,
        r.KIND: "子端口" if line.is_sub_port else line.get_kind_display(),
        r.MAIN_PORT: line.main_port,
        r.OBJECT: line.object_name,
        r.OBJECT_CODE: line.object_credit_code,
        r.INSTITUTION: line.institution_name,
        r.INSTITUTION_CODE: line.institution_credit_code,
        r.PURPOSE: line.get_purpose_display(),
        r.DOCUMENT: line.document_number,
        r.VALID_FROM: line.valid_from.isoformat(),
        r.VALID_TO: line.valid_to.isoformat() if line.valid_to else "",
    }


def _line_summary(line: ServiceReportLine) -> dict:
    return {
        "number": line.number,
        "object": line.object_name,
        "object_credit_code": line.object_credit_code,
        "institution": line.institution_name,
        "purpose": line.purpose,
        "document_number": line.document_number,
        "valid_from": line.valid_from,
        "valid_to": line.valid_to,
    }


def service_report_line_save(
    *,
    actor,
    report: ServiceReport,
    fields: dict[str, str],
    line: ServiceReportLine | None = None,
    action: str = "",
) -> ServiceReportLine:
    """Add a line to a draft, or change one, with the same validation as the file
    (issue 11 §2: edit online). ``fields``: the form's columns (Chinese names) -> text."""
    ctx = report_importer.Context.load()
    result = report_importer.validate_row(lambda c: str(fields.get(c) or "").strip(), ctx)
    if result.errors:
        column, _ = result.errors[0]
        raise PortalError("；".join(reason for _, reason in result.errors), field=column)
    values = dict(zip(report_importer.VALUE_COLUMNS, result.values, strict=True))
    with transaction.atomic():
        report = _draft_for_edit(actor, report)
        same = ServiceReportLine.objects.filter(report=report, number=values["number"])
        if line is not None:
            line = ServiceReportLine.objects.select_for_update().get(pk=line.pk, report=report)
            same = same.exclude(pk=line.pk)
        if same.exists():
            raise PortalError(
                f"号码 {values['number']} 已在本报送中",
                code="duplicate",
                field=report_importer.NUMBER,
            )
        before = _line_summary(line) if line is not None else None
        if line is None:
            line = ServiceReportLine(report=report, row_no=0)
        elif line.fingerprint == values["fingerprint"] and line.number == values["number"]:
            return line  # unchanged: nothing to write or audit
        for name, value in values.items():
            setattr(line, name, value)
        line.save()
        report_recount(report.pk)
        audit.record(
            action or ("report.line_change" if before else "report.line_add"),
            actor=actor,
            organisation=report.carrier,
            obj=report,
            summary={"before": before, "after": _line_summary(line)}
            if before
            else _line_summary(line),
        )
    return line


def service_report_line_end(
    *, actor, report: ServiceReport, line: ServiceReportLine, end_date: dt.date
) -> ServiceReportLine:
    """End a line: its cooperation ends on ``end_date`` (合作截止日期); the line stays."""
    fields = line_fields(line)
    fields[report_importer.VALID_TO] = end_date.isoformat()
    return service_report_line_save(
        actor=actor, report=report, fields=fields, line=line, action="report.line_end"
    )


def service_report_line_delete(*, actor, report: ServiceReport, line: ServiceReportLine) -> None:
    """Take a line out of a draft (e.g. entered by mistake)."""
    with transaction.atomic():
        report = _draft_for_edit(actor, report)
        line = ServiceReportLine.objects.select_for_update().get(pk=line.pk, report=report)
        summary = _line_summary(line)
        line.delete()
        report_recount(report.pk)
        audit.record(
            "report.line_delete",
            actor=actor,
            organisation=report.carrier,
            obj=report,
            summary=summary,
        )


def service_report_submit(*, actor, report: ServiceReport) -> ServiceReport:
    """Submit a draft. Due by the end of the 5th working day before the quarter's last day
    (000 §三(一)2; workdays.quarterly_report_deadline): a late report is accepted and marked
    late by how many working days (issue 11 §2). The administration is notified."""
    from portal.notices import notice_send

    with transaction.atomic():
        report = _draft_for_edit(actor, report)
        if report.line_count == 0:
            raise PortalError("报送中没有任何号码，不能提交", code="report_empty")
        now = timezone.now()
        report.status = ReportStatus.SUBMITTED
        report.submitted_at = now
        report.submitted_by = None if audit.is_system(actor) else actor
        report.late_working_days = workdays.working_days_late(report.deadline, now)
        report.updated_at = now
        report.save()
        audit.record(
            "report.submit",
            actor=actor,
            organisation=report.carrier,
            obj=report,
            summary={**_report_summary(report), "late_working_days": report.late_working_days},
        )
        late = f"，逾期 {report.late_working_days} 个工作日" if report.late_working_days else ""
        for regulator in Organisation.objects.filter(kind=OrgKind.REGULATOR, is_active=True):
            notice_send(
                actor=actor,
                organisation=regulator,
                kind="report.submitted",
                title=f"{report.carrier.name}提交了{report.quarter_display}服务对象报送"
                f"（第 {report.version} 版）",
                body=f"共 {report.line_count} 行{late}。请审核。",
                url=_report_url(report),
            )
    return report


def _reviewable(actor, report: ServiceReport) -> ServiceReport:
    _require_reviewer(actor)
    locked = ServiceReport.objects.select_for_update().select_related("carrier").get(pk=report.pk)
    if locked.status != ReportStatus.SUBMITTED:
        raise PortalError(
            f"{locked}{locked.get_status_display()}，只有已提交的报送可以审核", code="not_submitted"
        )
    return locked


def service_report_accept(*, actor, report: ServiceReport) -> ServiceReport:
    """The administration accepts a submitted version: it is the one that counts."""
    from portal.notices import notice_send

    with transaction.atomic():
        report = _reviewable(actor, report)
        report.status = ReportStatus.ACCEPTED
        report.reviewed_at = report.updated_at = timezone.now()
        report.reviewed_by = None if audit.is_system(actor) else actor
        report.save(update_fields=["status", "reviewed_at", "reviewed_by", "updated_at"])
        audit.record(
            "report.accept",
            actor=actor,
            organisation=report.carrier,
            obj=report,
            summary=_report_summary(report),
        )
        notice_send(
            actor=actor,
            organisation=report.carrier,
            kind="report.accepted",
            title=f"{report.quarter_display}服务对象报送（第 {report.version} 版）已受理",
            body="通信管理局已受理本单位的报送。",
            url=_report_url(report),
        )
    return report


def service_report_return(*, actor, report: ServiceReport, reason: str) -> ServiceReport:
    """Return a submitted version with a reason; the carrier corrects it in a new version
    and submits again (issue 11 §4)."""
    from portal.notices import notice_send

    reason = (reason or "").strip()
    if not reason:
        raise PortalError("请填写退回原因", code="reason_required", field="reason")
    if len(reason) > RETURN_REASON_MAX:
        raise PortalError(f"退回原因不能超过 {RETURN_REASON_MAX} 字", field="reason")
    with transaction.atomic():
        report = _reviewable(actor, report)
        report.status = ReportStatus.RETURNED
        report.reviewed_at = report.updated_at = timezone.now()
        report.reviewed_by = None if audit.is_system(actor) else actor
        report.return_reason = reason
        report.save(
            update_fields=["status", "reviewed_at", "reviewed_by", "return_reason", "updated_at"]
        )
        audit.record(
            "report.return",
            actor=actor,
            organisation=report.carrier,
            obj=report,
            summary={**_report_summary(report), "reason": reason},
        )
        notice_send(
            actor=actor,
            organisation=report.carrier,
            kind="report.returned",
            title=f"{report.quarter_display}服务对象报送（第 {report.version} 版）被退回",
            body=f"退回原因：{reason}\n请修改后新建版本重新提交。",
            url=_report_url(report),
        )
    return report


def carriers_not_submitted(year: int, quarter: int):
    """Active carriers with no submitted or accepted version for the quarter (a returned
    or draft one does not count), set-based."""
    done = ServiceReport.objects.filter(
        carrier=OuterRef("pk"),
        year=year,
        quarter=quarter,
        status__in=[ReportStatus.SUBMITTED, ReportStatus.ACCEPTED],
    )
    return Organisation.objects.filter(kind=OrgKind.CARRIER, is_active=True).exclude(Exists(done))


def service_report_reminders_send(*, today: dt.date) -> int:
    """Remind every carrier that has not submitted the quarter's report: 3 working days
    before it is due and again on the due day, each reminder once (000 §三(一)2;
    domain.md: remind 3 working days before; issue 11 §3). In the app and by e-mail (the
    notice centre); one ``ReminderSent`` row per carrier and reminder makes a second run send
    nothing; each is audited (``notice.reminder``), recipients counted, never listed."""
    from django.db import IntegrityError

    from portal.audit import SYSTEM
    from portal.models import ReminderSent
    from portal.notices import notice_send, recipients_of

    try:
        year, quarter, due = workdays.next_quarterly_deadline(today)
        remind_from = workdays.working_days_before(due.date(), workdays.REMINDER_WORKING_DAYS)[-1]
    except workdays.CalendarYearMissing as exc:
        log.warning("report reminders skipped: %s", exc.message)
        return 0
    if today == due.date():
        key, title = f"quarterly-{year}Q{quarter}-due", "【今日截止】"
    elif remind_from <= today:
        key, title = f"quarterly-{year}Q{quarter}", "【提醒】"
    else:
        return 0
    title += f"{year} 年第 {quarter} 季度服务对象报送截止：{due:%Y-%m-%d}"
    from django.urls import reverse

    url = reverse("service_report_list")
    sent = 0
    for org in carriers_not_submitted(year, quarter).exclude(
        Exists(ReminderSent.objects.filter(organisation=OuterRef("pk"), key=key))
    ):
        people = recipients_of(org)
        addresses = {u.email for u in people if u.email} | (
            {org.contact_email} if org.contact_email else set()
        )
        if not people and not addresses:
            continue
        try:
            with transaction.atomic():
                ReminderSent.objects.create(organisation=org, key=key)
                notice_send(
                    actor=SYSTEM,
                    organisation=org,
                    kind="report.reminder",
                    title=title,
                    body=f"{org.name}：\n\n请于 {due:%Y 年 %m 月 %d 日} 24 时前在平台提交 "
                    f"{year} 年第 {quarter} 季度金融营销催收号码服务对象报送"
                    "（季度末前 5 个工作日）。",
                    url=url,
                    audit_action="notice.reminder",
                    audit_summary={"key": key, "due": due.date(), "recipients": len(addresses)},
                )
        except IntegrityError:
            continue  # sent already (the beat ran twice, or another worker won)
        sent += 1
    return sent
