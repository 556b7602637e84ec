"""The 号码登记表 (forms.md §1; 000 §三(一)1; 002), the engine's first form (issue 9 item 3):
its declaration (columns, synonyms, enumerations, help, example), its row validation, and
its set-level step and merge (merge.py). Everything else (inspection, reading, the job,
the one transaction, the error workbook, the template) is the engine's
(portal/spreadsheets/).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

from django.utils import timezone

from portal.creditcode import CreditCodeError, validate_credit_code
from portal.models import OrgKind
from portal.spreadsheets.form import Column, RowResult, SpreadsheetForm
from portal.spreadsheets.headers import find_header, fold
from portal.spreadsheets.reader import parse_date
from portal.spreadsheets.staging import copy_value as _copy_value

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

KIND_LABELS = ("手机", "固话", "短号码", "400/800", "短信端口", "子端口")
PURPOSE_LABELS = ("营销", "催收", "营销及催收")
BASIC_CARRIERS = ("中国移动", "中国联通", "中国电信", "中国广电")

# The declaration: the reader, the template and its 填写说明 are built from it.
FORM_COLUMNS = (
    Column(
        NUMBER,
        required=True,
        synonyms=("号码/端口", "电话号码", "端口号"),
        help="手机号、固话（带区号，如 0571-87654321）、95/96 短号码、400/800 号码、106 开头的"
        "短信端口或子端口。请保持单元格为文本格式，以免被 Excel 变成科学计数法。",
        example="10690000123",
    ),
    Column(
        KIND,
        synonyms=("类型",),
        choices=KIND_LABELS,
        help="手机 / 固话 / 短号码 / 400/800 / 短信端口 / 子端口；留空时平台自动识别，"
        "填写时须与号码相符。",
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
        PURPOSE,
        required=True,
        synonyms=("使用用途", "业务类型"),
        choices=PURPOSE_LABELS,
        help="营销 / 催收 / 营销及催收。",
        example="营销",
    ),
    Column(
        USER,
        required=True,
        synonyms=("使用主体", "实际使用单位"),
        help="本机构；或分支机构：本机构名称加分支机构名称（如“某银行杭州分行”）；"
        "或已登记的委托合作单位名称。",
        example="本机构",
    ),
    Column(
        USER_CODE,
        synonyms=("信用代码",),
        requirement="使用单位非本机构时必填",
        help="18 位统一社会信用代码；委托合作单位须先在平台“合作单位”中登记委托书。",
    ),
    Column(
        CARRIER,
        required=True,
        synonyms=("运营商", "号码归属运营商"),
        choices=BASIC_CARRIERS,
        strict=False,  # carriers may be SMS providers
        help="提供该号码或端口的运营商，如中国移动、中国联通、中国电信、中国广电，或短信服务商名称。",
        example="中国移动",
    ),
    Column(
        DOCUMENT,
        synonyms=("授权书编号",),
        help="委托合作单位使用时填写，须与登记的委托书编号一致。",
    ),
    Column(
        VALID_FROM,
        required=True,
        synonyms=("启用日期", "开始日期"),
        help="如 2026-03-01、2026/3/1 或 2026年3月1日。",
        example="2026-01-01",
    ),
    Column(
        VALID_TO,
        synonyms=("终止日期", "结束日期"),
        help="留空表示长期；不得早于起始日期，也不得晚于委托书截止日期。",
    ),
    Column(REMARK, help="不超过 500 字。", example="示例行，填写时请删除"),
)
COLUMNS = [c.name for c in FORM_COLUMNS]
REQUIRED = [c.name for c in FORM_COLUMNS if c.required]
OPTIONAL = [c for c in COLUMNS if c not in REQUIRED]
SYNONYMS = {alias: c.name for c in FORM_COLUMNS for alias in c.synonyms}
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
    print_cache: dict = field(default_factory=dict)
    row_plan: tuple | None = field(default=None, repr=False)

    @classmethod
    def for_institution(cls, institution, *, today: dt.date) -> Context:
        partners = {p.credit_code: p for p in Partner.objects.filter(institution=institution)}
        return cls(institution.pk, institution.name, institution.credit_code, partners, today)


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


# The columns validate_row reads, in the order _validate takes them.
ROW_COLUMNS = (NUMBER, KIND, MAIN_PORT, *ATTRIBUTE_COLUMNS)


def _row_getter(columns: dict[str, int]):
    """``cells`` (padded, see validate_cells) -> the texts of the number's three columns
    and the tuple of ATTRIBUTE_COLUMNS, in C (operator.itemgetter); an absent column reads
    the padding cell at the end (-1). Returns ``(width, padded, number_getter,
    attribute_getter)``: rows at least ``width`` long need no padding when ``padded`` is
    False (every column is in the file)."""
    indexes = [columns.get(name, -1) for name in ROW_COLUMNS]
    width = max(columns.values(), default=-1) + 1
    return width, -1 in indexes, itemgetter(*indexes[:3]), itemgetter(*indexes[3:])


def validate_cells(cells: list[str], columns: dict[str, int], ctx: Context) -> RowResult:
    """``validate_row`` for one sheet row: ``columns`` maps canonical columns to indexes
    (the same dict for every row of a file: its getters are built once)."""
    plan = ctx.row_plan
    if plan is None or plan[0] is not columns:
        plan = ctx.row_plan = (columns, *_row_getter(columns))
    _, width, padded, number_texts, attribute_texts = plan
    if padded or len(cells) < width:
        # At least one empty cell after the last: every index exists, and -1 is ''.
        cells = cells + [""] * max(width + 1 - len(cells), 1)
    raw, kind_label, main_raw = number_texts(cells)
    return _validate(raw, kind_label, main_raw, attribute_texts(cells), ctx)


def validate_row(get: Callable[[str], str], ctx: Context) -> RowResult:
    """Validate one row completely; every problem is named (forms.md: strict in meaning).

    ``get(column)`` returns the cell text of a canonical column ('' when absent). The
    columns that describe *how* a number is used (purpose, user, carrier, period...) repeat
    from row to row in any real register, so their validation is cached per distinct
    combination in ``ctx``; the number itself is checked on every row.
    """
    key = tuple(get(column) for column in ATTRIBUTE_COLUMNS)
    return _validate(get(NUMBER), get(KIND), get(MAIN_PORT), key, ctx)


def number_cells(
    raw: str, kind_label: str, main_raw: str, errors: list
) -> tuple[str | None, object, str]:
    """The 号码 / 号码类型 / 所属主端口 cells of a row, as every form that lists numbers reads
    them (forms.md §1, §2): ``(number, kind, main_port)``, problems appended to ``errors``.
    A sub-port names its main port, which must be its prefix."""
    number, kind, error = numbers.classify(raw) if raw else (None, None, f"{NUMBER}不能为空")
    if error:
        errors.append((NUMBER, error))

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
    return number, kind, main_port


def validate_number(get: Callable[[str], str], errors: list) -> tuple[str, str | None, object, str]:
    """:func:`number_cells` for a form that reads its cells with ``get(column)`` (the
    服务对象报送表): ``(raw, number, kind, main_port)``."""
    raw = get(NUMBER)
    return (raw, *number_cells(raw, get(KIND), get(MAIN_PORT), errors))


def _validate(raw: str, kind_label: str, main_raw: str, key: tuple, ctx: Context) -> RowResult:
    errors: list[tuple[str, str]] = []
    number, kind, main_port = number_cells(raw, kind_label, main_raw, errors)

    cached = ctx.attribute_cache.get(key)
    if cached is None:
        if len(ctx.attribute_cache) >= _CACHE_LIMIT:
            ctx.attribute_cache.clear()
            ctx.print_cache.clear()
        cached = ctx.attribute_cache[key] = _attributes(
            dict(zip(ATTRIBUTE_COLUMNS, key, strict=True)), ctx
        )
    attribute_errors, attributes, attribute_print, segment = cached
    if attribute_errors:
        errors.extend(attribute_errors)
    if errors:
        return RowResult(errors=errors, key=number)
    is_sub_port = bool(main_port)
    raw = str(raw)[:64]
    # The fingerprint depends on the number's kind and main port and on the usage
    # columns, not on the number: one per distinct combination (sub-ports: per main port).
    print_key = (kind, main_port, attribute_print)
    print_ = ctx.print_cache.get(print_key)
    if print_ is None:
        if len(ctx.print_cache) >= _CACHE_LIMIT:
            ctx.print_cache.clear()
        print_ = ctx.print_cache[print_key] = fingerprint(
            (kind, main_port, is_sub_port, attribute_print)
        )
    values = (number, str(kind), raw, main_port, is_sub_port, *attributes, print_)
    tail = (
        f"{number}\t{kind}\t{raw if raw.isalnum() else _copy_value(raw)}\t{main_port}\t"
        f"{'t' if is_sub_port else 'f'}\t{segment}\t{print_}"
    )
    return RowResult(values=values, key=number, copy_tail=tail)


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


# --- the form -------------------------------------------------------------------------


class RegisterForm(SpreadsheetForm):
    """The 号码登记表 as the engine sees it: uploaded by institutions, merged into their
    register (merge.py), one number once per file."""

    code = "registry.numbers"
    label = "号码登记表"
    version = 2
    sheet_title = "号码登记表"
    columns = FORM_COLUMNS
    notes = (
        "表头所在行之前可以有标题行；列的顺序不限；未知的列会被忽略并提示。",
        "只读取第一个可见的工作表（本“填写说明”表不会被读取，请在“号码登记表”中填写）。",
        "任何一行有错误，整个文件都不会导入；平台会返回错误报告，逐行列出错误列和原因。",
        "导入方式“合并”（默认）只新增或更新文件中的号码；“替换”还会终止文件中未包含的在用号码"
        "（设置截止日期，不删除）。",
        "同一号码由多家机构登记在用时（如同一催收机构服务多家机构），登记照常导入，标记为"
        "“多机构登记”，由管理局核实。",
    )
    uploader_kinds = (OrgKind.INSTITUTION,)
    audit_prefix = "import"
    skip_example_rows = True  # its remark says 示例行，填写时请删除
    unchanged_text = "号码登记未作任何修改"
    duplicate_column = NUMBER
    duplicate_message = "号码 {key} 在文件中重复（与第 {first} 行相同）"
    pages = {  # noqa: RUF012 - read only
        "list": "registry_import_list",
        "upload": "registry_import_create",
        "progress": "registry_import_progress",
        "errors": "registry_import_errors",
    }

    def check_uploader(self, *, actor, organisation) -> None:
        from ..services import _require_institution, _require_writer

        _require_institution(organisation)
        _require_writer(actor, organisation)

    def clean_options(self, options: dict) -> dict:
        from portal.errors import PortalError

        from ..models import ImportMode

        mode = options.get("mode") or ImportMode.MERGE
        if mode not in ImportMode.values:
            raise PortalError("导入方式应为 merge（合并）或 replace（替换）", code="mode")
        return {"mode": str(mode)}

    def context(self, job) -> Context:
        from . import merge

        merge.refresh_statistics()  # before the transaction: statistics of what it reads
        return Context.for_institution(job.organisation, today=timezone.localdate())

    def validate(self, cells: list[str], columns: dict[str, int], ctx: Context) -> RowResult:
        return validate_cells(cells, columns, ctx)

    def lock(self) -> None:
        from . import merge

        merge.lock_merges()

    def staging(self, job, ctx: Context):
        from . import merge

        return merge.RegisterStaging(job, ctx)

    def option_labels(self, job) -> list[str]:
        return ["替换方式" if job.mode == "replace" else "合并方式"]

    def result_link(self, job, user) -> tuple[str, str]:
        from django.urls import reverse

        url = reverse("registry_number_list")
        if user.is_regulator or user.is_financial_regulator:
            url += f"?institution={job.organisation_id}"
        return url, "查看号码登记"

    def result_message(self, job, counts: dict[str, int]) -> str:
        message = (
            f"已导入 {job.rows_total} 行：新增 {counts['created']}，变更 {counts['updated']}，"
            f"未变 {counts['unchanged']}，终止 {counts['ended']}"
        )
        if counts.get("shared"):
            # Issue 9 §6: say how many, name no one; the administration verifies them.
            message += (
                f"。其中 {counts['shared']} 个号码也由其他机构登记在用，"
                "已标记为“多机构登记”，将由管理局核实"
            )
        return message


FORM = RegisterForm()
