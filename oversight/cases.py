"""Oversight, part 2 (issue 14): the review of findings, disposal orders (处置), appeals
(申诉救济, 002) and the quarterly exchange with the financial regulators (000 §三(二)).

000 §三(三): the administration flags numbers to the carriers; the carriers check them,
suspend or close those that break the rules and report back; the results go to the
financial regulator. 002 adds relief for legitimate business disposed of by mistake.

Who sees what (tenancy, issue 14 §6): the administration everything; a carrier the cases
ordered to it; an institution the cases and appeals about its own numbers; a financial
regulator those about the institutions in its scope (``Organisation.supervised``).
Imported at the end of ``oversight.models``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# in_scope: the financial regulator's filter, one for every app (portal.models).
from portal.models import Organisation, OrgKind, in_scope  # noqa: F401


def _stored_name(folder: str, filename: str) -> str:
    # The stored name is ours; the user's file name is kept beside it for display.
    suffix = filename.rsplit(".", 1)[-1].lower()[:8] if "." in filename else "bin"
    return f"{folder}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{suffix}"


def case_evidence_path(instance, filename: str) -> str:
    return _stored_name("cases", filename)


def appeal_document_path(instance, filename: str) -> str:
    return _stored_name("appeals", filename)


def package_path(instance, filename: str) -> str:
    return _stored_name("exchange", filename)


def _organisation(user) -> Organisation | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "organisation", None)


class Review(models.TextChoices):
    PENDING = "pending", "待研判"
    CONFIRMED = "confirmed", "已确认"
    DISMISSED = "dismissed", "已排除"


class FindingDecision(models.Model):
    """One decision on a finding (confirm or dismiss, with the reason). The latest for an
    identity is the current one; it carries to later runs while the evidence is the same
    (``evidence_key``), so a dismissed finding stays dismissed until its evidence changes."""

    identity = models.CharField("标识", max_length=120, db_index=True)
    finding = models.ForeignKey(
        "oversight.Finding", verbose_name="问题线索", on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField("问题类型", max_length=32)
    number = models.CharField("号码", max_length=32)
    decision = models.CharField("研判结论", max_length=12, choices=Review.choices)
    reason = models.CharField("理由", max_length=500)
    evidence_key = models.CharField("证据摘要", max_length=64)
    appeal = models.ForeignKey(
        "oversight.Appeal",
        verbose_name="依据申诉",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField("研判时间", default=timezone.now)

    class Meta:
        verbose_name = "研判记录"
        verbose_name_plural = "研判记录"
        ordering = ["-decided_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.number}"


class DisposalAction(models.TextChoices):
    SUSPEND = "suspend", "暂停"
    CLOSE = "close", "关停"
    RECTIFY = "rectify", "核实整改"


class CaseStatus(models.TextChoices):
    ORDERED = "ordered", "待处置"
    REPORTED = "reported", "已反馈待核验"
    DISPUTED = "disputed", "运营商有异议"
    CLOSED = "closed", "已办结"
    REVERSED = "reversed", "已撤销（申诉成立）"


OPEN_CASE_STATUSES = (CaseStatus.ORDERED, CaseStatus.REPORTED, CaseStatus.DISPUTED)
# The carrier still owes an action: these count as overdue after the deadline.
AWAITING_CARRIER = (CaseStatus.ORDERED, CaseStatus.DISPUTED)


class DisposalCaseQuerySet(models.QuerySet):
    def visible_to(self, user) -> DisposalCaseQuerySet:
        organisation = _organisation(user)
        if organisation is None:
            return self.none()
        if organisation.kind == OrgKind.REGULATOR:
            return self
        if organisation.kind == OrgKind.CARRIER:
            return self.filter(carrier_id=organisation.pk)
        if organisation.kind == OrgKind.INSTITUTION:
            return self.filter(institution_id=organisation.pk)
        if organisation.kind == OrgKind.FINANCIAL_REGULATOR:
            return self.filter(in_scope(organisation, "institution_id"))
        return self.none()

    def open(self) -> DisposalCaseQuerySet:
        return self.filter(status__in=OPEN_CASE_STATUSES)

    def overdue(self, moment=None) -> DisposalCaseQuerySet:
        """Awaiting the carrier past the deadline (SQL: ``status IN ('ordered','disputed')
        AND deadline < now``)."""
        return self.filter(status__in=AWAITING_CARRIER, deadline__lt=moment or timezone.now())


class DisposalCase(models.Model):
    """The administration's order to a carrier to act on a confirmed finding (000 §三(三)),
    with a deadline in working days, the carrier's report, and the verification."""

    case_number = models.CharField("案件编号", max_length=20, unique=True, null=True)
    finding = models.ForeignKey(
        "oversight.Finding", verbose_name="问题线索", on_delete=models.PROTECT, related_name="+"
    )
    identity = models.CharField("线索标识", max_length=120, db_index=True)
    code = models.CharField("问题类型", max_length=32)
    number = models.CharField("号码", max_length=32)
    carrier = models.ForeignKey(
        Organisation,
        verbose_name="运营商",
        on_delete=models.PROTECT,
        related_name="disposal_cases",
        limit_choices_to={"kind": OrgKind.CARRIER},
    )
    institution = models.ForeignKey(
        Organisation,
        verbose_name="涉及机构",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField("处置要求", max_length=12, choices=DisposalAction.choices)
    instruction = models.TextField("处置说明", blank=True)
    status = models.CharField(
        "状态", max_length=12, choices=CaseStatus.choices, default=CaseStatus.ORDERED
    )
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    ordered_at = models.DateTimeField("下达时间", default=timezone.now)
    deadline = models.DateTimeField("处置期限")
    overdue_since = models.DateTimeField("标记逾期时间", null=True, blank=True)
    # The carrier's report (or its dispute).
    action_taken = models.CharField(
        "已采取措施", max_length=12, choices=DisposalAction.choices, blank=True
    )
    action_date = models.DateField("处置日期", null=True, blank=True)
    action_note = models.TextField("处置情况", blank=True)
    evidence = models.FileField("处置凭证", upload_to=case_evidence_path, blank=True)
    evidence_name = models.CharField("凭证文件名", max_length=200, blank=True)
    reported_at = models.DateTimeField("反馈时间", null=True, blank=True)
    dispute_reason = models.TextField("异议理由", blank=True)
    # The administration's verification.
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField("核验时间", null=True, blank=True)
    verify_note = models.CharField("核验意见", max_length=500, blank=True)
    # Reversal on an upheld appeal: the carrier restores the number by this deadline.
    restore_deadline = models.DateTimeField("恢复期限", null=True, blank=True)
    restored_on = models.DateField("恢复日期", null=True, blank=True)
    restored_at = models.DateTimeField("恢复反馈时间", null=True, blank=True)

    objects = DisposalCaseQuerySet.as_manager()

    class Meta:
        verbose_name = "处置案件"
        verbose_name_plural = "处置案件"
        ordering = ["-ordered_at", "-pk"]
        indexes = [
            models.Index(fields=["carrier", "status"], name="case_carrier_status"),
            models.Index(fields=["institution", "status"], name="case_institution_status"),
            models.Index(fields=["status", "deadline"], name="case_status_deadline"),
        ]
        constraints = [
            # One open case per finding identity: a second order while one runs is a mistake.
            models.UniqueConstraint(
                fields=["identity", "carrier"],
                condition=Q(status__in=["ordered", "reported", "disputed"]),
                name="case_one_open_per_identity",
            )
        ]

    def __str__(self) -> str:
        return self.case_number or f"案件 {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CASE_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.status in AWAITING_CARRIER and self.deadline < timezone.now()

    @property
    def restore_pending(self) -> bool:
        return self.status == CaseStatus.REVERSED and self.restored_at is None


class CaseEvent(models.Model):
    """One step of a case or an appeal, as the parties read it (every step visible to them)."""

    case = models.ForeignKey(
        DisposalCase, on_delete=models.CASCADE, related_name="events", null=True, blank=True
    )
    appeal = models.ForeignKey(
        "oversight.Appeal", on_delete=models.CASCADE, related_name="events", null=True, blank=True
    )
    kind = models.CharField("事项", max_length=32)
    label = models.CharField("说明", max_length=100)
    note = models.TextField("内容", blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField("时间", default=timezone.now)

    class Meta:
        verbose_name = "办理记录"
        verbose_name_plural = "办理记录"
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return self.label


class AppealStatus(models.TextChoices):
    PENDING = "pending", "待处理"
    UPHELD = "upheld", "申诉成立"
    REJECTED = "rejected", "申诉驳回"


class AppealQuerySet(models.QuerySet):
    def visible_to(self, user) -> AppealQuerySet:
        organisation = _organisation(user)
        if organisation is None:
            return self.none()
        if organisation.kind == OrgKind.REGULATOR:
            return self
        if organisation.kind == OrgKind.INSTITUTION:
            return self.filter(Q(institution_id=organisation.pk) | Q(appellant_id=organisation.pk))
        if organisation.kind == OrgKind.CARRIER:
            return self.filter(
                Q(case__carrier_id=organisation.pk) | Q(appellant_id=organisation.pk)
            )
        if organisation.kind == OrgKind.FINANCIAL_REGULATOR:
            return self.filter(in_scope(organisation, "institution_id"))
        return self.none()


class Appeal(models.Model):
    """An appeal (申诉, 002) by the institution or the carrier against a finding or a
    disposal, with its reasons and documents, lodged within the window after the order."""

    finding = models.ForeignKey(
        "oversight.Finding", verbose_name="问题线索", on_delete=models.PROTECT, related_name="+"
    )
    identity = models.CharField("线索标识", max_length=120, db_index=True)
    case = models.ForeignKey(
        DisposalCase,
        verbose_name="处置案件",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appeals",
    )
    number = models.CharField("号码", max_length=32)
    institution = models.ForeignKey(
        Organisation,
        verbose_name="涉及机构",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    appellant = models.ForeignKey(
        Organisation, verbose_name="申诉单位", on_delete=models.PROTECT, related_name="appeals"
    )
    lodged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    lodged_at = models.DateTimeField("申诉时间", default=timezone.now)
    reasons = models.TextField("申诉理由")
    document = models.FileField("申诉材料", upload_to=appeal_document_path, blank=True)
    document_name = models.CharField("材料文件名", max_length=200, blank=True)
    status = models.CharField(
        "状态", max_length=12, choices=AppealStatus.choices, default=AppealStatus.PENDING
    )
    decision_reason = models.TextField("处理意见", blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField("处理时间", null=True, blank=True)

    objects = AppealQuerySet.as_manager()

    class Meta:
        verbose_name = "申诉"
        verbose_name_plural = "申诉"
        ordering = ["-lodged_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["identity", "appellant"],
                condition=Q(status="pending"),
                name="appeal_one_pending_per_party",
            )
        ]

    def __str__(self) -> str:
        return f"申诉 {self.pk} {self.number}"


class ExchangePackageQuerySet(models.QuerySet):
    def visible_to(self, user) -> ExchangePackageQuerySet:
        """The administration every package; a financial regulator its own; nobody else."""
        organisation = _organisation(user)
        if organisation is None:
            return self.none()
        if organisation.kind == OrgKind.REGULATOR:
            return self
        if organisation.kind == OrgKind.FINANCIAL_REGULATOR:
            return self.filter(recipient_id=organisation.pk)
        return self.none()


class ExchangePackage(models.Model):
    """One quarter's exchange with one financial regulator (000 §三(二)): resources in use,
    findings and disposals, complaint statistics, appeals, for the institutions in its
    scope. The administration marks it sent (with the date) for the 联席会议's record."""

    year = models.PositiveSmallIntegerField("年度")
    quarter = models.PositiveSmallIntegerField("季度")
    recipient = models.ForeignKey(
        Organisation,
        verbose_name="金融管理部门",
        on_delete=models.PROTECT,
        related_name="exchange_packages",
        limit_choices_to={"kind": OrgKind.FINANCIAL_REGULATOR},
    )
    file = models.FileField("交换数据包", upload_to=package_path, blank=True)
    counts = models.JSONField("数量", default=dict, blank=True)
    generated_at = models.DateTimeField("生成时间", default=timezone.now)
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sent_on = models.DateField("发送日期", null=True, blank=True)
    sent_note = models.CharField("发送说明", max_length=300, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    downloads = models.PositiveIntegerField("下载次数", default=0)

    objects = ExchangePackageQuerySet.as_manager()

    class Meta:
        verbose_name = "信息交换数据包"
        verbose_name_plural = "信息交换数据包"
        ordering = ["-year", "-quarter", "recipient__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["year", "quarter", "recipient"], name="exchange_package_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quarter_label} {self.recipient}"

    @property
    def quarter_label(self) -> str:
        return f"{self.year}Q{self.quarter}"
