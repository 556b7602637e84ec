"""Oversight: complaints as evidence (issue 13 item 1; 000 §三(三)(四), 003).

A complaint records the number complained about (canonical, with its kind), when, the
channel it came through, its category and its text. The complainant's contact is personal
data (000 §二(一)5): kept for the follow-up, shown masked everywhere, read in full only
through ``services.complaint_contact_reveal`` (audited)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from portal.masking import mask_contact, mask_text
from portal.models import Organisation, OrgKind
from portal.spreadsheets.models import UploadJob
from registry.models import NumberKindField


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


class ComplaintQuerySet(models.QuerySet):
    def visible_to(self, user) -> ComplaintQuerySet:
        """The administration and the financial regulators read complaints (000 §三(四));
        institutions and carriers meet them only as a finding's evidence."""
        organisation = getattr(user, "organisation", None) if user else None
        if not getattr(user, "is_authenticated", False) or organisation is None:
            return self.none()
        if organisation.kind in (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR):
            return self
        return self.none()


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
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.get_channel_display()}"

    @property
    def contact_masked(self) -> str:
        return mask_contact(self.contact)

    @property
    def content_masked(self) -> str:
        return mask_text(self.content)
