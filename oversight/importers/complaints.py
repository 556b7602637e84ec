"""The 投诉转办清单 (forms.md §4; 000 §三(三)(四), 003): complaints transferred to the
administration by the 12321 centre, the 12345 hotline, petitions or a financial regulator,
one row per complaint. A form of the upload engine; only regulators upload it.

A transfer number (转办编号) repeated within a channel is refused, within the file and
against the complaints already recorded. The complainant's contact is personal data: it is
masked in the error report (``Column.personal``) and everywhere after import."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from portal.models import OrgKind
from portal.spreadsheets.form import Column, FormStaging, RowResult, SpreadsheetForm, ValidRow
from portal.spreadsheets.reader import fold, parse_datetime
from registry import numbers

from ..models import ComplaintCategory, ComplaintChannel

NUMBER = "被投诉号码"
RECEIVED = "投诉时间"
CHANNEL = "投诉渠道"
CATEGORY = "投诉类别"
CONTENT = "投诉内容"
INSTITUTION = "涉及机构名称"
CONTACT = "投诉人联系方式"
REFERENCE = "转办编号"

CONTENT_MAX = 5000
CONTACT_MAX = 100
REFERENCE_MAX = 64
INSTITUTION_MAX = 200

# Channels as people write them in a transfer list: folded label -> code.
CHANNEL_LABELS = ("12321", "12345", "信访", "金融管理部门", "其他")
_CHANNELS = {
    "12321": ComplaintChannel.C12321,
    "12321转办": ComplaintChannel.C12321,
    "12321举报中心": ComplaintChannel.C12321,
    "12345": ComplaintChannel.C12345,
    "12345热线": ComplaintChannel.C12345,
    "信访": ComplaintChannel.PETITION,
    "金融管理部门": ComplaintChannel.FINANCIAL_REGULATOR,
    "金融监管部门": ComplaintChannel.FINANCIAL_REGULATOR,
    "金融监管局": ComplaintChannel.FINANCIAL_REGULATOR,
    "本平台": ComplaintChannel.PORTAL,
    "其他": ComplaintChannel.OTHER,
}
_CATEGORIES = {
    "营销": ComplaintCategory.MARKETING,
    "营销类": ComplaintCategory.MARKETING,
    "催收": ComplaintCategory.COLLECTION,
    "催收类": ComplaintCategory.COLLECTION,
    "其他": ComplaintCategory.OTHER,
}

COLUMNS = (
    Column(
        NUMBER,
        required=True,
        synonyms=("投诉号码", "号码"),
        help="被投诉的手机号、固话、95/96 短号码、400/800 或短信端口（含子端口）。",
        example="13800138000",
    ),
    Column(
        RECEIVED,
        required=True,
        synonyms=("来电时间", "受理时间"),
        help="北京时间，如 2026-03-01 09:30、2026/3/1 9:30 或 2026年3月1日9时30分；"
        "只写日期按 00:00。",
        example="2026-03-01 09:30",
    ),
    Column(
        CHANNEL,
        required=True,
        synonyms=("来源", "渠道"),
        choices=CHANNEL_LABELS,
        help="12321、12345、信访、金融管理部门或其他。",
        example="12321",
    ),
    Column(
        CATEGORY,
        required=True,
        synonyms=("类别",),
        choices=("营销", "催收", "其他"),
        help="营销、催收或其他。",
        example="催收",
    ),
    Column(
        CONTENT,
        required=True,
        synonyms=("内容", "问题描述"),
        help=f"投诉的事情经过，不超过 {CONTENT_MAX} 字；其中的身份证号、手机号在平台上脱敏显示。",
        example="多次接到催收电话，称要联系家人",
    ),
    Column(
        INSTITUTION,
        synonyms=("被投诉机构",),
        help="投诉人指认的机构（如有）；与平台登记的金融机构名称一致时自动关联。",
    ),
    Column(
        CONTACT,
        synonyms=("联系电话",),
        personal=True,
        help="投诉人的联系方式，属个人信息：导入后在平台上一律脱敏显示，查看全文须经管理局并留痕。",
    ),
    Column(
        REFERENCE,
        synonyms=("工单号",),
        help="转办单位的编号；同一渠道内不得重复（与已导入的投诉也不得重复）。",
        example="12321-2026-000001",
    ),
)


@dataclass
class Context:
    institutions: dict[str, int]  # folded name -> organisation id
    now: dt.datetime


def institutions_by_name() -> dict[str, int]:
    """Institutions by folded name: how a complaint's 涉及机构名称 is linked to one, in a
    list and one by one alike."""
    from portal.models import Organisation

    return {
        fold(name): pk
        for pk, name in Organisation.objects.filter(kind=OrgKind.INSTITUTION).values_list(
            "pk", "name"
        )
    }


def _get(cells: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def validate_cells(cells: list[str], columns: dict[str, int], ctx: Context) -> RowResult:
    """One complaint row: every column checked, every error reported."""
    errors: list[tuple[str, str]] = []
    raw = _get(cells, columns, NUMBER)
    number = kind = None
    if not raw:
        errors.append((NUMBER, f"{NUMBER}不能为空"))
    else:
        try:
            parsed = numbers.parse_number(raw)
        except numbers.NumberError as exc:
            errors.append((NUMBER, str(exc)))
        else:
            number, kind = parsed.number, str(parsed.kind)

    received = None
    text = _get(cells, columns, RECEIVED)
    if not text:
        errors.append((RECEIVED, f"{RECEIVED}不能为空"))
    else:
        try:
            received = timezone.make_aware(parse_datetime(text), timezone.get_default_timezone())
        except ValueError as exc:
            errors.append((RECEIVED, str(exc)))
        else:
            if received > ctx.now:
                errors.append((RECEIVED, f"{RECEIVED}“{text}”晚于当前时间"))
            elif received.year < 2000:
                errors.append((RECEIVED, f"{RECEIVED}“{text}”早于 2000 年，请核对"))

    channel = _CHANNELS.get(fold(_get(cells, columns, CHANNEL)))
    if channel is None:
        shown = _get(cells, columns, CHANNEL)
        errors.append(
            (CHANNEL, f"{CHANNEL}“{shown}”无效，应为：{'、'.join(CHANNEL_LABELS)}")
            if shown
            else (CHANNEL, f"{CHANNEL}不能为空")
        )
    category = _CATEGORIES.get(fold(_get(cells, columns, CATEGORY)))
    if category is None:
        shown = _get(cells, columns, CATEGORY)
        errors.append(
            (CATEGORY, f"{CATEGORY}“{shown}”无效，应为：营销、催收、其他")
            if shown
            else (CATEGORY, f"{CATEGORY}不能为空")
        )

    content = _get(cells, columns, CONTENT)
    if not content:
        errors.append((CONTENT, f"{CONTENT}不能为空"))
    elif len(content) > CONTENT_MAX:
        errors.append((CONTENT, f"{CONTENT}超过 {CONTENT_MAX} 字（{len(content)} 字）"))
    institution_name = _get(cells, columns, INSTITUTION)
    if len(institution_name) > INSTITUTION_MAX:
        errors.append((INSTITUTION, f"{INSTITUTION}超过 {INSTITUTION_MAX} 字"))
    contact = _get(cells, columns, CONTACT)
    if len(contact) > CONTACT_MAX:
        errors.append((CONTACT, f"{CONTACT}超过 {CONTACT_MAX} 字"))
    reference = _get(cells, columns, REFERENCE)
    if len(reference) > REFERENCE_MAX:
        errors.append((REFERENCE, f"{REFERENCE}超过 {REFERENCE_MAX} 个字符"))
    if errors:
        return RowResult(errors=errors)
    institution_id = ctx.institutions.get(fold(institution_name)) if institution_name else None
    values = (
        number,
        kind,
        raw[:64],
        received,
        str(channel),
        str(category),
        content,
        institution_name,
        institution_id,
        contact,
        reference,
    )
    # Unique per channel; the key reads in the duplicate message: "X（12321 转办）".
    key = f"{reference}（{channel.label}）" if reference else None
    return RowResult(values=values, key=key)


class ComplaintStaging(FormStaging):
    """Complaint lists are small (thousands of rows): the batch is checked against the
    stored transfer numbers with one query and inserted with bulk_create."""

    def __init__(self, job) -> None:
        self.job = job
        self.created = 0

    def stage(self, batch: list[ValidRow]) -> dict[int, list[tuple[str, str]]]:
        from ..models import Complaint

        wanted = {
            (row.result.values[4], row.result.values[10]): row.row_no
            for row in batch
            if row.result.key
        }
        if not wanted:
            return {}
        found = Complaint.objects.filter(
            reference__in={reference for _, reference in wanted}
        ).values_list("channel", "reference")
        labels = dict(ComplaintChannel.choices)
        return {
            wanted[key]: [
                (REFERENCE, f"{labels[key[0]]}渠道的转办编号 {key[1]} 已导入过，不能重复导入")
            ]
            for key in map(tuple, found)
            if key in wanted
        }

    def merge_batch(self, batch: list[ValidRow]) -> None:
        from ..models import Complaint

        fields = (
            "number",
            "number_kind",
            "raw_number",
            "received_at",
            "channel",
            "category",
            "content",
            "institution_name",
            "institution_id",
            "contact",
            "reference",
        )
        Complaint.objects.bulk_create(
            [
                Complaint(
                    **dict(zip(fields, row.result.values, strict=True)),
                    entered_by_id=self.job.created_by_id,
                    upload_job=self.job,
                )
                for row in batch
            ],
            batch_size=1000,
        )
        self.created += len(batch)

    def complete(self) -> dict[str, int]:
        return {"created": self.created}


class ComplaintListForm(SpreadsheetForm):
    code = "oversight.complaints"
    label = "投诉转办清单"
    version = 1
    sheet_title = "投诉转办清单"
    columns = COLUMNS
    notes = (
        "每行一件投诉；表头所在行之前可以有标题行；列的顺序不限；未知的列会被忽略并提示。",
        "只读取第一个可见的工作表（本“填写说明”表不会被读取）。",
        "任何一行有错误，整个文件都不会导入；平台会返回错误报告，逐行列出错误列和原因"
        "（错误报告中的投诉人联系方式已脱敏）。",
        "同一渠道的转办编号不得重复；已导入过的转办编号再次出现时整份文件被退回。",
        "投诉是比对的证据之一：被投诉号码未在任何机构登记、或登记号码投诉达到阈值时，"
        "比对会列出相应问题线索。",
    )
    uploader_kinds = (OrgKind.REGULATOR,)
    audit_prefix = "complaints"
    unchanged_text = "投诉未作任何修改"
    duplicate_column = REFERENCE
    duplicate_message = "转办编号 {key}在文件中重复（与第 {first} 行相同）"
    pages = {"list": "complaint_list", "upload": "complaint_import"}  # noqa: RUF012

    def context(self, job) -> Context:
        return Context(institutions=institutions_by_name(), now=timezone.now())

    def validate(self, cells: list[str], columns: dict[str, int], ctx: Context) -> RowResult:
        return validate_cells(cells, columns, ctx)

    def staging(self, job, ctx: Context) -> ComplaintStaging:
        return ComplaintStaging(job)

    def result_link(self, job, user) -> tuple[str, str]:
        from django.urls import reverse

        return reverse("complaint_list") + f"?upload={job.pk}", "查看导入的投诉"

    def result_message(self, job, counts: dict[str, int]) -> str:
        return f"已导入投诉 {counts['created']} 件"


FORM = ComplaintListForm()
