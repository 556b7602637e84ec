"""The 服务对象报送表 (forms.md §2; 000 §三(一)2), the engine's second form (issue 11 §2): a
carrier's quarterly list of the numbers and ports it serves for financial marketing or
collection and for whom. Its declaration, its row validation (the number columns as the
register reads them, register.validate_number) and its staging: the valid rows go by COPY
(PostgreSQL) or batched inserts (SQLite) straight into the draft version's lines, inside the
engine's one transaction, so a rejected file leaves the draft as it was.

Service objects and entrusting institutions are matched to known organisations (and
registered partners) by credit code while validating, against codes loaded once per upload;
an unknown code, or one whose check character is wrong, is kept and flagged on the line,
never refused (issue 11 §1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter

from django.db import connection

from portal.creditcode import CreditCodeError, normalise_credit_code, validate_credit_code
from portal.models import Organisation, OrgKind
from portal.spreadsheets import staging as engine_staging
from portal.spreadsheets.form import Column, FormStaging, RowResult, SpreadsheetForm, ValidRow
from portal.spreadsheets.reader import fold, parse_date
from portal.spreadsheets.staging import copy_value

from ..models import (
    FLAGGED_MATCHES,
    PURPOSE_BY_LABEL,
    ObjectMatch,
    Partner,
    ReportStatus,
    ServiceReport,
    fingerprint,
)
from .register import (
    DOCUMENT,
    KIND,
    KIND_LABELS,
    MAIN_PORT,
    NUMBER,
    PURPOSE,
    PURPOSE_LABELS,
    VALID_FROM,
    VALID_TO,
    validate_number,
)

OBJECT = "服务对象名称"
OBJECT_CODE = "服务对象统一社会信用代码"
INSTITUTION = "委托金融机构名称"
INSTITUTION_CODE = "委托金融机构统一社会信用代码"
NAME_MAX = 200
DOCUMENT_MAX = 64

FORM_COLUMNS = (
    Column(
        NUMBER,
        required=True,
        synonyms=("号码/端口", "端口号"),
        help="手机号、固话（带区号）、95/96 短号码、400/800 号码、106 开头的短信端口或子端口。"
        "请保持单元格为文本格式，以免被 Excel 变成科学计数法。",
        example="10690000123",
    ),
    Column(
        KIND,
        synonyms=("类型",),
        choices=KIND_LABELS,
        help="手机 / 固话 / 短号码 / 400/800 / 短信端口 / 子端口；留空时平台自动识别。",
        example="子端口",
    ),
    Column(
        MAIN_PORT,
        synonyms=("主端口",),
        requirement="子端口必填",
        help="子端口所扩展的主端口，子端口必须以主端口开头。",
        example="1069000",
    ),
    Column(
        OBJECT,
        required=True,
        synonyms=("客户名称", "使用单位"),
        help="本单位为其提供该号码或端口的单位：金融机构，或受其委托的合作单位。",
        example="某银行股份有限公司",
    ),
    Column(
        OBJECT_CODE,
        required=True,
        synonyms=("客户信用代码",),
        help="18 位统一社会信用代码。平台按代码核对单位；未知或校验位错误的代码照常接收，"
        "标记为待核实。",
        example="91330000MA2A1CE00B",
    ),
    Column(
        INSTITUTION,
        synonyms=("金融机构名称",),
        requirement="服务对象为合作单位时填写",
        help="服务对象是受托的营销或催收合作单位时，填写委托它的金融机构。",
    ),
    Column(
        INSTITUTION_CODE,
        synonyms=("金融机构信用代码",),
        requirement="填写委托金融机构时必填",
        help="委托金融机构的 18 位统一社会信用代码。",
    ),
    Column(
        PURPOSE,
        required=True,
        synonyms=("业务类型",),
        choices=PURPOSE_LABELS,
        help="营销 / 催收 / 营销及催收。",
        example="营销",
    ),
    Column(
        DOCUMENT,
        synonyms=("授权书编号",),
        help="金融业务委托授权文件的编号。",
        example="WT-2026-001",
    ),
    Column(
        VALID_FROM,
        required=True,
        synonyms=("开始日期",),
        help="如 2026-03-01、2026/3/1 或 2026年3月1日。",
        example="2026-01-01",
    ),
    Column(
        VALID_TO,
        synonyms=("结束日期",),
        help="留空表示长期；不得早于起始日期。",
    ),
)

ATTRIBUTE_COLUMNS = (
    OBJECT,
    OBJECT_CODE,
    INSTITUTION,
    INSTITUTION_CODE,
    PURPOSE,
    DOCUMENT,
    VALID_FROM,
    VALID_TO,
)
_CACHE_LIMIT = 200_000

LINES = "registry_servicereportline"
# The line table's columns, in COPY order: the report, the row, then RowResult.values.
LINE_COLUMNS = (
    "report_id",
    "row_no",
    "number",
    "kind",
    "raw",
    "main_port",
    "is_sub_port",
    "object_name",
    "object_credit_code",
    "object_match",
    "object_org_id",
    "institution_name",
    "institution_credit_code",
    "institution_match",
    "institution_org_id",
    "purpose",
    "document_number",
    "valid_from",
    "valid_to",
    "fingerprint",
)
VALUE_COLUMNS = LINE_COLUMNS[2:]
# Index of the matches among the values (counted as flagged lines).
_OBJECT_MATCH = VALUE_COLUMNS.index("object_match")
_INSTITUTION_MATCH = VALUE_COLUMNS.index("institution_match")


@dataclass
class Context:
    """Credit codes the portal knows, loaded once per upload (no database per row)."""

    organisations: dict[str, int]  # credit code -> organisation id
    partner_codes: frozenset[str]
    attribute_cache: dict = field(default_factory=dict)
    plans: dict = field(default_factory=dict)  # id(header columns) -> _Plan

    @classmethod
    def load(cls) -> Context:
        return cls(
            dict(Organisation.objects.values_list("credit_code", "pk")),
            frozenset(Partner.objects.values_list("credit_code", flat=True)),
        )


def _match(code: str, valid: bool, ctx: Context) -> tuple[str, int | None]:
    if not valid:
        return ObjectMatch.INVALID.value, None
    org = ctx.organisations.get(code)
    if org is not None:
        return ObjectMatch.ORGANISATION.value, org
    if code in ctx.partner_codes:
        return ObjectMatch.PARTNER.value, None
    return ObjectMatch.UNKNOWN.value, None


def _code(text: str, column: str, errors: list) -> tuple[str, bool]:
    """A credit code: kept when it has 18 characters, even if it fails its check (then
    flagged); anything else cannot be a code and is an error."""
    code = normalise_credit_code(text)
    if len(code) != 18:
        errors.append((column, f"{column}应为 18 位，实际为 {len(code)} 位"))
        return code, False
    try:
        validate_credit_code(code)
    except CreditCodeError:
        return code, False
    return code, True


def _attributes(cells: dict[str, str], ctx: Context) -> tuple[list, tuple, str, str, dict]:
    """The columns that say for whom and how, validated once per distinct combination:
    (errors, values, fingerprint part, COPY text part, fingerprints by number kind)."""
    errors: list[tuple[str, str]] = []
    get = cells.__getitem__

    name = get(OBJECT)
    if not name:
        errors.append((OBJECT, f"{OBJECT}不能为空"))
    elif len(name) > NAME_MAX:
        errors.append((OBJECT, f"{OBJECT}不能超过 {NAME_MAX} 字"))
    code_text = get(OBJECT_CODE)
    object_code, object_valid = "", False
    if not code_text:
        errors.append((OBJECT_CODE, f"{OBJECT_CODE}不能为空"))
    else:
        object_code, object_valid = _code(code_text, OBJECT_CODE, errors)

    institution = get(INSTITUTION)
    institution_text = get(INSTITUTION_CODE)
    institution_code, institution_valid = "", False
    if len(institution) > NAME_MAX:
        errors.append((INSTITUTION, f"{INSTITUTION}不能超过 {NAME_MAX} 字"))
    if institution_text:
        institution_code, institution_valid = _code(institution_text, INSTITUTION_CODE, errors)
        if not institution:
            errors.append((INSTITUTION, "填写了委托金融机构信用代码时须填写其名称"))
    elif institution:
        errors.append((INSTITUTION_CODE, "填写委托金融机构时须填写其统一社会信用代码"))

    purpose_text = get(PURPOSE)
    purpose = PURPOSE_BY_LABEL.get(fold(purpose_text)) if purpose_text else None
    if not purpose_text:
        errors.append((PURPOSE, f"{PURPOSE}不能为空"))
    elif purpose is None:
        errors.append((PURPOSE, f"用途“{purpose_text}”无效，可选：营销、催收、营销及催收"))

    document = get(DOCUMENT)
    if len(document) > DOCUMENT_MAX:
        errors.append((DOCUMENT, f"{DOCUMENT}不能超过 {DOCUMENT_MAX} 字"))

    valid_from = valid_to = None
    for column in (VALID_FROM, VALID_TO):
        text = get(column)
        if not text:
            if column == VALID_FROM:
                errors.append((column, f"{column}不能为空"))
            continue
        try:
            day = parse_date(text)
        except ValueError as exc:
            errors.append((column, f"{column}：{exc}"))
            continue
        if column == VALID_FROM:
            valid_from = day
        else:
            valid_to = day
    if valid_from and valid_to and valid_to < valid_from:
        errors.append((VALID_TO, f"合作截止日期 {valid_to} 早于起始日期 {valid_from}"))
    if errors:
        return errors, (), "", "", {}

    object_match, object_org = _match(object_code, object_valid, ctx)
    if institution_code:
        institution_match, institution_org = _match(institution_code, institution_valid, ctx)
    else:
        institution_match, institution_org = "", None
    values = (
        name,
        object_code,
        object_match,
        object_org,
        institution,
        institution_code,
        institution_match,
        institution_org,
        str(purpose),
        document,
        valid_from,
        valid_to,
    )
    # What the carrier reported (not how the portal matched it) makes two lines the same.
    reported = (name, object_code, institution, institution_code, str(purpose), document)
    print_part = "\x1f".join(map(str, (*reported, valid_from, valid_to)))
    return [], values, print_part, "\t".join(map(copy_value, values)), {}


def validate_row(
    get: Callable[[str], str], ctx: Context, attributes: tuple[tuple, Callable] | None = None
) -> RowResult:
    """One row, completely; every problem named (forms.md: strict in meaning). The columns
    that say for whom and how repeat from line to line, so they are validated once per
    distinct combination (cached in ``ctx``); ``attributes``: that combination's cache key
    and how to spell its cells out, when the caller read them faster (validate_cells)."""
    errors: list[tuple[str, str]] = []
    raw, number, kind, main_port = validate_number(get, errors)
    if attributes is None:
        key = tuple(get(column) for column in ATTRIBUTE_COLUMNS)
        cells_of = _cells_of_full
    else:
        key, cells_of = attributes
    cached = ctx.attribute_cache.get(key)
    if cached is None:
        if len(ctx.attribute_cache) >= _CACHE_LIMIT:
            ctx.attribute_cache.clear()
        cached = ctx.attribute_cache[key] = _attributes(cells_of(key), ctx)
    attribute_errors, attributes_, print_part, segment, prints = cached
    if attribute_errors:
        errors.extend(attribute_errors)
    if errors:
        return RowResult(errors=errors, key=number)
    is_sub_port = bool(main_port)
    raw = str(raw)[:64]
    if is_sub_port:
        print_ = fingerprint((kind, main_port, is_sub_port, print_part))
    else:  # the number is not part of it: one hash per kind and combination
        print_ = prints.get(kind)
        if print_ is None:
            print_ = prints[kind] = fingerprint((kind, main_port, is_sub_port, print_part))
    values = (number, str(kind), raw, main_port, is_sub_port, *attributes_, print_)
    tail = (
        f"{number}\t{kind}\t{raw if raw.isalnum() else copy_value(raw)}\t{main_port}\t"
        f"{'t' if is_sub_port else 'f'}\t{segment}\t{print_}"
    )
    return RowResult(values=values, key=number, copy_tail=tail)


def _cells_of_full(key: tuple) -> dict[str, str]:
    return dict(zip(ATTRIBUTE_COLUMNS, key, strict=True))


class _Plan:
    """How one file's header lays out the attribute columns: one C-level ``itemgetter``
    reads them from a row (the hot loop of a 500,000-line upload)."""

    def __init__(self, columns: dict[str, int]) -> None:
        present = [c for c in ATTRIBUTE_COLUMNS if c in columns]
        indexes = [columns[c] for c in present]
        self.reach = max(indexes) + 1
        self.read = itemgetter(*indexes)
        self.single = len(indexes) == 1

        def cells_of(key: tuple) -> dict[str, str]:
            cells = dict.fromkeys(ATTRIBUTE_COLUMNS, "")
            cells.update(zip(present, key, strict=True))
            return cells

        self.cells_of = cells_of


def validate_cells(cells: list[str], columns: dict[str, int], ctx: Context) -> RowResult:
    n = len(cells)

    def get(name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < n else ""

    plan = ctx.plans.get(id(columns))
    if plan is None:
        plan = ctx.plans[id(columns)] = _Plan(columns)
    if n < plan.reach or plan.single:  # a short row (CSV): the column by column path
        return validate_row(get, ctx)
    return validate_row(get, ctx, (plan.read(cells), plan.cells_of))


def line_counts(report_id: int) -> tuple[int, int]:
    """(lines, flagged lines) of one report, counted in SQL."""
    flagged = [str(m) for m in FLAGGED_MATCHES]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT COUNT(*), COALESCE(SUM(CASE WHEN object_match IN (%s, %s)
                                           OR institution_match IN (%s, %s) THEN 1 ELSE 0 END), 0)
            FROM {LINES} WHERE report_id = %s
            """,  # noqa: S608 - a constant
            [*flagged, *flagged, report_id],
        )
        total, flagged_n = cursor.fetchone()
    return int(total), int(flagged_n)


class ReportStaging(FormStaging):
    """The report's step of the engine's one transaction: the draft version's lines are
    replaced by the file's (deleted in ``begin``, each valid batch loaded straight into the
    line table), then its counts set. Anything raised, or any bad row, rolls it all back."""

    def __init__(self, job, ctx: Context) -> None:
        self.job = job
        self.report_id = int(job.options["report"])
        self.copy_prefix = (self.report_id,)
        self.rows = 0
        self.flagged = 0

    def begin(self) -> None:
        from portal.spreadsheets.pipeline import UploadRejected

        report = ServiceReport.objects.select_for_update().get(pk=self.report_id)
        if report.status != ReportStatus.DRAFT or report.carrier_id != self.job.organisation_id:
            raise UploadRejected(
                f"{report}已{report.get_status_display()}，不能再上传；请新建版本后上传",
                code="report_not_draft",
            )
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {LINES} WHERE report_id = %s", [self.report_id])  # noqa: S608

    def merge_batch(self, batch: list[ValidRow]) -> None:
        engine_staging.load_batch(LINES, LINE_COLUMNS, batch, prefix=self.copy_prefix)
        self.rows += len(batch)
        flagged = {str(m) for m in FLAGGED_MATCHES}
        self.flagged += sum(
            1
            for row in batch
            if row.result.values[_OBJECT_MATCH] in flagged
            or row.result.values[_INSTITUTION_MATCH] in flagged
        )

    def complete(self) -> dict[str, int]:
        from django.utils import timezone

        ServiceReport.objects.filter(pk=self.report_id).update(
            line_count=self.rows,
            flagged_count=self.flagged,
            source_job=self.job.pk,
            updated_at=timezone.now(),
        )
        return {"created": self.rows, "flagged": self.flagged, "report": self.report_id}


class ServiceReportForm(SpreadsheetForm):
    """The 服务对象报送表 as the engine sees it: uploaded by carriers into a draft version
    of their quarterly report (one number once per file)."""

    code = "registry.service_report"
    label = "服务对象报送表"
    version = 1
    sheet_title = "服务对象报送表"
    columns = FORM_COLUMNS
    notes = (
        "每季度结束前 5 个工作日报送（000 §三(一)2）：本单位为金融营销、催收提供服务的"
        "全部号码和端口（含子端口），以及服务对象、委托授权文件和合作期限。",
        "表头所在行之前可以有标题行；列的顺序不限；未知的列会被忽略并提示。",
        "只读取第一个可见的工作表（本“填写说明”表不会被读取，请在“服务对象报送表”中填写）。",
        "任何一行有错误，整个文件都不会导入；平台会返回错误报告，逐行列出错误列和原因。",
        "上传的文件替换本季度草稿中的全部行；提交后如需更正，请新建版本。",
        "服务对象或委托金融机构的信用代码在平台中未登记、或校验位错误的，照常接收并标记为待核实。",
    )
    uploader_kinds = (OrgKind.CARRIER,)
    audit_prefix = "report_import"
    unchanged_text = "服务对象报送草稿未作任何修改"
    duplicate_column = NUMBER
    duplicate_message = "号码 {key} 在文件中重复（与第 {first} 行相同）"
    pages = {"list": "service_report_list", "upload": "service_report_upload"}  # noqa: RUF012

    def clean_options(self, options: dict) -> dict:
        from portal.errors import PortalError

        try:
            report = int(options["report"])
        except (KeyError, TypeError, ValueError):
            raise PortalError("缺少报送版本", code="report") from None
        return {"report": report, "quarter": str(options.get("quarter", ""))}

    def context(self, job) -> Context:
        return Context.load()

    def validate(self, cells: list[str], columns: dict[str, int], ctx: Context) -> RowResult:
        return validate_cells(cells, columns, ctx)

    def staging(self, job, ctx: Context) -> ReportStaging:
        return ReportStaging(job, ctx)

    def option_labels(self, job) -> list[str]:
        quarter = job.options.get("quarter", "")
        return [f"{quarter} 季度报送草稿"] if quarter else []

    def result_link(self, job, user) -> tuple[str, str] | None:
        from django.urls import reverse

        report = ServiceReport.objects.visible_to(user).filter(pk=job.options.get("report"))
        if not report.exists():
            return None
        return reverse("service_report_detail", args=[job.options["report"]]), "查看报送"

    def result_message(self, job, counts: dict[str, int]) -> str:
        message = f"已导入 {job.rows_total} 行到报送草稿，尚未提交：请核对后提交"
        if counts.get("flagged"):
            message += (
                f"。其中 {counts['flagged']} 行的信用代码未匹配到平台已知单位或校验位错误，"
                "已照常接收并标记为待核实"
            )
        return message


FORM = ServiceReportForm()
