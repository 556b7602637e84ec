"""The upload engine's services: accept an upload (``upload_job_create``), run it
(``upload_job_run``), give up on it (``upload_job_fail``). One orchestration for every form
and for both databases (issue 9 item 7; architecture.md, "Data flow"):

inspect the file -> read it in a child process (sandbox.py) -> validate every row on a
thread of its own (RowFeed) -> in ONE transaction, under the form's lock: stage each batch
of valid rows and run its set-level checks, merge it while the file has no error -> the job
is done with counts; or rolled back and rejected with ONE error workbook naming every bad
row: row errors, repeats within the file and set-level conflicts, in row order (item 4).

While the database stages and merges batch k, the validating thread validates batch k+1
(the database driver releases the GIL while it waits on the server) and the child process
parses ahead on the other core. The databases differ only in how a batch is staged
(staging.load_batch) and in where progress is written (below, ``_Progress``).

Exactly once: a redelivered task claims a new attempt number atomically; only the attempt
holding the newest number may merge (checked under the form's lock, ``_claim``).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from portal import audit
from portal.errors import PortalError
from portal.masking import mask_contact

from . import errors as error_workbook
from .files import FileFormat, FileRejected, inspect_upload, size_text
from .form import Batch, FormStaging, SpreadsheetForm, ValidRow, get_form, valid_row
from .models import UploadJob, UploadStatus
from .reader import ReadLimits
from .sandbox import read_rows_isolated
from .staging import copy_head, copy_line

log = logging.getLogger(__name__)
PROGRESS_EVERY = 20_000
BATCH_ROWS = 20_000


class UploadRejected(PortalError):
    code = "import_rejected"


class UploadSuperseded(Exception):
    """A later attempt of the same job took over (the broker redelivered it, e.g. after this
    worker lost its connection): this attempt must not merge, the later one will."""


def read_rows(path: Path, fmt: FileFormat):
    """The upload's rows, parsed in a child process under the reader's memory and CPU
    limits (sandbox.py): no file can take the worker down with it."""
    return read_rows_isolated(
        path,
        fmt,
        limits=ReadLimits(),
        max_memory_bytes=settings.IMPORT_READER_MAX_MEMORY_MB * 1024 * 1024,
        max_cpu_seconds=settings.IMPORT_READER_MAX_CPU_SECONDS,
    )


# --- accepting an upload ----------------------------------------------------------------


def _sha256(fileobj) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    chunks = (
        fileobj.chunks() if hasattr(fileobj, "chunks") else iter(lambda: fileobj.read(1 << 20), b"")
    )
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return digest.hexdigest(), size


def _stale(job: UploadJob) -> bool:
    if job.status not in (UploadStatus.QUEUED, UploadStatus.RUNNING):
        return False
    silent = timezone.now() - job.heartbeat_at
    return silent.total_seconds() > settings.IMPORT_STALE_SECONDS


def upload_job_create(
    *,
    actor,
    organisation,
    form: str,
    upload,
    original_name: str,
    options: dict | None = None,
    enqueue: bool = True,
) -> tuple[UploadJob, bool]:
    """Accept an uploaded file of ``form``. Returns ``(job, created)``.

    The file is stored under a server-made name and inspected at once (size, type,
    macros, encryption, zip bombs): a hostile file is a rejected job with a message, never
    a 500. The same content already imported (or queued) by this organisation for this
    form with the same options is recognised by its SHA-256 and returns that job instead
    of importing twice; a failed or rejected job does not count, nor does a queued or
    running one silent for ``IMPORT_STALE_SECONDS`` (it is failed, so that it can never
    merge, and the new upload gets a job of its own).
    """
    spec = get_form(form)
    spec.check_uploader(actor=actor, organisation=organisation)
    options = spec.clean_options(options or {})
    size = getattr(upload, "size", None)
    if size is not None and size > settings.UPLOAD_MAX_BYTES:
        raise UploadRejected(
            f"文件大小为 {size_text(size)}，超过上限 {size_text(settings.UPLOAD_MAX_BYTES)}，"
            "请拆分为多个文件后分批上传",
            code="too_large",
        )
    sha, size = _sha256(upload)
    name = os.path.basename(original_name or "upload")[:255]
    with transaction.atomic():
        same = UploadJob.objects.select_for_update().filter(
            organisation=organisation,
            form=spec.code,
            sha256=sha,
            status__in=[UploadStatus.QUEUED, UploadStatus.RUNNING, UploadStatus.DONE],
        )
        previous = next((j for j in same.order_by("pk") if j.options == options), None)
        if previous is not None and _stale(previous):
            _finish(
                previous,
                UploadStatus.FAILED,
                f"导入失败，{spec.nothing_changed}：任务长时间无进展，已由重新上传的同一文件取代",
            )
            previous = None
        if previous is not None:
            return previous, False
        job = UploadJob(
            organisation=organisation,
            created_by=None if audit.is_system(actor) else actor,
            form=spec.code,
            options=options,
            original_name=name,
            size=size,
            sha256=sha,
        )
        job.file.save(name, File(upload, name=name), save=False)
        try:
            inspect_upload(job.file.path, original_name=name, max_bytes=settings.UPLOAD_MAX_BYTES)
        except FileRejected as exc:
            job.status = UploadStatus.REJECTED
            job.message = exc.message
            job.finished_at = timezone.now()
        job.save()
        audit.record(
            f"{spec.audit_prefix}.upload",
            actor=actor,
            organisation=organisation,
            obj=job,
            summary={
                "form": spec.code,
                "file": name,
                "size": size,
                "sha256": sha,
                **options,
                "status": job.status,
            },
        )
        if enqueue and job.status == UploadStatus.QUEUED:
            transaction.on_commit(lambda: _enqueue(job.pk))
    return job, True


def duplicate_message(job: UploadJob) -> str:
    """What to tell a user who uploads content already uploaded (same SHA-256)."""
    when = timezone.localtime(job.created_at)
    return (
        f"该文件已于 {when:%Y-%m-%d %H:%M} 上传（导入任务 {job.pk}，{job.get_status_display()}），"
        "未重复导入"
    )


def _enqueue(job_id: int) -> None:
    """Hand the job to a worker; if the broker is unreachable the job says so (failed)
    instead of waiting in the queue for ever and blocking a re-upload of the same file."""
    from portal.tasks import run_upload_job

    try:
        run_upload_job.delay(job_id)
    except Exception:  # noqa: BLE001 - any broker failure ends the same way
        log.exception("could not enqueue upload job %s", job_id)
        upload_job_fail(job_id=job_id, reason="后台任务队列暂时不可用，请稍后重新上传")


# --- running it -------------------------------------------------------------------------


def _progress(job: UploadJob, **fields) -> None:
    fields.setdefault("heartbeat_at", timezone.now())
    UploadJob.objects.filter(pk=job.pk).update(**fields)
    for key, value in fields.items():
        setattr(job, key, value)


def upload_job_run(*, job_id: int) -> UploadJob:
    """Run one upload end to end; safe to call again for the same job (acks late).

    A finished job is returned as it is. Anything else starts from scratch: the form's
    tables change only in the final transaction, which also marks the job done.

    A job found "running" was left so by an attempt that never came back (its worker
    died: acks late and reject on worker loss redeliver it). After
    ``IMPORT_MAX_LOST_ATTEMPTS`` such losses the job fails with a message instead of being
    run again: a file that kills its worker must not do so for ever.
    """
    job = UploadJob.objects.select_related("organisation", "created_by").get(pk=job_id)
    if job.is_finished:
        return job
    spec = get_form(job.form)
    with transaction.atomic():
        state = UploadJob.objects.select_for_update().values("status", "lost_attempts")
        state = state.get(pk=job.pk)
        if state["status"] not in (UploadStatus.QUEUED, UploadStatus.RUNNING):
            job.refresh_from_db()
            return job
        lost = state["lost_attempts"] + int(state["status"] == UploadStatus.RUNNING)
        run_again = lost < settings.IMPORT_MAX_LOST_ATTEMPTS
        # Claim the job: the attempt number is taken atomically, and only the attempt that
        # holds the newest number may merge (checked under the form's lock in ``_claim``).
        UploadJob.objects.filter(pk=job.pk).update(
            attempts=F("attempts") + (1 if run_again else 0),
            lost_attempts=lost,
        )
    job.refresh_from_db()
    if not run_again:
        log.error("upload job %s: %s attempts lost, not run again", job.pk, lost)
        _finish(
            job,
            UploadStatus.FAILED,
            f"导入失败，{spec.nothing_changed}：处理该文件的后台进程已 {lost} 次意外终止，"
            "已停止重试。请检查文件（如远离表格的单元格、超大的工作表）后重新上传；"
            "如仍失败，请联系平台运维",
        )
        return job
    _progress(job, status=UploadStatus.RUNNING, started_at=timezone.now(), rows_done=0)
    try:
        _run(job, spec)
    except UploadSuperseded:
        log.warning("upload job %s attempt %s superseded by a later attempt", job.pk, job.attempts)
        job.refresh_from_db()
    except (UploadRejected, FileRejected) as exc:
        _finish(job, UploadStatus.REJECTED, exc.message)
    return job


def upload_job_requeue(*, job_id: int) -> None:
    """The task caught an error and will retry: this attempt ended (it was not lost), so
    the next one does not count against IMPORT_MAX_LOST_ATTEMPTS."""
    UploadJob.objects.filter(pk=job_id, status=UploadStatus.RUNNING).update(
        status=UploadStatus.QUEUED, heartbeat_at=timezone.now()
    )


def upload_job_fail(*, job_id: int, reason: str) -> None:
    """The task gave up (retries exhausted): the form's data is unchanged; say so."""
    job = UploadJob.objects.get(pk=job_id)
    if not job.is_finished:
        spec = get_form(job.form)
        _finish(job, UploadStatus.FAILED, f"导入失败，{spec.nothing_changed}：{reason}")


def _finish(job: UploadJob, status: str, message: str) -> None:
    spec = get_form(job.form)
    with transaction.atomic():
        _progress(job, status=status, message=message, finished_at=timezone.now())
        audit.record(
            f"{spec.audit_prefix}.{status}",
            actor=job.created_by,
            organisation=job.organisation,
            obj=job,
            summary={"rows": job.rows_total, "errors": job.error_count, "message": message[:200]},
        )


def _count_rows(path: Path, fmt: FileFormat) -> int:
    if fmt == FileFormat.CSV:
        with open(path, "rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return 0


def _claim(job: UploadJob) -> None:
    """Under the form's lock: only the attempt holding the newest attempt number merges."""
    claimed = (
        UploadJob.objects.select_for_update()
        .filter(pk=job.pk, status=UploadStatus.RUNNING, attempts=job.attempts)
        .exists()
    )
    if not claimed:
        raise UploadSuperseded(job.pk)


def _add_errors(bad: dict, found: dict) -> None:
    for row_no, errors in found.items():
        bad.setdefault(row_no, []).extend(errors)


def _run(job: UploadJob, spec: SpreadsheetForm) -> None:
    with _fewer_collections():
        _run_frozen(job, spec)


_collections_lock = threading.Lock()
_collections_depth = 0
_saved_thresholds: tuple[int, ...] = ()
YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def _fewer_collections():
    """While rows stream through (millions of short-lived objects), the cyclic garbage
    collector runs every 50,000 allocations instead of 700, and the objects the worker
    already holds (Django, the form's context) are frozen, so that its passes over the
    oldest generation do not walk them again and again. It still collects; the settings
    come back when the last upload running in the process ends. Measured on 100,000 rows:
    the validating process spent 0.9-1.4 s of CPU with the default collector, 0.76 s so
    (0.74 s with no collector at all)."""
    global _collections_depth, _saved_thresholds
    with _collections_lock:
        if _collections_depth == 0:
            _saved_thresholds = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(_saved_thresholds[0], YOUNG_THRESHOLD), *_saved_thresholds[1:])
        _collections_depth += 1
    try:
        yield
    finally:
        with _collections_lock:
            _collections_depth -= 1
            if _collections_depth == 0:
                gc.set_threshold(*_saved_thresholds)
                gc.unfreeze()


def _run_frozen(job: UploadJob, spec: SpreadsheetForm) -> None:
    path = Path(job.file.path)
    fmt = inspect_upload(path, original_name=job.original_name, max_bytes=settings.UPLOAD_MAX_BYTES)
    ctx = spec.context(job)
    with read_rows(path, fmt) as sheet:
        header = spec.find_header(sheet)
        total = getattr(sheet, "total_rows", None) or _count_rows(path, fmt)
        _progress(
            job,
            rows_total=max(total - header.row_number, 0),
            warnings=sheet.warnings + header.warnings,
        )
        staging = spec.staging(job, ctx)
        with transaction.atomic():
            spec.lock()
            staging.begin()  # may choose the COPY lines' shape (FormStaging.copy_prefix)
            feed = RowFeed(
                spec,
                header,
                ctx,
                progress=_Progress(job),
                copy_prefix=staging.copy_prefix if connection.vendor == "postgresql" else None,
                copy_row_no=staging.copy_row_no,
            )
            bad = feed.bad
            with feed:
                for batch, clean in feed:
                    found = staging.stage(batch)
                    if found:
                        feed.add_errors(found)
                    elif clean and not feed.failed:
                        staging.merge_batch(batch)
                feed.finish()
            rows = feed.rows
            _claim(job)
            if rows and not bad:
                counts = staging.complete()
                _done(job, spec, rows, counts, feed.warnings)
                return
            # Any error: nothing of this file stays (what begin() made goes with it).
            transaction.set_rollback(True)
    if feed.warnings:
        _progress(job, warnings=job.warnings + feed.warnings)
    _progress(job, rows_done=rows, rows_total=rows)
    if rows == 0:
        raise UploadRejected("文件中没有数据行（表头下方为空）", code="no_rows")
    _reject(job, spec, path, fmt, bad)


def _done(job: UploadJob, spec, rows: int, counts: dict, warnings: list[str]) -> None:
    """The end of the merge transaction: the job is done and says so, audited."""
    standard = ("created", "updated", "unchanged", "ended")
    fields = {key: counts.get(key, 0) for key in standard}
    extra = {key: value for key, value in counts.items() if key not in standard}
    job.rows_total = rows
    message = spec.result_message(job, counts)
    _progress(
        job,
        status=UploadStatus.DONE,
        rows_done=rows,
        rows_total=rows,
        counts=extra,
        message=message,
        finished_at=timezone.now(),
        warnings=job.warnings + warnings,
        **fields,
    )
    audit.record(
        f"{spec.audit_prefix}.done",
        actor=job.created_by,
        organisation=job.organisation,
        obj=job,
        summary={"rows": rows, **counts, **job.options},
    )


def _reject(job: UploadJob, spec, path: Path, fmt, bad: dict) -> None:
    """Rejected: write the one error workbook from a second read of the file (only the bad
    rows, in row order) and raise."""
    report_name = f"{Path(job.original_name).stem}-错误报告.xlsx"
    tmp = Path(settings.MEDIA_ROOT) / "tmp" / f"errors-{job.pk}.xlsx"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with read_rows(path, fmt) as sheet:
        header = spec.find_header(sheet)
        # Only the form's columns are echoed, in the file's order: never the thousands of
        # unknown ones a hostile file may carry.
        known = sorted(header.columns.values())
        personal = {
            header.columns[c.name] for c in spec.columns if c.personal and c.name in header.columns
        }
        error_workbook.write_error_workbook(
            tmp,
            headers=[header.headers[i] for i in known],
            rows=(
                (row.number, _known_cells(row.cells, known, personal), bad[row.number])
                for row in header.data_rows
                if row.number in bad
            ),
        )
    with open(tmp, "rb") as fh:
        job.error_report.save(report_name, File(fh, name=report_name), save=False)
    tmp.unlink(missing_ok=True)
    _progress(job, error_report=job.error_report.name, error_count=len(bad))
    raise UploadRejected(
        f"文件中有 {len(bad)} 行错误，未导入任何数据。请下载错误报告，修改后重新上传。",
        code="row_errors",
    )


def _known_cells(cells: list[str], known: list[int], personal: set[int] = frozenset()) -> list[str]:
    n = len(cells)
    echoed = [cells[i] if i < n else "" for i in known]
    if personal:
        echoed = [
            mask_contact(text) if i in personal else text
            for i, text in zip(known, echoed, strict=True)
        ]
    return echoed


# --- validating on a thread of its own --------------------------------------------------


def _progress_file(job_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "progress" / f"{job_id}.txt"


class _Progress:
    """Rows done, for the job page. PostgreSQL: written at once on a connection of the
    validating thread (autocommit, outside the merge transaction). SQLite allows one writer,
    whose transaction this is: the count goes to a small file beside the uploads instead
    (the embedded default runs on one machine), read by :func:`live_rows_done`, and the
    database gets it with the result."""

    def __init__(self, job: UploadJob) -> None:
        self.job_id = job.pk
        self.live = connection.vendor == "postgresql"
        self.asynchronous = False

    def __call__(self, rows: int) -> None:
        if self.live:
            if not self.asynchronous:
                # This thread's own connection (closed by close()): a progress count need not
                # wait for the WAL to reach the disk (10-15 ms a commit here, on the thread
                # that validates the rows); a crash may lose the last count, nothing else.
                with connection.cursor() as cursor:
                    cursor.execute("SET synchronous_commit TO off")
                self.asynchronous = True
            UploadJob.objects.filter(pk=self.job_id).update(
                rows_done=rows, heartbeat_at=timezone.now()
            )
            return
        path = _progress_file(self.job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(str(rows))
        partial.replace(path)  # atomic: a reader sees the old count or the new one

    def close(self) -> None:
        if self.live:
            connections["default"].close()  # this thread's own connection
        else:
            _progress_file(self.job_id).unlink(missing_ok=True)


def live_rows_done(job: UploadJob) -> UploadJob:
    """The job as its page shows it: on SQLite a running job's rows done come from the
    progress file (the merge transaction holds the database's one write lock)."""
    if job.status == UploadStatus.RUNNING and connection.vendor != "postgresql":
        with contextlib.suppress(OSError, ValueError):  # no count yet, or one half-written
            job.rows_done = max(job.rows_done, int(_progress_file(job.pk).read_text()))
    return job


class RowFeed:
    """Validates the data rows on a thread of its own and yields ``(batch, clean)``:
    ``batch`` a list of ValidRow, ``clean`` no error in the file up to its last row.

    Every row is validated, whatever came before: ``bad`` collects row errors and repeats
    of a form's key within the file (with the first row), and the consumer adds the
    set-level errors (``add_errors``), so one pass finds them all (issue 9 item 4).

    GIL: the consumer spends most of its time in the database driver (GIL released) and,
    coming back, waits at most one switch interval (5 ms) for the GIL. Batches are large
    (20,000 rows: a few round trips each), so that wait hides behind the validation of the
    next batch; the process-wide switch interval is left alone. The thread no longer
    offers the GIL every 32 rows (``time.sleep(0)``): with batches this large it made no
    difference on 1M rows (72-81 s either way on a loaded machine), so the simpler loop.
    """

    check_every = 32  # rows between looks at ``_stop`` and the progress count
    batch_size = BATCH_ROWS
    _DONE = object()

    def __init__(
        self,
        spec: SpreadsheetForm,
        header,
        ctx,
        *,
        progress: _Progress,
        copy_prefix: tuple | None = None,
        copy_row_no: bool = True,
    ) -> None:
        self.spec = spec
        # PostgreSQL, and a form whose rows carry their COPY text: the lines are written
        # here, on the validating thread, not by the consumer, which needs the GIL back
        # after each database round trip (staging.load_batch).
        self.copy_head = None if copy_prefix is None else copy_head(copy_prefix)
        self.copy_row_no = copy_row_no
        self.data_rows = header.data_rows
        self.columns = header.columns
        self.ctx = ctx
        self.progress = progress
        self.rows = 0
        self.bad: dict[int, list[tuple[str, str]]] = {}
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = False
        self._finished = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @property
    def failed(self) -> bool:
        return bool(self.bad)

    def add_errors(self, found: dict) -> None:
        with self._lock:
            _add_errors(self.bad, found)

    def __enter__(self) -> RowFeed:
        self._thread = threading.Thread(target=self._validate, name="validate", daemon=True)
        self._thread.start()
        return self

    def __iter__(self) -> Iterator[tuple[list[ValidRow], bool]]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                self._finished = True
                return
            yield item

    def finish(self) -> None:
        """Wait until every row is validated; re-raise a failure of the validating thread."""
        while not self._finished:
            self._finished = self._queue.get() is self._DONE
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:  # the consumer failed: stop the thread, unblock it
            self._stop = True
            self._error = None
        self.finish()

    def _validate(self) -> None:
        spec, columns, ctx, bad = self.spec, self.columns, self.ctx, self.bad
        validate, key_column = spec.validate, spec.duplicate_column
        first_rows: dict = {}
        batch = Batch()
        lines: list[str] = []
        head = self.copy_head
        with_row_no = self.copy_row_no
        examples: list[int] = []
        emit = self._queue.put
        every = self.check_every
        size = self.batch_size
        rows = 0  # a local in the hot loop; self.rows follows every ``every`` rows
        try:
            for number, cells in self.data_rows:
                if rows < 3 and spec.is_example(cells, columns):
                    examples.append(number)  # the template's example, as downloaded
                    continue
                rows += 1
                if not rows % every:
                    self.rows = rows
                    if self._stop:
                        break
                    if not rows % PROGRESS_EVERY:
                        self.progress(rows)
                result = validate(cells, columns, ctx)
                if result.errors:
                    with self._lock:
                        bad.setdefault(number, []).extend(result.errors)
                    continue
                key = result.key
                if key is not None:
                    first = first_rows.setdefault(key, number)
                    if first != number:
                        message = spec.duplicate_message.format(key=key, first=first)
                        with self._lock:
                            bad.setdefault(number, []).append((key_column, message))
                        continue
                valid = valid_row((number, result))
                batch.append(valid)
                if head is not None:
                    tail = result.copy_tail
                    if not tail:
                        lines.append(copy_line(head, valid, row_no=with_row_no))
                    elif with_row_no:
                        lines.append(f"{head}{number}\t{tail}\n")
                    else:
                        lines.append(f"{head}{tail}\n")
                if len(batch) >= size:
                    batch.copy_text = "".join(lines).encode()
                    emit((batch, not bad))
                    batch, lines = Batch(), []
            self.rows = rows
            if batch and not self._stop:
                batch.copy_text = "".join(lines).encode()
                emit((batch, not bad))
            if examples:
                where = "、".join(map(str, examples))
                self.warnings.append(f"第 {where} 行是模板中的示例行，已跳过，未导入")
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._error = exc
        finally:
            self.progress.close()
            self._queue.put(self._DONE)


__all__ = [
    "FormStaging",
    "RowFeed",
    "UploadRejected",
    "UploadSuperseded",
    "duplicate_message",
    "upload_job_create",
    "upload_job_fail",
    "upload_job_requeue",
    "upload_job_run",
]
