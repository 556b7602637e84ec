"""The 号码登记表 (forms.md §1; 000 §三(一)1; 002): columns, row validation, staging, merge.

Pipeline (architecture.md, data flow): inspect the file -> stream rows -> validate and
normalise every row -> write valid rows to the staging table (COPY on PostgreSQL, batched
inserts on SQLite) -> inside one transaction, under a lock: duplicates within the file and
conflicts with other institutions' active numbers, then the merge. Any error: the registry
is untouched and the user gets an error workbook naming every bad row.

On PostgreSQL the steps overlap (ValidatingFeed): rows are validated on a thread of their
own while the merge transaction, already holding the lock, checks and merges the batches
validated so far (services._run_pipelined).
"""

from __future__ import annotations

import datetime as dt
import queue
import re
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import connection

from portal.creditcode import CreditCodeError, validate_credit_code
from portal.spreadsheets.reader import find_header, parse_date

from .. import numbers
from ..models import PURPOSE_BY_LABEL, Partner, Purpose, UserType, fingerprint, purpose_covers

NUMBER = "号码"
KIND = "号码类型"
MAIN_PORT = "所属主端口"
PURPOSE = "用途"
USER = "使用单位"
USER_CODE = "使用单位统一社会信用代码"
CARRIER = "电信运营商"
DOCUMENT = "委托书编号"
VALID_FROM = "合作起始日期"
VALID_TO = "合作截止日期"
REMARK = "备注"

COLUMNS = [
    NUMBER,
    KIND,
    MAIN_PORT,
    PURPOSE,
    USER,
    USER_CODE,
    CARRIER,
    DOCUMENT,
    VALID_FROM,
    VALID_TO,
    REMARK,
]
REQUIRED = [NUMBER, PURPOSE, USER, CARRIER, VALID_FROM]
OPTIONAL = [c for c in COLUMNS if c not in REQUIRED]
SYNONYMS = {
    "号码/端口": NUMBER,
    "电话号码": NUMBER,
    "端口号": NUMBER,
    "类型": KIND,
    "主端口": MAIN_PORT,
    "使用用途": PURPOSE,
    "业务类型": PURPOSE,
    "使用主体": USER,
    "实际使用单位": USER,
    "信用代码": USER_CODE,
    "运营商": CARRIER,
    "号码归属运营商": CARRIER,
    "授权书编号": DOCUMENT,
    "启用日期": VALID_FROM,
    "开始日期": VALID_FROM,
    "终止日期": VALID_TO,
    "结束日期": VALID_TO,
}
SELF_NAMES = {"本机构", "本单位", "本公司", "本行", "自有", "自营"}
CARRIER_NAMES = {
    "移动": "中国移动",
    "中国移动": "中国移动",
    "中移动": "中国移动",
    "联通": "中国联通",
    "中国联通": "中国联通",
    "电信": "中国电信",
    "中国电信": "中国电信",
    "广电": "中国广电",
    "中国广电": "中国广电",
}
BASIC_CARRIERS = ("中国移动", "中国联通", "中国电信", "中国广电")
REMARK_MAX = 500

# Columns of the staging table, in COPY order.
STAGING_COLUMNS = (
    "job_id",
    "row_no",
    "number",
    "kind",
    "raw",
    "main_port",
    "is_sub_port",
    "purpose",
    "user_type",
    "user_name",
    "user_credit_code",
    "partner_id",
    "carrier",
    "document_number",
    "valid_from",
    "valid_to",
    "remark",
    "fingerprint",
)


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Full-width to half-width and no spaces: how labels are compared."""
    return "".join(unicodedata.normalize("NFKC", text).split())


# A company form (and a remark in brackets) at the end of a name: "甲银行股份有限公司(演示)"
# and "甲银行" name one bank.
_COMPANY_FORM = re.compile(r"(股份有限公司|有限责任公司|股份公司|有限公司)?(\([^()]*\))?$")


def _name_stem(folded: str) -> str:
    return _COMPANY_FORM.sub("", folded) or folded


def is_branch_name(user_name: str, institution_name: str) -> bool:
    """A 分支机构 is declared by its name: the institution's name (with or without its company
    form) or 本行/本机构…, followed by the branch's own name ("甲银行杭州分行",
    "甲银行股份有限公司宁波分行", "本行营业部"). Any other name is a partner's."""
    name = fold(user_name)
    stems = {_name_stem(fold(institution_name)), fold(institution_name), *SELF_NAMES}
    return any(len(stem) >= 2 and name.startswith(stem) and len(name) > len(stem) for stem in stems)


def carrier_name(text: str) -> str:
    """The three basic carriers and 广电 under one spelling; providers as written."""
    return CARRIER_NAMES.get(fold(text), text.strip())


@dataclass
class Context:
    """What validating a row needs to know about the institution, loaded once."""

    institution_id: int
    institution_name: str
    institution_code: str
    partners: dict[str, Partner]  # by credit code
    today: dt.date
    attribute_cache: dict = field(default_factory=dict)

    @classmethod
    def for_institution(cls, institution, *, today: dt.date) -> Context:
        partners = {p.credit_code: p for p in Partner.objects.filter(institution=institution)}
        return cls(institution.pk, institution.name, institution.credit_code, partners, today)


@dataclass
class RowResult:
    values: tuple | None = None  # staging values without job_id and row_no
    errors: list[tuple[str, str]] = field(default_factory=list)
    number: str | None = None
    copy_tail: str = ""  # the same values in COPY text format (PostgreSQL staging)


def _date(cells: Callable[[str], str], column: str, errors: list, *, required: bool):
    text = cells(column)
    if not text:
        if required:
            errors.append((column, f"{column}不能为空"))
        return None
    try:
        return parse_date(text)
    except ValueError as exc:
        errors.append((column, f"{column}：{exc}"))
        return None


ATTRIBUTE_COLUMNS = (PURPOSE, USER, USER_CODE, DOCUMENT, CARRIER, VALID_FROM, VALID_TO, REMARK)
_CACHE_LIMIT = 200_000


def find_register_header(sheet):
    """The header row of a 号码登记表 (forms.md §1: synonyms, title rows above it)."""
    return find_header(sheet, required=REQUIRED, synonyms=SYNONYMS, optional=OPTIONAL)


def validate_cells(cells: list[str], columns: dict[str, int], ctx: Context) -> RowResult:
    """``validate_row`` for one sheet row: ``columns`` maps canonical columns to indexes."""
    n = len(cells)

    def get(name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < n else ""

    return validate_row(get, ctx)


def validate_row(get: Callable[[str], str], ctx: Context) -> RowResult:
    """Validate one row completely; every problem is named (forms.md: strict in meaning).

    ``get(column)`` returns the cell text of a canonical column ('' when absent). The
    columns that describe *how* a number is used (purpose, user, carrier, period...) repeat
    from row to row in any real register, so their validation is cached per distinct
    combination in ``ctx``; the number itself is checked on every row.
    """
    errors: list[tuple[str, str]] = []

    raw = get(NUMBER)
    number, kind, error = numbers.classify(raw) if raw else (None, None, f"{NUMBER}不能为空")
    if error:
        errors.append((NUMBER, error))

    kind_label = get(KIND)
    wants_sub_port = False
    if kind_label:
        named, wants_sub_port = _kind_label(kind_label)
        if named is None:
            errors.append(
                (
                    KIND,
                    f"号码类型“{kind_label}”无效，可选：手机、固话、短号码、400/800、短信端口、子端口",
                )
            )
        elif kind is not None and named != kind:
            errors.append(
                (KIND, f"填写为“{kind_label}”，但号码识别为“{numbers.KIND_LABELS[kind]}”")
            )

    main_port = ""
    main_raw = get(MAIN_PORT)
    if main_raw:
        main, _main_kind, main_error = numbers.classify(main_raw)
        if main_error:
            errors.append((MAIN_PORT, main_error))
        elif number and kind == numbers.NumberKind.SMS_PORT:
            try:
                numbers.check_sub_port(number, main)
                main_port = main
            except numbers.NumberError as exc:
                errors.append((MAIN_PORT, exc.message))
        elif number:
            errors.append((MAIN_PORT, "只有短信子端口才填写所属主端口"))
    elif wants_sub_port:
        errors.append((MAIN_PORT, "子端口须填写所属主端口"))

    key = tuple(get(column) for column in ATTRIBUTE_COLUMNS)
    cached = ctx.attribute_cache.get(key)
    if cached is None:
        if len(ctx.attribute_cache) >= _CACHE_LIMIT:
            ctx.attribute_cache.clear()
        cached = ctx.attribute_cache[key] = _attributes(
            dict(zip(ATTRIBUTE_COLUMNS, key, strict=True)), ctx
        )
    attribute_errors, attributes, attribute_print, segment = cached
    if attribute_errors:
        errors.extend(attribute_errors)
    if errors:
        return RowResult(errors=errors, number=number)
    is_sub_port = bool(main_port)
    raw = str(raw)[:64]
    print_ = fingerprint((kind, main_port, is_sub_port, attribute_print))
    values = (number, str(kind), raw, main_port, is_sub_port, *attributes, print_)
    tail = (
        f"{number}\t{kind}\t{raw if raw.isalnum() else _copy_value(raw)}\t{main_port}\t"
        f"{'t' if is_sub_port else 'f'}\t{segment}\t{print_}"
    )
    return RowResult(values=values, number=number, copy_tail=tail)


@lru_cache(maxsize=256)
def _kind_label(label: str) -> tuple[numbers.NumberKind | None, bool]:
    return numbers.kind_from_label(label), fold(label) in numbers.SUB_PORT_LABELS


# The formula guard that our exports and error reports put before text (xlsx.safe_cell).
_GUARDED = ("'=", "'+", "'-", "'@")


def _unguard(text: str) -> str:
    """``'=x`` -> ``=x``: Excel keeps a typed leading apostrophe out of the cell's value, so
    one in the text is a guard of ours; re-importing an export must not change a remark."""
    return text[1:] if text.startswith(_GUARDED) else text


def _attributes(cells: dict[str, str], ctx: Context) -> tuple[list, tuple, str]:
    """Validate the usage columns of a row: (errors, staging values, fingerprint part).
    Runs once per distinct combination (cached by validate_row), not once per row."""
    errors: list[tuple[str, str]] = []
    cells = {column: _unguard(text) for column, text in cells.items()}
    get = cells.__getitem__

    purpose_text = get(PURPOSE)
    purpose = PURPOSE_BY_LABEL.get(fold(purpose_text)) if purpose_text else None
    if not purpose_text:
        errors.append((PURPOSE, f"{PURPOSE}不能为空"))
    elif purpose is None:
        errors.append((PURPOSE, f"用途“{purpose_text}”无效，可选：营销、催收、营销及催收"))

    valid_from = _date(get, VALID_FROM, errors, required=True)
    valid_to = _date(get, VALID_TO, errors, required=False)
    if valid_from and valid_to and valid_to < valid_from:
        errors.append((VALID_TO, f"合作截止日期 {valid_to} 早于起始日期 {valid_from}"))

    user_name = get(USER)
    code_text = get(USER_CODE)
    document = get(DOCUMENT)
    user_type, user_code, partner_id = UserType.SELF, "", None
    if not user_name:
        errors.append((USER, f"{USER}不能为空"))
    elif fold(user_name) in SELF_NAMES or fold(user_name) == fold(ctx.institution_name):
        user_name = "本机构"
    else:
        try:
            user_code = validate_credit_code(code_text) if code_text else ""
        except CreditCodeError as exc:
            errors.append((USER_CODE, f"{USER_CODE}：{exc.message}"))
        if not code_text:
            errors.append((USER_CODE, "使用单位不是本机构时必须填写其统一社会信用代码"))
        elif user_code and user_code == ctx.institution_code:
            user_name, user_code = "本机构", ""
        elif user_code and user_code in ctx.partners:
            partner = ctx.partners[user_code]
            user_type, partner_id = UserType.PARTNER, partner.pk
            errors.extend(_check_partner(partner, purpose, valid_from, valid_to, document, ctx))
            document = document or partner.document_number
        elif user_code and not document and is_branch_name(user_name, ctx.institution_name):
            user_type = UserType.BRANCH  # the institution's own branch (分支机构)
        elif user_code:
            # Not declared a branch: a partner row, which needs a registered entrustment
            # (000 §一(一); 001 第十条) -- never a branch by default.
            errors.append(
                (
                    USER_CODE,
                    f"“{user_name}”（{user_code}）尚未登记为委托合作单位：请先在“合作单位”中"
                    f"登记该单位及其委托书；如为本机构的分支机构，使用单位请填写本机构名称加"
                    f"分支机构名称（如“{_name_stem(fold(ctx.institution_name))}杭州分行”）",
                )
            )

    carrier_text = get(CARRIER)
    carrier = carrier_name(carrier_text) if carrier_text else ""
    if not carrier:
        errors.append((CARRIER, f"{CARRIER}不能为空"))

    remark = get(REMARK)
    if len(remark) > REMARK_MAX:
        errors.append((REMARK, f"备注不能超过 {REMARK_MAX} 字"))
    if errors:
        return errors, (), "", ""
    values = (
        str(purpose),
        str(user_type),
        user_name[:200],
        user_code,
        partner_id,
        carrier[:100],
        document[:64],
        valid_from,
        valid_to,
        remark,
    )
    return [], values, "\x1f".join(map(str, values)), "\t".join(map(_copy_value, values))


def _check_partner(partner, purpose, valid_from, valid_to, document, ctx) -> Iterator:
    """A partner acts only under a valid written entrustment covering the use
    (000 §一(一); 001 第十条)."""
    if purpose and not purpose_covers(partner.kind, purpose):
        yield (
            PURPOSE,
            f"合作单位“{partner.name}”的委托类型为“{partner.get_kind_display()}”，"
            f"不能用于“{Purpose(purpose).label}”",
        )
    if partner.valid_to and partner.valid_to < ctx.today:
        yield (USER, f"合作单位“{partner.name}”的委托书已于 {partner.valid_to} 到期")
    if valid_from and valid_from < partner.valid_from:
        yield (VALID_FROM, f"合作起始日期早于委托书起始日期 {partner.valid_from}")
    if partner.valid_to and valid_from and valid_from > partner.valid_to:
        # An open-ended row would otherwise pass: its whole period lies after the entrustment.
        yield (VALID_FROM, f"合作起始日期晚于委托书截止日期 {partner.valid_to}")
    if partner.valid_to and valid_to and valid_to > partner.valid_to:
        yield (VALID_TO, f"合作截止日期晚于委托书截止日期 {partner.valid_to}")
    if document and partner.document_number and document != partner.document_number:
        yield (
            DOCUMENT,
            f"委托书编号“{document}”与登记的委托书编号“{partner.document_number}”不一致",
        )


# --- staging --------------------------------------------------------------------------


class StagingWriter:
    """Buffers valid rows and writes them to the staging table in batches.

    On PostgreSQL the batches go through COPY on a connection of a background thread, so
    the database loads batch k while Python validates batch k+1 (psycopg releases the GIL
    while it waits on the server). On SQLite the batches are inserted in line.
    Use as a context manager; leaving it waits for the last batch and re-raises a failure.
    """

    batch_size = 5000

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.buffer: list[tuple] = []
        self.written = 0
        self.threaded = connection.vendor == "postgresql"
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> StagingWriter:
        if self.threaded:
            self._queue = queue.Queue(maxsize=4)
            self._thread = threading.Thread(target=self._drain, name="staging-copy", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.flush()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if exc_type is None and self._error is not None:
            error, self._error = self._error, None
            raise error

    def add(self, row_no: int, values: tuple, copy_tail: str = "") -> None:
        if self.threaded and copy_tail:
            self.buffer.append(f"{self.job_id}\t{row_no}\t{copy_tail}\n")
        else:
            self.buffer.append((self.job_id, row_no, *values))
        if len(self.buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        rows, self.buffer = self.buffer, []
        self.written += len(rows)
        if self._thread is not None:
            if self._error is not None:
                raise self._error
            self._queue.put(rows)
        else:
            _write_batch(connection, rows)

    def put(self, item: bytes | Callable[[], object], rows: int = 0) -> None:
        """Threaded only: hand the writer a batch already in COPY text (``rows`` rows), or
        a callable to run on the writer's connection (progress updates, in autocommit)."""
        if self._error is not None:
            raise self._error
        self.written += rows
        self._queue.put(item)

    def finish(self) -> None:
        """Write what is buffered and wait until every batch is in the staging table."""
        self.__exit__(None, None, None)

    def _drain(self) -> None:
        from django.db import connections

        conn = connections["default"]  # this thread's own connection
        try:
            while (rows := self._queue.get()) is not None:
                if self._error is not None:
                    continue
                if callable(rows):
                    rows()
                else:
                    _write_batch(conn, rows)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self._error = exc
            while self._queue.get() is not None:
                pass
        finally:
            conn.close()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if type(value) is str:
        return value.translate(_COPY_ESCAPES)
    return str(value)  # int, date (ISO)


def copy_text(rows: list) -> bytes:
    """Rows in COPY text format (a row is a tuple, or a line validate_row already built:
    most of it is cached per distinct attribute combination). Much faster than adapting
    each value through psycopg's write_row."""
    return "".join(
        row if type(row) is str else "\t".join(map(_copy_value, row)) + "\n" for row in rows
    ).encode()


def _write_batch(conn, rows: list[tuple] | bytes) -> None:
    columns = ", ".join(STAGING_COLUMNS)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            sql = f"COPY registry_numberstaging ({columns}) FROM STDIN"  # noqa: S608
            with cursor.cursor.copy(sql) as copy:
                copy.write(rows if type(rows) is bytes else copy_text(rows))
        else:
            marks = ", ".join(["%s"] * len(STAGING_COLUMNS))
            cursor.executemany(
                f"INSERT INTO registry_numberstaging ({columns}) VALUES ({marks})",  # noqa: S608
                rows,
            )


# --- validation on a thread of its own (PostgreSQL pipeline) ---------------------------


@dataclass
class Batch:
    data: bytes  # the rows in COPY text, staging column order
    size: int
    mergeable: bool  # no number of the file seen twice so far


class ValidatingFeed:
    """Validates the data rows on a thread of its own and yields batches of valid rows (to
    the thread that owns the merge transaction), handing each batch to the staging writer
    too. While Python validates batch k+1 the database merges batch k (psycopg releases the
    GIL while it waits on the server).

    After ``finish()``: ``rows`` (data rows read), ``bad`` (row number -> errors; at the
    first one the iteration ends, the import will be rejected: the consumer can leave its
    transaction while the rest of the file is validated) and ``duplicates`` (a
    number seen twice: batches from the one holding the repeat on are not ``mergeable``;
    which rows repeat which is asked of the staging table, see merge.duplicate_rows).
    """

    batch_size = 5000
    _DONE = object()
    _REJECTED = object()  # the first invalid row: no further batch

    def __init__(
        self,
        data_rows,
        columns: dict[str, int],
        ctx: Context,
        writer: StagingWriter,
        *,
        progress: Callable[[int], None],
        progress_every: int,
    ) -> None:
        self.data_rows = data_rows
        self.columns = columns
        self.ctx = ctx
        self.writer = writer
        self.progress = progress
        self.progress_every = progress_every
        self.rows = 0
        self.bad: dict[int, list[tuple[str, str]]] = {}
        self.duplicates = False
        self._queue: queue.Queue = queue.Queue(maxsize=3)
        self.rejected = False  # the iteration ended at an invalid row
        self._stop = False
        self._finished = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    # While the feed runs, the interpreter switches threads every 0.2 ms instead of 5 ms:
    # the consumer returns from each database round trip needing the GIL, which the
    # validating thread would otherwise hold for up to a whole interval each time.
    switch_interval = 0.0002

    def __enter__(self) -> ValidatingFeed:
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._interval, self.switch_interval))
        self._thread = threading.Thread(target=self._validate, name="validate", daemon=True)
        self._thread.start()
        return self

    def __iter__(self) -> Iterator[Batch]:
        """The batches; ends early, at the first invalid row (see ``finish``)."""
        while True:
            item = self._queue.get()
            if item is self._DONE:
                self._finished = True
                return
            if item is self._REJECTED:
                self.rejected = True
                return
            yield item

    def finish(self) -> None:
        """Wait until every row is validated (after an early end: the rest of the file, for
        the error report); re-raise a failure of the validating thread."""
        while not self._finished:
            self._finished = self._queue.get() is self._DONE
        self._join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:  # the consumer failed: stop the thread, unblock it
            self._stop = True
            self._error = None
        self.finish()

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            sys.setswitchinterval(self._interval)

    def _validate(self) -> None:
        columns, ctx, bad, job_id = self.columns, self.ctx, self.bad, self.writer.job_id
        seen: set[str] = set()
        lines: list[str] = []
        try:
            for row in self.data_rows:
                if self._stop:
                    break
                result = validate_cells(row.cells, columns, ctx)
                self.rows += 1
                if result.errors:
                    first = not bad
                    bad[row.number] = result.errors
                    if first:
                        self._queue.put(self._REJECTED)
                    lines = []
                elif not bad:
                    if result.number in seen:
                        self.duplicates = True
                    else:
                        seen.add(result.number)
                    lines.append(f"{job_id}\t{row.number}\t{result.copy_tail}\n")
                    if len(lines) >= self.batch_size:
                        self._emit(lines)
                        lines = []
                if self.rows % self.progress_every == 0:
                    self.writer.put(lambda rows=self.rows: self.progress(rows))
            if lines and not bad and not self._stop:
                self._emit(lines)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._error = exc
        finally:
            self._queue.put(self._DONE)

    def _emit(self, lines: list[str]) -> None:
        data = "".join(lines).encode()
        self.writer.put(data, len(lines))
        self._queue.put(Batch(data, len(lines), not self.duplicates))
