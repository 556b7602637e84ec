"""The 非应邀短信发送报备表 (forms.md §3; 000 §二(二)3 and its attachment) as a form of the
upload engine: its declaration, its row validation (also used by the online form and the
API: one rule for every way in) and its merge, which creates the filings as drafts with
their checks (filings/checks.py). One bad row rejects the whole file with the engine's
one-pass error workbook.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from portal.carriers import serves
from portal.creditcode import CreditCodeError, validate_credit_code
from portal.models import OrgKind
from portal.spreadsheets.form import Column, FormStaging, RowResult, SpreadsheetForm
from portal.spreadsheets.reader import fold, parse_datetime
from portal.workdays import SHANGHAI

from ..models import PURPOSE_BY_LABEL

CARRIER = "报备单位"
SENDER = "发送主体名称"
SENDER_CODE = "发送主体统一社会信用代码"
ENTRUSTING = "委托金融机构名称"
ENTRUSTING_CODE = "委托金融机构统一社会信用代码"
SIGNATURE = "短信签名"
PORT = "发送端口"
PURPOSE = "发送目的"
CONTENT = "短信内容"
START = "计划发送开始时间"
END = "计划发送结束时间"
COUNT = "计划发送数量"
RECIPIENTS = "发送对象范围"
CONSENT = "发送对象同意情况"
REGION = "发送地域"
OPT_OUT = "退订方式"
CONTACT = "联系人"
PHONE = "联系电话"

PURPOSE_CHOICES = ("营销", "催收", "通知")

FORM_COLUMNS = (
    Column(
        CARRIER,
        required=True,
        synonyms=("报备运营商",),
        help="报备的电信业务经营者（本单位名称，或所属网络如“中国移动”）。",
        example="中国移动通信集团浙江有限公司",
    ),
    Column(
        SENDER,
        required=True,
        synonyms=("发送单位",),
        help="实际发送短信的金融机构，或受金融机构委托的合作单位。",
        example="甲银行股份有限公司",
    ),
    Column(
        SENDER_CODE,
        required=True,
        help="18 位统一社会信用代码。",
        example="91330000MA2A1CE00B",
    ),
    Column(
        ENTRUSTING,
        synonyms=("金融机构名称",),
        requirement="合作单位发送时必填",
        help="发送主体为委托合作单位时，填写委托它的金融机构；委托须已在平台登记。",
    ),
    Column(ENTRUSTING_CODE, requirement="合作单位发送时必填", help="18 位统一社会信用代码。"),
    Column(
        SIGNATURE,
        required=True,
        synonyms=("签名",),
        help="短信中的【签名】：机构全称、能识别机构的连续简称，或机构在平台登记的签名。",
        example="【甲银行】",
    ),
    Column(
        PORT,
        required=True,
        synonyms=("端口号", "发送号码"),
        help="发送的短信端口或子端口（106 开头），须在机构的号码登记中（子端口可由其主端口覆盖）。",
        example="106905559901",
    ),
    Column(
        PURPOSE,
        required=True,
        synonyms=("用途", "短信类型"),
        choices=PURPOSE_CHOICES,
        help="营销 / 催收 / 通知。",
        example="营销",
    ),
    Column(
        CONTENT,
        required=True,
        synonyms=("内容",),
        help="短信全文，变量写作 {变量}，如“{姓名}您好”。营销短信须含退订方式，营销和催收短信"
        "须含联系方式。",
        example="【甲银行】尊敬的{姓名}，信用卡分期优惠至月底，详询95599。回T退订",
    ),
    Column(
        START,
        required=True,
        synonyms=("发送开始时间",),
        help="北京时间，如 2026-03-20 09:00；须在开始前 5 个工作日报备。",
        example="2026-03-20 09:00",
    ),
    Column(
        END,
        required=True,
        synonyms=("发送结束时间",),
        help="北京时间，不得早于开始时间；催收短信不得在 22:00–08:00 发送。",
        example="2026-03-20 18:00",
    ),
    Column(COUNT, required=True, synonyms=("发送量",), help="正整数。", example="50000"),
    Column(
        RECIPIENTS,
        required=True,
        synonyms=("接收对象",),
        help="接收短信的对象，如“本行信用卡客户”。",
        example="本行信用卡客户",
    ),
    Column(
        CONSENT,
        required=True,
        synonyms=("用户同意方式",),
        help="营销短信：用户同意接收的方式（如“开户时勾选同意接收营销信息”）。",
        example="开户时勾选同意接收营销信息",
    ),
    Column(REGION, synonyms=("地区",), help="如“浙江省”。", example="浙江省"),
    Column(OPT_OUT, requirement="营销短信必填", help="如“回T退订”。", example="回T退订"),
    Column(CONTACT, required=True, example="张三"),
    Column(PHONE, required=True, example="0571-87650001"),
)
COLUMNS = [c.name for c in FORM_COLUMNS]

# The model field of each column (SmsFiling), in the form's order.
FIELD_OF = {
    CARRIER: "carrier_label",
    SENDER: "sender_name",
    SENDER_CODE: "sender_credit_code",
    ENTRUSTING: "entrusting_name",
    ENTRUSTING_CODE: "entrusting_credit_code",
    SIGNATURE: "signature",
    PORT: "port",
    PURPOSE: "purpose",
    CONTENT: "content",
    START: "start_at",
    END: "end_at",
    COUNT: "planned_count",
    RECIPIENTS: "recipients",
    CONSENT: "consent",
    REGION: "region",
    OPT_OUT: "opt_out",
    CONTACT: "contact_name",
    PHONE: "contact_phone",
}
COLUMN_OF = {field: column for column, field in FIELD_OF.items()}
MAX_LENGTH = {
    CARRIER: 200,
    SENDER: 200,
    ENTRUSTING: 200,
    SIGNATURE: 60,
    CONTENT: 2000,
    RECIPIENTS: 500,
    CONSENT: 500,
    REGION: 200,
    OPT_OUT: 200,
    CONTACT: 100,
    PHONE: 40,
}


@dataclass
class Context:
    """What validating a row needs to know about the filing carrier, loaded once."""

    carrier: object  # portal.Organisation (network, trade names: portal.carriers.serves)
    carrier_name: str


def _moment(text: str) -> dt.datetime:
    """A date-time as written in a cell, in Asia/Shanghai, as an aware datetime."""
    return parse_datetime(text).replace(tzinfo=SHANGHAI)


def _code(text: str, column: str, errors: list) -> str:
    try:
        return validate_credit_code(text)
    except CreditCodeError as exc:
        errors.append((column, f"{column}：{exc.message}"))
        return ""


def clean_values(get: Callable[[str], str], ctx: Context) -> tuple[dict, list[tuple[str, str]]]:
    """One filing's columns (``get(column)`` -> the text) -> (model values, errors).

    Errors are what no filing may hold (a missing column, an unreadable date, a bad credit
    code, a port that is not a number, another carrier's name); what a filing may hold but
    should not (late, unregistered port, no opt-out…) is for the checks."""
    from registry import numbers

    errors: list[tuple[str, str]] = []
    values: dict = {}
    for column in FORM_COLUMNS:
        text = get(column.name).strip()
        if column.required and not text:
            errors.append((column.name, f"{column.name}不能为空"))
        limit = MAX_LENGTH.get(column.name)
        if limit and len(text) > limit:
            errors.append((column.name, f"{column.name}不能超过 {limit} 字"))
        values[FIELD_OF[column.name]] = text[:limit] if limit else text

    label = values["carrier_label"]
    if label and fold(label) != fold(ctx.carrier_name) and not serves(ctx.carrier, label):
        errors.append((CARRIER, f"报备单位“{label}”不是本单位（{ctx.carrier_name}）"))

    if values["sender_credit_code"]:
        values["sender_credit_code"] = _code(values["sender_credit_code"], SENDER_CODE, errors)
    if values["entrusting_credit_code"]:
        values["entrusting_credit_code"] = _code(
            values["entrusting_credit_code"], ENTRUSTING_CODE, errors
        )
    if bool(values["entrusting_name"]) != bool(get(ENTRUSTING_CODE).strip()):
        errors.append(
            (ENTRUSTING_CODE, "委托金融机构的名称和统一社会信用代码须同时填写（或同时留空）")
        )

    raw_port = values["port"]
    values["port_raw"] = raw_port[:64]
    if raw_port:
        number, _kind, problem = numbers.classify(raw_port)
        if problem:
            errors.append((PORT, problem))
        values["port"] = number or ""

    text = values["purpose"]
    purpose = PURPOSE_BY_LABEL.get(fold(text)) if text else None
    if text and purpose is None:
        errors.append((PURPOSE, f"发送目的“{text}”无效，可选：营销、催收、通知"))
    values["purpose"] = str(purpose) if purpose else ""

    for column, name in ((START, "start_at"), (END, "end_at")):
        if values[name]:
            try:
                values[name] = _moment(values[name])
            except ValueError as exc:
                errors.append((column, f"{column}：{exc}"))
                values[name] = None
        else:
            values[name] = None

    count = unicodedata.normalize("NFKC", values["planned_count"]).replace(",", "")
    if count.endswith(".0"):
        count = count[:-2]
    if values["planned_count"] and (not count.isdigit() or int(count) <= 0):
        errors.append((COUNT, f"计划发送数量应为正整数，实际为“{values['planned_count']}”"))
        values["planned_count"] = None
    else:
        values["planned_count"] = int(count) if count.isdigit() else None
    if values["planned_count"] and values["planned_count"] > 2_000_000_000:
        errors.append((COUNT, "计划发送数量过大"))
    return values, errors


def column_texts(values: dict) -> dict[str, str]:
    """A filing's values as the form's column texts (versions, exports, diffs)."""
    from ..models import SmsPurpose

    texts = {}
    for column, name in FIELD_OF.items():
        value = values.get(name)
        if name == "port":
            value = values.get("port_raw") or value
        if isinstance(value, dt.datetime):
            value = value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        elif name == "purpose" and value:
            value = SmsPurpose(value).label
        texts[column] = "" if value is None else str(value)
    return texts


class SmsFilingForm(SpreadsheetForm):
    """The 非应邀短信发送报备表 as the engine sees it: uploaded by carriers, one or many
    campaigns per file, each becoming a draft filing with its checks."""

    code = "filings.sms"
    label = "非应邀短信发送报备表"
    version = 1
    sheet_title = "非应邀短信发送报备表"
    columns = FORM_COLUMNS
    notes = (
        "每行一次短信群发（一个文件可报备多次群发）；表头所在行之前可以有标题行，列的顺序不限。",
        "须在计划发送开始日前 5 个工作日（按官方工作日历，含调休）完成报备（000 §二(二)3）。",
        "任何一行有错误，整个文件都不会导入；平台会返回错误报告，逐行列出错误列和原因。",
        "导入后每行成为一份草稿报备，并显示检查结果（如逾期、端口未登记、缺少退订方式）；"
        "没有阻断性问题时可提交。",
        "时间均为北京时间；短信内容中的变量写作 {变量}。",
    )
    uploader_kinds = (OrgKind.CARRIER,)
    audit_prefix = "filing_upload"
    unchanged_text = "未创建任何短信报备"
    pages = {  # noqa: RUF012 - read only
        "list": "filing_list",
        "upload": "filing_upload",
    }

    def context(self, job) -> Context:
        return Context(carrier=job.organisation, carrier_name=job.organisation.name)

    def validate(self, cells: list[str], columns: dict[str, int], ctx: Context) -> RowResult:
        n = len(cells)

        def get(name: str) -> str:
            index = columns.get(name)
            return cells[index] if index is not None and index < n else ""

        values, errors = clean_values(get, ctx)
        if errors:
            return RowResult(errors=errors)
        return RowResult(values=(values,))

    def staging(self, job, ctx: Context) -> FormStaging:
        return FilingStaging(job)

    def result_message(self, job, counts: dict[str, int]) -> str:
        message = f"已导入 {counts.get('created', 0)} 份短信报备（草稿）"
        blocked = counts.get("blocked", 0)
        if blocked:
            message += f"，其中 {blocked} 份有阻断性问题，须修改后才能提交"
        return message + "；请在“短信报备”中查看检查结果并提交"

    def result_link(self, job, user) -> tuple[str, str]:
        from django.urls import reverse

        return f"{reverse('filing_list')}?job={job.pk}", "查看本文件的报备"


class FilingStaging(FormStaging):
    """Small files (a few campaigns): the valid rows are kept and created at the end, all
    in the engine's one transaction, with one set-based check run."""

    def __init__(self, job) -> None:
        self.job = job
        self.rows: list[tuple[int, dict]] = []

    def merge_batch(self, batch) -> None:
        self.rows.extend((row.row_no, row.result.values[0]) for row in batch)

    def complete(self) -> dict[str, int]:
        from .. import services

        filings = services.filings_create(
            actor=self.job.created_by or _system(),
            carrier=self.job.organisation,
            rows=self.rows,
            job=self.job,
        )
        return {"created": len(filings), "blocked": sum(1 for f in filings if f.blocking)}


def _system():
    from portal.audit import SYSTEM

    return SYSTEM


FORM = SmsFilingForm()
