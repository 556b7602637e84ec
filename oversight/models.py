"""Oversight: complaints as evidence (issue 13 item 1; 000 §三(三)(四), 003).

A complaint records the number complained about (canonical, with its kind), when, the
channel it came through, its category and its text. The complainant's contact is personal
data (000 §二(一)5): kept for the follow-up, shown masked everywhere, read in full only
through ``services.complaint_contact_reveal`` (audited)."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.masking import mask_contact, mask_text
from portal.models import Organisation, OrgKind
from portal.spreadsheets.models import UploadJob
from registry.models import NumberKindField

from .cases import DisposalCase, Review, in_scope


class ComplaintChannel(models.TextChoices):
    C12321 = "12321", "12321 转办"
    C12345 = "12345", "12345 热线"
    PETITION = "petition", "信访"
    FINANCIAL_REGULATOR = "financial_regulator", "金融管理部门"
    PORTAL = "portal", "本平台"
    OTHER = "other", "其他"


class ComplaintCategory(models.TextChoices):
    MARKETING = "marketing", "营销"
    COLLECTION = "collection", "催收"
    OTHER = "other", "其他"


class ComplaintStatus(models.TextChoices):
    """What the complainant sees on the tracking page (issue 15 §2)."""

    RECEIVED = "received", "已受理"
    CHECKING = "checking", "核查中"
    PROCESSED = "processed", "已处理"


# No 0/O/1/I/L: read out over the phone or typed from a note without ambiguity.
TRACKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TRACKING_LENGTH = 16  # 31**16 ≈ 2**79: not guessable, and not derived from the id


def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def normalise_tracking_code(text: str) -> str:
    """What a complainant types (spaces, dashes, lower case) as stored."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())[:32]


class ComplaintQuerySet(models.QuerySet):
    def visible_to(self, user) -> ComplaintQuerySet:
        """The administration and the financial regulators read complaints (000 §三(四));
        institutions and carriers meet them only as a finding's evidence."""
        organisation = getattr(user, "organisation", None) if user else None
        if not getattr(user, "is_authenticated", False) or organisation is None:
            return self.none()
        if organisation.kind == OrgKind.REGULATOR:
            return self
        if organisation.kind == OrgKind.FINANCIAL_REGULATOR:
            # Those about the institutions it supervises (issue 14 §6).
            return self.filter(institution__in=organisation.supervised())
        return self.none()

    def countable(self) -> ComplaintQuerySet:
        """Complaints that count as evidence (``COMPLAINED_REGISTERED``/``_UNREGISTERED``):
        not in a group the administration marked abnormal (003: organised complaints are
        told from real ones). SQL: ``excluded_reason = ''``."""
        return self.filter(excluded_reason="")


class Complaint(models.Model):
    number = models.CharField("被投诉号码", max_length=32)
    number_kind = models.CharField("号码类型", max_length=16, choices=NumberKindField.choices)
    raw_number = models.CharField("原始号码", max_length=64, blank=True)
    received_at = models.DateTimeField("投诉时间")
    channel = models.CharField("投诉渠道", max_length=24, choices=ComplaintChannel.choices)
    category = models.CharField("投诉类别", max_length=16, choices=ComplaintCategory.choices)
    content = models.TextField("投诉内容")
    institution_name = models.CharField("涉及机构名称", max_length=200, blank=True)
    institution = models.ForeignKey(
        Organisation,
        verbose_name="涉及机构",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
        limit_choices_to={"kind": OrgKind.INSTITUTION},
    )
    contact = models.CharField("投诉人联系方式", max_length=100, blank=True)  # personal data
    reference = models.CharField("转办编号", max_length=64, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    upload_job = models.ForeignKey(
        UploadJob, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField("录入时间", auto_now_add=True)
    tracking_code = models.CharField(
        "查询码", max_length=32, unique=True, default=new_tracking_code, editable=False
    )
    status = models.CharField(
        "处理状态", max_length=16, choices=ComplaintStatus.choices, default=ComplaintStatus.RECEIVED
    )
    outcome = models.TextField("处理结果", blank=True)
    status_changed_at = models.DateTimeField("状态更新时间", null=True, blank=True)
    # A keyed hash of the submitting client (public complaints): bursts from one source are
    # found without keeping the address with the complaint.
    source = models.CharField("来源标识", max_length=64, blank=True)
    # Set when a group the complaint is in is marked abnormal; '' = counts as evidence.
    excluded_reason = models.CharField("不计入比对的原因", max_length=200, blank=True)

    objects = ComplaintQuerySet.as_manager()

    class Meta:
        verbose_name = "投诉"
        verbose_name_plural = "投诉"
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "reference"],
                condition=~Q(reference=""),
                name="complaint_reference_unique_per_channel",
            ),
        ]
        indexes = [
            models.Index(fields=["number", "received_at"], name="complaint_number"),
            models.Index(fields=["received_at"], name="complaint_received"),
            models.Index(fields=["status", "received_at"], name="complaint_status"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.get_channel_display()}"

    @property
    def contact_masked(self) -> str:
        return mask_contact(self.contact)

    @property
    def content_masked(self) -> str:
        return mask_text(self.content)

    @property
    def tracking_code_display(self) -> str:
        code = self.tracking_code
        return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


class PublicCheckCount(models.Model):
    """Number checks per client address per day (issue 15 §1: every check counted for the
    dashboard; heavy callers listed for the administration). Never the numbers asked."""

    day = models.DateField("日期")
    client = models.CharField("访问地址", max_length=64)
    checks = models.PositiveIntegerField("核验次数", default=0)
    limited = models.PositiveIntegerField("超出频率被拒次数", default=0)

    class Meta:
        verbose_name = "号码核验计数"
        verbose_name_plural = "号码核验计数"
        constraints = [
            models.UniqueConstraint(fields=["day", "client"], name="public_check_day_client")
        ]
        indexes = [models.Index(fields=["day", "-checks"], name="public_check_day_checks")]

    def __str__(self) -> str:
        return f"{self.day} {self.client} {self.checks}"


class GroupKind(models.TextChoices):
    TEXT = "text", "内容雷同"
    CONTACT = "contact", "同一联系方式投诉多家机构"
    BURST = "burst", "同一来源短时集中投诉"


class GroupStatus(models.TextChoices):
    PENDING = "pending", "待研判"
    ABNORMAL = "abnormal", "异常投诉"
    GENUINE = "genuine", "正常投诉"


class ComplaintGroupQuerySet(models.QuerySet):
    def visible_to(self, user) -> ComplaintGroupQuerySet:
        """The administration only (003: it tells organised complaints from real ones)."""
        organisation = getattr(user, "organisation", None) if user else None
        authenticated = getattr(user, "is_authenticated", False)
        if authenticated and organisation is not None and organisation.kind == OrgKind.REGULATOR:
            return self
        return self.none()


# --- the cross-match (比对; issue 13 item 2; 000 §三(三), 002) -------------------------------


class FindingCode(models.TextChoices):
    UNREGISTERED = "UNREGISTERED", "未登记"
    UNREPORTED = "UNREPORTED", "未报送"
    OWNER_MISMATCH = "OWNER_MISMATCH", "服务对象不符"
    CARRIER_MISMATCH = "CARRIER_MISMATCH", "运营商不符"
    PURPOSE_MISMATCH = "PURPOSE_MISMATCH", "用途不符"
    DOUBLE_CLAIM = "DOUBLE_CLAIM", "多机构登记"
    PERIOD_MISMATCH = "PERIOD_MISMATCH", "合作期不符"
    AUTH_EXPIRED = "AUTH_EXPIRED", "委托已过期"
    UNLICENSED = "UNLICENSED", "无资质服务对象"
    FILING_PORT_UNREGISTERED = "FILING_PORT_UNREGISTERED", "报备端口未登记"
    COMPLAINED_UNREGISTERED = "COMPLAINED_UNREGISTERED", "被投诉号码未登记"
    COMPLAINED_REGISTERED = "COMPLAINED_REGISTERED", "登记号码投诉较多"


FINDING_MEANINGS = {
    FindingCode.UNREGISTERED: (
        "运营商为机构或其合作单位提供服务的号码，该号码及其上级主端口均不在该机构的在用登记中"
    ),
    FindingCode.UNREPORTED: "机构登记在用的号码，没有任何运营商报送该号码或其上级主端口",
    FindingCode.OWNER_MISMATCH: "运营商报送的服务对象既不是登记该号码的机构，也不是其委托合作单位",
    FindingCode.CARRIER_MISMATCH: "号码登记的电信运营商与报送该号码的运营商不同",
    FindingCode.PURPOSE_MISMATCH: "报送的用途不在登记用途范围内",
    FindingCode.DOUBLE_CLAIM: "同一号码由两家机构登记在用，且不是通过同一家合作单位",
    FindingCode.PERIOD_MISMATCH: "登记与报送的合作期在比对日不一致（一方在期内，另一方不在）",
    FindingCode.AUTH_EXPIRED: "运营商为合作单位服务，但其委托在比对日已失效",
    FindingCode.UNLICENSED: "服务对象既不是平台已知的金融机构，也不是任何机构的委托合作单位",
    FindingCode.FILING_PORT_UNREGISTERED: "报备的短信活动使用的端口在发送期间不在任何登记中",
    FindingCode.COMPLAINED_UNREGISTERED: "被投诉从事金融营销、催收的号码不在任何机构的登记中",
    FindingCode.COMPLAINED_REGISTERED: "登记号码本季度投诉数达到阈值",
}


class RunStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "比对中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"


class FindingState(models.TextChoices):
    NEW = "new", "新增"
    PERSISTING = "persisting", "持续"
    RESOLVED = "resolved", "已消除"


def report_path(instance, filename: str) -> str:
    return f"reconcile/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.xlsx"


class ReconciliationRunQuerySet(models.QuerySet):
    def visible_to(self, user) -> ReconciliationRunQuerySet:
        """Runs (their counts over every institution, and their reports) are the
        administration's; the others see only the findings in their scope (issue 14 §6)."""
        organisation = getattr(user, "organisation", None) if user else None
        if not getattr(user, "is_authenticated", False) or organisation is None:
            return self.none()
        if organisation.kind == OrgKind.REGULATOR:
            return self
        return self.none()


class ComplaintGroup(models.Model):
    """A group of complaints of one quarter flagged as possibly organised (异常投诉,
    代理维权, 反催收联盟; 003), with the evidence, until the administration decides."""

    quarter = models.CharField("季度", max_length=6)  # 2026Q1
    kind = models.CharField("类型", max_length=16, choices=GroupKind.choices)
    key = models.CharField("识别键", max_length=64)
    size = models.PositiveIntegerField("投诉数")
    evidence = models.JSONField("依据", default=dict)
    status = models.CharField(
        "研判结论", max_length=16, choices=GroupStatus.choices, default=GroupStatus.PENDING
    )
    note = models.CharField("研判说明", max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField("研判时间", null=True, blank=True)
    created_at = models.DateTimeField("识别时间", auto_now_add=True)
    complaints = models.ManyToManyField(Complaint, related_name="groups", through="GroupMember")

    objects = ComplaintGroupQuerySet.as_manager()

    class Meta:
        verbose_name = "疑似异常投诉组"
        verbose_name_plural = "疑似异常投诉组"
        ordering = ["quarter", "kind", "-size", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["quarter", "kind", "key"], name="complaint_group_unique_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quarter} {self.get_kind_display()} #{self.pk}"


class GroupMember(models.Model):
    group = models.ForeignKey(ComplaintGroup, on_delete=models.CASCADE, related_name="members")
    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "complaint"], name="group_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.group_id}:{self.complaint_id}"


class ReconciliationRun(models.Model):
    as_of = models.DateField("比对日")
    year = models.PositiveSmallIntegerField("年度")
    quarter = models.PositiveSmallIntegerField("季度")
    status = models.CharField(
        "状态", max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField("进度（%）", default=0)
    step = models.CharField("当前步骤", max_length=100, blank=True)
    message = models.CharField("说明", max_length=500, blank=True)
    # What the run read: report versions per carrier (accepted or not), filings, complaints.
    inputs = models.JSONField("输入", default=dict, blank=True)
    counts = models.JSONField("各类问题数", default=dict, blank=True)
    new_count = models.PositiveIntegerField("新增", default=0)
    persisting_count = models.PositiveIntegerField("持续", default=0)
    resolved_count = models.PositiveIntegerField("已消除", default=0)
    previous = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    seconds = models.FloatField("耗时（秒）", null=True, blank=True)
    report = models.FileField("比对报告", upload_to=report_path, blank=True)
    scheduled = models.BooleanField("定时执行", default=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    objects = ReconciliationRunQuerySet.as_manager()

    class Meta:
        verbose_name = "比对"
        verbose_name_plural = "比对"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.as_of} 比对"

    @property
    def quarter_label(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def total(self) -> int:
        return sum(self.counts.values()) if self.counts else 0


def _evidence(model, label: str, *, db_index: bool = True) -> models.ForeignKey:
    return models.ForeignKey(
        model,
        verbose_name=label,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=db_index,
    )


class FindingQuerySet(models.QuerySet):
    def visible_to(self, user) -> FindingQuerySet:
        """The administration sees every finding; a financial regulator those about the
        institutions it supervises (issue 14 §6); an institution those about its own
        numbers; a carrier those about its own services (issue 13 item 3)."""
        organisation = getattr(user, "organisation", None) if user else None
        if not getattr(user, "is_authenticated", False) or organisation is None:
            return self.none()
        if organisation.kind == OrgKind.REGULATOR:
            return self
        if organisation.kind == OrgKind.FINANCIAL_REGULATOR:
            return self.filter(in_scope(organisation, "institution_id", "other_institution_id"))
        if organisation.kind == OrgKind.INSTITUTION:
            return self.filter(
                Q(institution_id=organisation.pk) | Q(other_institution_id=organisation.pk)
            )
        if organisation.kind == OrgKind.CARRIER:
            # Its own services, and any finding it was ordered to act on (a complained-of
            # number names no carrier until the administration orders one; issue 14 §6).
            ordered = DisposalCase.objects.filter(carrier_id=organisation.pk).values("identity")
            return self.filter(Q(carrier_id=organisation.pk) | Q(identity__in=ordered))
        return self.none()


class Finding(models.Model):
    """One thing that does not add up, with the evidence from each side. Its ``identity``
    (code + number + organisations) persists across runs: the regulator sees it as new,
    persisting or resolved against the previous run. Evidence for a decision, not the
    decision (000 §三(三))."""

    # Like the evidence pointers below, no database constraint: the run's own transaction
    # writes its findings (up to ~150,000, one INSERT … SELECT per code), and a deferred
    # per-row check of the run id cost 0.4 s at commit (bench/reconcile.py). Deleting a
    # run still deletes its findings (Django's collector).
    run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.CASCADE,
        related_name="findings",
        db_index=False,
        db_constraint=False,
    )
    code = models.CharField("问题类型", max_length=32, choices=FindingCode.choices)
    identity = models.CharField("标识", max_length=120)
    state = models.CharField(
        "状态", max_length=12, choices=FindingState.choices, default=FindingState.NEW
    )
    number = models.CharField("号码", max_length=32)
    # Written by one INSERT … SELECT per code: no per-row foreign-key check; the rows they
    # name (organisations, register lines) are never deleted.
    institution = _evidence(Organisation, "机构")
    other_institution = _evidence(Organisation, "另一机构")
    carrier = _evidence(Organisation, "运营商")
    # Evidence: which register line(s), report line, filing; how many complaints.
    # No index on these (nor on ``decision``): no page looks findings up by them, and every
    # index is paid for on each of a run's ~150,000 inserted findings (bench/reconcile.py:
    # the findings' eleven indexes were two thirds of the time of the inserts).
    registered = _evidence("registry.RegisteredNumber", "登记", db_index=False)
    other_registered = _evidence("registry.RegisteredNumber", "另一登记", db_index=False)
    # Report lines and filings are never deleted (every version stays readable): their ids
    # are kept as evidence pointers, read through the scoped models on the finding's page.
    report_line_id = models.BigIntegerField("报送行", null=True, blank=True)
    report_id = models.BigIntegerField("报送版本", null=True, blank=True)
    filing_id = models.BigIntegerField("短信报备", null=True, blank=True)
    object_name = models.CharField("服务对象", max_length=200, blank=True)
    object_credit_code = models.CharField("服务对象信用代码", max_length=18, blank=True)
    complaint_count = models.PositiveIntegerField("投诉数", default=0)
    # The review (issue 14 §1): written by services.finding_review, and carried to later
    # runs while the evidence is unchanged (cases.FindingDecision). Database defaults: the
    # cross-match's INSERT … SELECT never names these columns.
    review = models.CharField(
        "研判",
        max_length=12,
        choices=Review.choices,
        default=Review.PENDING,
        db_default=Review.PENDING,
    )
    decision = models.ForeignKey(
        "oversight.FindingDecision",
        verbose_name="研判记录",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    objects = FindingQuerySet.as_manager()

    class Meta:
        verbose_name = "问题线索"
        verbose_name_plural = "问题线索"
        ordering = ["code", "number", "pk"]
        indexes = [
            models.Index(fields=["run", "code"], name="finding_run_code"),
            # One index for an identity across runs and within one (the previous run's
            # states, a finding's history): (run, identity) and (identity) were two.
            models.Index(fields=["identity", "run"], name="finding_identity_run"),
            models.Index(fields=["run", "review"], name="finding_run_review"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.number}"

    @property
    def meaning(self) -> str:
        return FINDING_MEANINGS[FindingCode(self.code)]

    @property
    def is_open(self) -> bool:
        return self.state != FindingState.RESOLVED


# Review, disposal, appeals, exchange (issue 14) live beside these (oversight/cases.py).
from .cases import (  # noqa: E402, F401
    Appeal,
    AppealStatus,
    CaseEvent,
    CaseStatus,
    DisposalAction,
    ExchangePackage,
    FindingDecision,
)
