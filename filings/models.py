"""Bulk-SMS advance filings (非应邀短信发送报备表, forms.md §3; 000 §二(二)3).

A carrier files each bulk-SMS campaign at least 5 working days before sending. One
``SmsFiling`` is one campaign with every column of the form, the register entry that covers
its port, the qualification document the sender relies on (licence or entrustment), its
check results and its review. Every amendment is a ``SmsFilingVersion`` (the values as
filed), and resets the review. Nothing is deleted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from portal.models import Organisation, OrgKind, UploadJob, in_scope


class FilingStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "已提交"
    ACCEPTED = "accepted", "已通过"
    RETURNED = "returned", "已退回"
    REJECTED = "rejected", "不予通过"
    SENT = "sent", "已发送"
    WITHDRAWN = "withdrawn", "已撤回"


# A carrier may change a filing (a new version) while it is not decided for good.
AMENDABLE = (
    FilingStatus.DRAFT,
    FilingStatus.SUBMITTED,
    FilingStatus.RETURNED,
    FilingStatus.ACCEPTED,
)
SUBMITTABLE = (FilingStatus.DRAFT, FilingStatus.RETURNED)
WITHDRAWABLE = (
    FilingStatus.DRAFT,
    FilingStatus.SUBMITTED,
    FilingStatus.RETURNED,
    FilingStatus.ACCEPTED,
)


class SmsPurpose(models.TextChoices):
    MARKETING = "marketing", "营销"
    COLLECTION = "collection", "催收"
    NOTICE = "notice", "通知"


PURPOSE_BY_LABEL = {
    "营销": SmsPurpose.MARKETING,
    "营销短信": SmsPurpose.MARKETING,
    "营销类": SmsPurpose.MARKETING,
    "催收": SmsPurpose.COLLECTION,
    "催收短信": SmsPurpose.COLLECTION,
    "催收类": SmsPurpose.COLLECTION,
    "通知": SmsPurpose.NOTICE,
    "通知短信": SmsPurpose.NOTICE,
    "通知类": SmsPurpose.NOTICE,
    "marketing": SmsPurpose.MARKETING,
    "collection": SmsPurpose.COLLECTION,
    "notice": SmsPurpose.NOTICE,
}


class Qualification(models.TextChoices):
    LICENCE = "licence", "金融业务许可（持牌机构）"
    ENTRUSTMENT = "entrustment", "委托书（委托合作单位）"
    NONE = "", "无"


class SmsFilingQuerySet(models.QuerySet):
    def visible_to(self, user) -> SmsFilingQuerySet:
        """Carriers their own filings; institutions the filings naming them as sender or
        entrusting institution (read-only); the administration all (issue 12 §6); a
        financial regulator those that an institution in its scope would see (issue 14
        §6). Anyone else nothing."""
        if not getattr(user, "is_authenticated", False) or user.organisation_id is None:
            return self.none()
        organisation = user.organisation
        kind = organisation.kind
        if kind == OrgKind.REGULATOR:
            return self
        if kind == OrgKind.FINANCIAL_REGULATOR:
            codes = organisation.supervised().values("credit_code")
            return self.filter(
                in_scope(organisation, "institution_id")
                | Q(sender_credit_code__in=codes)
                | Q(entrusting_credit_code__in=codes)
            )
        if kind == OrgKind.CARRIER:
            return self.filter(carrier_id=user.organisation_id)
        if kind == OrgKind.INSTITUTION:
            code = user.organisation.credit_code
            return self.filter(
                Q(institution_id=user.organisation_id)
                | Q(sender_credit_code=code)
                | Q(entrusting_credit_code=code)
            )
        return self.none()


class SmsFiling(models.Model):
    """One campaign of a 非应邀短信发送报备表 (every column of forms.md §3)."""

    carrier = models.ForeignKey(
        Organisation, verbose_name="报备运营商", on_delete=models.PROTECT, related_name="+"
    )
    carrier_label = models.CharField("报备单位", max_length=200)
    sender_name = models.CharField("发送主体名称", max_length=200)
    sender_credit_code = models.CharField("发送主体统一社会信用代码", max_length=18)
    entrusting_name = models.CharField("委托金融机构名称", max_length=200, blank=True)
    entrusting_credit_code = models.CharField(
        "委托金融机构统一社会信用代码", max_length=18, blank=True
    )
    signature = models.CharField("短信签名", max_length=60)
    port = models.CharField("发送端口", max_length=20)
    port_raw = models.CharField("发送端口（原文）", max_length=64, blank=True)
    purpose = models.CharField("发送目的", max_length=16, choices=SmsPurpose.choices)
    content = models.TextField("短信内容", max_length=2000)
    start_at = models.DateTimeField("计划发送开始时间")
    end_at = models.DateTimeField("计划发送结束时间")
    planned_count = models.PositiveIntegerField("计划发送数量")
    recipients = models.CharField("发送对象范围", max_length=500)
    consent = models.CharField("发送对象同意情况", max_length=500)
    region = models.CharField("发送地域", max_length=200, blank=True)
    opt_out = models.CharField("退订方式", max_length=200, blank=True)
    contact_name = models.CharField("联系人", max_length=100)
    contact_phone = models.CharField("联系电话", max_length=40)

    # What the portal linked it to when it was last checked.
    institution = models.ForeignKey(
        Organisation,
        verbose_name="金融机构",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="发送主体（持牌机构）或委托金融机构",
    )
    register_entry = models.ForeignKey(
        "registry.RegisteredNumber",
        verbose_name="覆盖该端口的登记",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    qualification = models.CharField(
        "主体资质", max_length=16, choices=Qualification.choices, blank=True
    )
    partner = models.ForeignKey(
        "registry.Partner",
        verbose_name="所依据的委托",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    checks = models.JSONField("检查结果", default=list, blank=True)
    checked_at = models.DateTimeField("检查时间", null=True, blank=True)

    status = models.CharField(
        "状态", max_length=12, choices=FilingStatus.choices, default=FilingStatus.DRAFT
    )
    version = models.PositiveIntegerField("版本", default=1)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    reviewed_at = models.DateTimeField("审核时间", null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_reason = models.CharField("审核意见", max_length=500, blank=True)
    actual_count = models.PositiveIntegerField("实际发送数量", null=True, blank=True)
    sent_at = models.DateTimeField("标记发送时间", null=True, blank=True)
    withdrawn_at = models.DateTimeField("撤回时间", null=True, blank=True)
    withdraw_reason = models.CharField("撤回原因", max_length=500, blank=True)

    source_job = models.ForeignKey(
        UploadJob,
        verbose_name="来源上传",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    source_row = models.PositiveIntegerField("来源行号", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = SmsFilingQuerySet.as_manager()

    class Meta:
        verbose_name = "短信报备"
        verbose_name_plural = "短信报备"
        ordering = ["start_at", "id"]
        indexes = [
            models.Index(fields=["carrier", "start_at"], name="smsfiling_carrier_start"),
            models.Index(fields=["status", "start_at"], name="smsfiling_status_start"),
            models.Index(fields=["institution"], name="smsfiling_institution"),
        ]
        constraints = [
            # A draft may hold a bad period (BAD_PERIOD says so); nothing past it may.
            models.CheckConstraint(
                name="smsfiling_period_order",
                condition=Q(end_at__gte=F("start_at")) | Q(status__in=["draft", "returned"]),
                violation_error_message="计划发送结束时间不能早于开始时间",
            ),
            models.CheckConstraint(
                name="smsfiling_planned_positive", condition=Q(planned_count__gt=0)
            ),
            models.CheckConstraint(
                name="smsfiling_sent_has_count",
                condition=~Q(status="sent") | Q(actual_count__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"短信报备 {self.pk}（{self.port}）"

    @property
    def blocking(self) -> list[dict]:
        return [c for c in self.checks if c.get("blocking")]

    @property
    def warnings(self) -> list[dict]:
        return [c for c in self.checks if not c.get("blocking")]


class SmsFilingVersion(models.Model):
    """A filing as filed at one version: the form's columns, as the carrier gave them."""

    filing = models.ForeignKey(SmsFiling, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField("版本")
    values = models.JSONField("填报内容")
    note = models.CharField("说明", max_length=200, blank=True)
    created_at = models.DateTimeField("时间", auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "短信报备版本"
        verbose_name_plural = "短信报备版本"
        ordering = ["filing_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["filing", "number"], name="smsfiling_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.filing_id} v{self.number}"
