"""Verbs on the number registry. Atomic, audited, permission-checked (style.md).

Institutions register every number, port and sub-port that they, their branches and their
entrusted partners use for marketing and collection (000 §三(一)1; 002 短信营销号码库).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from portal import audit
from portal.errors import Conflict, NotPermitted, PortalError, choices_text
from portal.models import Organisation, OrgKind

from .importers import errors as error_report
from .importers import merge as merging
from .importers import register
from .importers.files import FileFormat, FileRejected, inspect_upload
from .importers.files import _mb as size_text
from .importers.reader import ReadLimits
from .importers.sandbox import read_rows_isolated
from .models import (
    ImportJob,
    ImportMode,
    ImportStatus,
    Partner,
    Purpose,
    RegisteredNumber,
    Status,
)

log = logging.getLogger(__name__)
PROGRESS_EVERY = 20_000


class ImportRejected(PortalError):
    code = "import_rejected"


class ImportSuperseded(Exception):
    """A later attempt of the same job took over (the broker redelivered it, e.g. after this
    worker lost its connection): this attempt must not merge, the later one will."""


def read_rows(path: Path, fmt: FileFormat):
    """The upload's rows, parsed in a child process under the reader's memory and CPU
    limits (importers/sandbox.py): no file can take the worker down with it."""
    return read_rows_isolated(
        path,
        fmt,
        limits=ReadLimits(),
        max_memory_bytes=settings.IMPORT_READER_MAX_MEMORY_MB * 1024 * 1024,
        max_cpu_seconds=settings.IMPORT_READER_MAX_CPU_SECONDS,
    )


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
    if actor is None:
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
        target = existing or Partner(institution=institution, created_by=actor if actor else None)
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


def partners_end_expired(*, today: dt.date | None = None) -> int:
    """Daily: end the numbers of every partner whose entrustment has run out."""
    today = today or timezone.localdate()
    total = 0
    expired = Partner.objects.filter(valid_to__lt=today, numbers__status=Status.ACTIVE).distinct()
    for partner in expired:
        with transaction.atomic():
            total += _end_partner_numbers(partner, actor=None)
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


# --- imports ---------------------------------------------------------------------------


def _sha256(fileobj) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in (
        fileobj.chunks() if hasattr(fileobj, "chunks") else iter(lambda: fileobj.read(1 << 20), b"")
    ):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return digest.hexdigest(), size


def import_job_create(
    *,
    actor,
    institution: Organisation,
    upload,
    original_name: str,
    mode: str = ImportMode.MERGE,
    enqueue: bool = True,
) -> tuple[ImportJob, bool]:
    """Accept an uploaded 号码登记表. Returns ``(job, created)``.

    The file is stored under a server-made name and inspected at once (size, type,
    macros, encryption, zip bombs): a hostile file is a rejected job with a message, never
    a 500. The same content already imported (or queued) for this institution is recognised
    by its SHA-256 and returns that job instead of importing twice; a failed or rejected
    job does not count, nor does a queued or running one silent for
    ``IMPORT_STALE_SECONDS`` (it is failed, so that it can never merge, and the new upload
    gets a job of its own).
    """
    _require_institution(institution)
    _require_writer(actor, institution)
    if mode not in ImportMode.values:
        raise PortalError("导入方式应为 merge（合并）或 replace（替换）", code="mode")
    size = getattr(upload, "size", None)
    if size is not None and size > settings.UPLOAD_MAX_BYTES:
        # The same wording as inspect_upload's check (a limit under 1 MB is not "0 MB").
        raise ImportRejected(
            f"文件大小为 {size_text(size)}，超过上限 {size_text(settings.UPLOAD_MAX_BYTES)}，"
            "请拆分为多个文件后分批上传",
            code="too_large",
        )
    sha, size = _sha256(upload)
    name = os.path.basename(original_name or "upload")[:255]
    with transaction.atomic():
        previous = (
            ImportJob.objects.select_for_update()
            .filter(
                institution=institution,
                sha256=sha,
                mode=mode,
                status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.DONE],
            )
            .first()
        )
        if previous is not None and _stale(previous):
            _finish(
                previous,
                ImportStatus.FAILED,
                "导入失败，号码登记未作任何修改：任务长时间无进展，已由重新上传的同一文件取代",
            )
            previous = None
        if previous is not None:
            return previous, False
        job = ImportJob(
            institution=institution,
            created_by=actor,
            mode=mode,
            original_name=name,
            size=size,
            sha256=sha,
        )
        job.file.save(name, File(upload, name=name), save=False)
        try:
            inspect_upload(job.file.path, original_name=name, max_bytes=settings.UPLOAD_MAX_BYTES)
        except FileRejected as exc:
            job.status = ImportStatus.REJECTED
            job.message = exc.message
            job.finished_at = timezone.now()
        job.save()
        audit.record(
            "import.upload",
            actor=actor,
            organisation=institution,
            obj=job,
            summary={"file": name, "size": size, "sha256": sha, "mode": mode, "status": job.status},
        )
        if enqueue and job.status == ImportStatus.QUEUED:
            transaction.on_commit(lambda: _enqueue(job.pk))
    return job, True


def _stale(job: ImportJob) -> bool:
    if job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return False
    silent = timezone.now() - job.heartbeat_at
    return silent.total_seconds() > settings.IMPORT_STALE_SECONDS


def duplicate_message(job: ImportJob) -> str:
    """What to tell a user who uploads content already uploaded (same SHA-256)."""
    when = timezone.localtime(job.created_at)
    return (
        f"该文件已于 {when:%Y-%m-%d %H:%M} 上传（导入任务 {job.pk}，{job.get_status_display()}），"
        "未重复导入"
    )


def _enqueue(job_id: int) -> None:
    """Hand the job to a worker; if the broker is unreachable the job says so (failed)
    instead of waiting in the queue for ever and blocking a re-upload of the same file."""
    from .tasks import run_import_job

    try:
        run_import_job.delay(job_id)
    except Exception:  # noqa: BLE001 - any broker failure ends the same way
        log.exception("could not enqueue import job %s", job_id)
        import_job_fail(job_id=job_id, reason="后台任务队列暂时不可用，请稍后重新上传")


def _progress(job: ImportJob, **fields) -> None:
    fields.setdefault("heartbeat_at", timezone.now())
    ImportJob.objects.filter(pk=job.pk).update(**fields)
    for key, value in fields.items():
        setattr(job, key, value)


def import_job_run(*, job_id: int) -> ImportJob:
    """Run one import end to end; safe to call again for the same job (acks late).

    A finished job is returned as it is. Anything else starts from scratch: staging of an
    earlier, interrupted attempt is cleared first, and the registry changes only in the
    final transaction, which also marks the job done.

    A job found "running" was left so by an attempt that never came back (its worker
    died: acks late and reject on worker loss redeliver it). After
    ``IMPORT_MAX_LOST_ATTEMPTS`` such losses the job fails with a message instead of being
    run again: a file that kills its worker must not do so for ever.
    """
    job = ImportJob.objects.select_related("institution", "created_by").get(pk=job_id)
    if job.is_finished:
        return job
    with transaction.atomic():
        state = ImportJob.objects.select_for_update().values("status", "lost_attempts")
        state = state.get(pk=job.pk)
        if state["status"] not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
            job.refresh_from_db()
            return job
        lost = state["lost_attempts"] + int(state["status"] == ImportStatus.RUNNING)
        run_again = lost < settings.IMPORT_MAX_LOST_ATTEMPTS
        # Claim the job: the attempt number is taken atomically, and only the attempt that
        # holds the newest number may merge (checked under a row lock in ``_run``).
        ImportJob.objects.filter(pk=job.pk).update(
            attempts=F("attempts") + (1 if run_again else 0),
            lost_attempts=lost,
        )
    job.refresh_from_db()
    merging.clear_staging(job.pk)
    if not run_again:
        log.error("import job %s: %s attempts lost, not run again", job.pk, lost)
        _finish(
            job,
            ImportStatus.FAILED,
            f"导入失败，号码登记未作任何修改：处理该文件的后台进程已 {lost} 次意外终止，"
            "已停止重试。请检查文件（如远离表格的单元格、超大的工作表）后重新上传；"
            "如仍失败，请联系平台运维",
        )
        return job
    _progress(job, status=ImportStatus.RUNNING, started_at=timezone.now(), rows_done=0)
    try:
        _run(job)
    except ImportSuperseded:
        log.warning("import job %s attempt %s superseded by a later attempt", job.pk, job.attempts)
        job.refresh_from_db()
    except ImportRejected as exc:
        merging.clear_staging(job.pk)
        _finish(job, ImportStatus.REJECTED, exc.message)
    except FileRejected as exc:
        merging.clear_staging(job.pk)
        _finish(job, ImportStatus.REJECTED, exc.message)
    return job


def import_job_requeue(*, job_id: int) -> None:
    """The task caught an error and will retry: this attempt ended (it was not lost), so
    the next one does not count against IMPORT_MAX_LOST_ATTEMPTS."""
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(
        status=ImportStatus.QUEUED, heartbeat_at=timezone.now()
    )


def import_job_fail(*, job_id: int, reason: str) -> None:
    """The task gave up (retries exhausted): the registry is unchanged; say so."""
    merging.clear_staging(job_id)
    job = ImportJob.objects.get(pk=job_id)
    if not job.is_finished:
        _finish(job, ImportStatus.FAILED, f"导入失败，号码登记未作任何修改：{reason}")


def _finish(job: ImportJob, status: str, message: str) -> None:
    with transaction.atomic():
        _progress(job, status=status, message=message, finished_at=timezone.now())
        audit.record(
            f"import.{status}",
            actor=job.created_by,
            organisation=job.institution,
            obj=job,
            summary={"rows": job.rows_total, "errors": job.error_count, "message": message[:200]},
        )


def _count_rows(path: Path, fmt: FileFormat) -> int:
    if fmt == FileFormat.CSV:
        with open(path, "rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return 0


def _start(job: ImportJob, sheet, path: Path, fmt: FileFormat):
    """Find the header row; the job learns its row total and the reader's warnings."""
    header = register.find_register_header(sheet)
    total = getattr(sheet, "total_rows", None) or _count_rows(path, fmt)
    _progress(
        job,
        rows_total=max(total - header.row_number, 0),
        warnings=sheet.warnings + header.warnings,
    )
    return header


def _run(job: ImportJob) -> None:
    path = Path(job.file.path)
    fmt = inspect_upload(path, original_name=job.original_name, max_bytes=settings.UPLOAD_MAX_BYTES)
    ctx = register.Context.for_institution(job.institution, today=timezone.localdate())
    if connection.vendor == "postgresql":
        rows, bad = _run_pipelined(job, path, fmt, ctx)
        if bad is None:
            return
        _reject(job, path, fmt, bad)
        return
    bad: dict[int, list[tuple[str, str]]] = {}
    rows = 0
    with read_rows(path, fmt) as sheet, register.StagingWriter(job.pk) as writer:
        header = _start(job, sheet, path, fmt)
        columns = header.columns
        for row in header.data_rows:
            result = register.validate_cells(row.cells, columns, ctx)
            rows += 1
            if result.errors:
                bad[row.number] = result.errors
            elif not bad:
                writer.add(row.number, result.values, result.copy_tail)
            if rows % PROGRESS_EVERY == 0:
                _progress(job, rows_done=rows)
    merging.refresh_statistics()
    _progress(job, rows_done=rows, rows_total=rows)
    if rows == 0:
        raise ImportRejected("文件中没有数据行（表头下方为空）", code="no_rows")
    with transaction.atomic():
        merging.lock_merges()
        _claim(job)
        if not bad:
            _duplicates_and_conflicts(job, bad)
        if not bad:
            counts = merging.merge(
                job_id=job.pk,
                institution_id=job.institution_id,
                replace=job.mode == ImportMode.REPLACE,
                actor_id=job.created_by_id,
                today=timezone.localdate(),
            )
            merging.clear_staging(job.pk)
            _done(job, rows, counts)
            return
    _reject(job, path, fmt, bad)


def _duplicates_and_conflicts(
    job: ImportJob, bad: dict, conflicts=None, *, duplicates: bool = True
) -> None:
    """Rows repeating a number of the file (``duplicates``: whether any may), then rows
    whose number another institution has in use (``conflicts``: already found batch by
    batch; else asked of the staging table)."""
    for row_no, number, first in merging.duplicate_rows(job.pk) if duplicates else ():
        bad.setdefault(row_no, []).append(
            (register.NUMBER, f"号码 {number} 在文件中重复（与第 {first} 行相同）")
        )
    if conflicts is None:
        conflicts = merging.conflicting_rows(job.pk, job.institution_id)
    for row_no, number, _other in conflicts:
        bad.setdefault(row_no, []).append((register.NUMBER, f"号码 {number} 已由其他机构登记在用"))


def _claim(job: ImportJob) -> None:
    """Under the merge lock: only the attempt holding the newest attempt number merges."""
    claimed = (
        ImportJob.objects.select_for_update()
        .filter(pk=job.pk, status=ImportStatus.RUNNING, attempts=job.attempts)
        .exists()
    )
    if not claimed:
        raise ImportSuperseded(job.pk)


def _done(job: ImportJob, rows: int, counts: merging.MergeCounts) -> None:
    """The end of the merge transaction: the job is done and says so, audited."""
    message = (
        f"已导入 {rows} 行：新增 {counts.created}，变更 {counts.updated}，"
        f"未变 {counts.unchanged}，终止 {counts.ended}"
    )
    _progress(
        job,
        status=ImportStatus.DONE,
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
        ended=counts.ended,
        message=message,
        finished_at=timezone.now(),
    )
    audit.record(
        "import.done",
        actor=job.created_by,
        organisation=job.institution,
        obj=job,
        summary={
            "rows": rows,
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "ended": counts.ended,
            "mode": job.mode,
        },
    )


def _run_pipelined(job: ImportJob, path: Path, fmt, ctx) -> tuple[int, dict | None]:
    """PostgreSQL: validate on a thread of its own while this thread merges the batches
    already validated, all in the one transaction that also marks the job done. The merge
    lock is held from the first batch on (an invalid row releases it at once: nothing will
    be merged). Any row error (invalid, repeated, in use by another institution) rolls
    everything back: ``(rows, bad)``; merged: ``(rows, None)``.
    """
    merging.refresh_statistics()  # statistics of the tables this import reads
    replace = job.mode == ImportMode.REPLACE
    today = timezone.localdate()
    with read_rows(path, fmt) as sheet, register.StagingWriter(job.pk) as writer:
        header = _start(job, sheet, path, fmt)
        feed = register.ValidatingFeed(
            header.data_rows,
            header.columns,
            ctx,
            writer,
            progress=lambda rows: _progress(job, rows_done=rows),
            progress_every=PROGRESS_EVERY,
        )
        counts = merging.MergeCounts()
        conflicts: list[tuple[int, str, str]] = []
        with feed, transaction.atomic():
            merging.lock_merges()
            merging.begin_batches()
            # An institution's first register: every row is new (checked under the lock).
            first_register = not merging.has_active_numbers(job.institution_id)
            for batch in feed:
                merging.stage_batch(batch.data)
                conflicts += merging.conflicting_rows(
                    job.pk, job.institution_id, source=merging.BATCH
                )
                if batch.mergeable and not conflicts:
                    step = merging.merge(
                        job_id=job.pk,
                        institution_id=job.institution_id,
                        replace=False,
                        actor_id=job.created_by_id,
                        today=today,
                        source=merging.BATCH,
                        staged=batch.size,
                        all_new=first_register,
                    )
                    counts.created += step.created
                    counts.updated += step.updated
                    counts.unchanged += step.unchanged
            if feed.rejected:
                # An invalid row: nothing is merged. Leave the transaction (and the merge
                # lock) now; the rest of the file is validated below, for the error report.
                transaction.set_rollback(True)
            else:
                feed.finish()
                merging.end_batches()
                writer.finish()
                rows, bad = feed.rows, feed.bad
                if rows:
                    _claim(job)
                if rows and not bad and (feed.duplicates or conflicts):
                    _duplicates_and_conflicts(job, bad, conflicts, duplicates=feed.duplicates)
                if rows and not bad:
                    if replace:
                        counts.ended = merging.end_absent_numbers(
                            job_id=job.pk, institution_id=job.institution_id, today=today
                        )
                    merging.clear_staging(job.pk)
                    _progress(job, rows_done=rows, rows_total=rows)
                    _done(job, rows, counts)
                    return rows, None
                transaction.set_rollback(True)
        rows, bad = feed.rows, feed.bad
        if feed.rejected:
            with transaction.atomic():  # a later attempt took over: it reports, not this one
                merging.lock_merges()
                _claim(job)
    _progress(job, rows_done=rows, rows_total=rows)
    if rows == 0:
        raise ImportRejected("文件中没有数据行（表头下方为空）", code="no_rows")
    return rows, bad


def _reject(job: ImportJob, path: Path, fmt, bad: dict) -> None:
    """Rejected: write the error workbook from a second read of the file (only the bad
    rows) and raise."""
    report_name = f"{Path(job.original_name).stem}-错误报告.xlsx"
    tmp = Path(settings.MEDIA_ROOT) / "tmp" / f"errors-{job.pk}.xlsx"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with read_rows(path, fmt) as sheet:
        header = register.find_register_header(sheet)
        # Only the form's columns are echoed, in the file's order: never the thousands of
        # unknown ones a hostile file may carry.
        known = sorted(header.columns.values())
        error_report.write_error_workbook(
            tmp,
            headers=[header.headers[i] for i in known],
            rows=(
                (row.number, _known_cells(row.cells, known), bad[row.number])
                for row in header.data_rows
                if row.number in bad
            ),
        )
    with open(tmp, "rb") as fh:
        job.error_report.save(report_name, File(fh, name=report_name), save=False)
    tmp.unlink(missing_ok=True)
    _progress(job, error_report=job.error_report.name, error_count=len(bad))
    raise ImportRejected(
        f"文件中有 {len(bad)} 行错误，未导入任何数据。请下载错误报告，修改后重新上传。",
        code="row_errors",
    )


def _known_cells(cells: list[str], known: list[int]) -> list[str]:
    n = len(cells)
    return [cells[i] if i < n else "" for i in known]
