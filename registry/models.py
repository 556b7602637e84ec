"""The institution number library (000 §三(一)1; 002 短信营销号码库).

Nothing here is ever deleted. A registered number is *active* (the current registration),
*superseded* (an earlier version of an active one: the history), or *ended* (taken out of
use; its end date set). The database allows one active row per (institution, number).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone

from portal.models import (
    Organisation,
    OrgKind,
    UploadJob,
    UploadStatus,
    in_scope,
    validate_credit_code_field,
)

from .numbers import KIND_LABELS, NumberKind


class Purpose(models.TextChoices):
    MARKETING = "marketing", "营销"
    COLLECTION = "collection", "催收"
    BOTH = "both", "营销及催收"


PURPOSE_BY_LABEL = {
    "营销": Purpose.MARKETING,
    "催收": Purpose.COLLECTION,
    "营销及催收": Purpose.BOTH,
    "营销和催收": Purpose.BOTH,
    "营销、催收": Purpose.BOTH,
    "营销/催收": Purpose.BOTH,
    "催收及营销": Purpose.BOTH,
}


def purpose_covers(granted: str, used: str) -> bool:
    """Does an entrustment (or registration) for ``granted`` cover use for ``used``?"""
    return granted == Purpose.BOTH or granted == used


class NumberKindField(models.TextChoices):
    MOBILE = NumberKind.MOBILE.value, KIND_LABELS[NumberKind.MOBILE]
    LANDLINE = NumberKind.LANDLINE.value, KIND_LABELS[NumberKind.LANDLINE]
    SHORT = NumberKind.SHORT.value, KIND_LABELS[NumberKind.SHORT]
    TOLLFREE = NumberKind.TOLLFREE.value, KIND_LABELS[NumberKind.TOLLFREE]
    SMS_PORT = NumberKind.SMS_PORT.value, KIND_LABELS[NumberKind.SMS_PORT]


class UserType(models.TextChoices):
    SELF = "self", "本机构"
    BRANCH = "branch", "分支机构"
    PARTNER = "partner", "委托合作单位"


class Status(models.TextChoices):
    ACTIVE = "active", "在用"
    SUPERSEDED = "superseded", "历史版本"
    ENDED = "ended", "已终止"


def _scoped(queryset, user, field: str = "institution"):
    """Institutions see their own rows; the administration all rows; a financial
    regulator the rows of the institutions in its scope (issue 14 §6); everyone else
    nothing (architecture.md: tenancy)."""
    if not getattr(user, "is_authenticated", False) or user.organisation_id is None:
        return queryset.none()
    kind = user.organisation.kind
    if kind == OrgKind.REGULATOR:
        return queryset
    if kind == OrgKind.FINANCIAL_REGULATOR:
        return queryset.filter(in_scope(user.organisation, f"{field}_id"))
    if kind == OrgKind.INSTITUTION:
        return queryset.filter(**{f"{field}_id": user.organisation_id})
    return queryset.none()


def document_path(instance, filename: str) -> str:
    # The stored name is ours; the user's file name is only displayed.
    suffix = filename.rsplit(".", 1)[-1].lower()[:8] if "." in filename else "bin"
    return f"partners/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{suffix}"


def upload_path(instance, filename: str) -> str:
    # Named by the migrations of the import jobs that lived here before issue 9.
    suffix = filename.rsplit(".", 1)[-1].lower()[:8] if "." in filename else "bin"
    return f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{suffix}"


class PartnerQuerySet(models.QuerySet):
    def visible_to(self, user) -> PartnerQuerySet:
        return _scoped(self, user)


class Partner(models.Model):
    """委托合作单位: a marketing or collection agency acting under written entrustment
    (000 §一(一); 001 第十条、第十三条)."""

    institution = models.ForeignKey(
        Organisation, verbose_name="委托机构", on_delete=models.PROTECT, related_name="partners"
    )
    name = models.CharField("合作单位名称", max_length=200)
    credit_code = models.CharField(
        "统一社会信用代码", max_length=18, validators=[validate_credit_code_field]
    )
    kind = models.CharField("委托类型", max_length=16, choices=Purpose.choices)
    document_number = models.CharField("委托书编号", max_length=64, blank=True)
    document = models.FileField("委托书文件", upload_to=document_path, blank=True)
    document_name = models.CharField("委托书原文件名", max_length=255, blank=True)
    valid_from = models.DateField("委托起始日期")
    valid_to = models.DateField("委托截止日期", null=True, blank=True)
    contact = models.CharField("联系人及电话", max_length=100, blank=True)
    # The number the institution publishes for this agency (001 第十三条; the public
    # disclosure page shows it). Chosen by the institution: services.partner_set_public_contact.
    public_contact = models.CharField("公示联系电话", max_length=20, blank=True)
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = PartnerQuerySet.as_manager()

    class Meta:
        verbose_name = "委托合作单位"
        verbose_name_plural = "委托合作单位"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "credit_code"], name="partner_unique_per_institution"
            ),
            models.CheckConstraint(
                name="partner_period_order",
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                violation_error_message="委托截止日期不能早于起始日期",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_expired(self) -> bool:
        return self.valid_to is not None and self.valid_to < timezone.localdate()


# The register's uploads are the engine's jobs (issue 9 item 2): portal.models.UploadJob.
ImportStatus = UploadStatus


class ImportMode(models.TextChoices):
    MERGE = "merge", "合并（默认）"
    REPLACE = "replace", "替换"


class NumberQuerySet(models.QuerySet):
    def visible_to(self, user) -> NumberQuerySet:
        return _scoped(self, user)

    def with_shared_mark(self) -> NumberQuerySet:
        """Annotate ``shared`` (多机构登记, issue 9 §6): the registration is active and another
        institution has the same number active too, other than for one shared partner (the
        same 使用单位 credit code). Derived on read, so it is right the moment either side
        ends or changes its registration; the administration verifies these (000 §三(三)).
        Annotating twice (a filter by the mark, then the page that shows it) computes it once."""
        if "shared" in self.query.annotations:
            return self
        others = RegisteredNumber.objects.filter(
            number=OuterRef("number"), status=Status.ACTIVE
        ).exclude(institution_id=OuterRef("institution_id"))
        others = others.exclude(
            user_credit_code=OuterRef("user_credit_code"), user_credit_code__gt=""
        )
        return self.annotate(
            shared=Case(
                When(status=Status.ACTIVE, then=Exists(others)),
                default=Value(False),
                output_field=models.BooleanField(),
            )
        )


def fingerprint(values: tuple) -> str:
    """What makes two registrations of one number the same (to skip unchanged rows)."""
    return hashlib.blake2b("\x1f".join(map(str, values)).encode(), digest_size=12).hexdigest()


class RegisteredNumber(models.Model):
    # Few indexes on purpose: each one costs time on a million-row merge. The institution
    # is the leading column of regnum_inst_status; jobs and creators are never searched.
    # No database constraint on the institution either (on_delete=PROTECT still holds in the
    # ORM): every row of an import has the job's organisation, which the job's own foreign
    # key already holds; the per-row trigger cost 3-5 s of PostgreSQL's CPU on a 1M-row
    # register (0.3-0.5 s per 100,000 rows, measured with and without it). Organisations are
    # never deleted, only deactivated.
    institution = models.ForeignKey(
        Organisation,
        verbose_name="机构",
        on_delete=models.PROTECT,
        related_name="numbers",
        db_index=False,
        db_constraint=False,
    )
    number = models.CharField("号码", max_length=20)
    kind = models.CharField("号码类型", max_length=10, choices=NumberKindField.choices)
    raw = models.CharField("原始输入", max_length=64, blank=True)
    main_port = models.CharField("所属主端口", max_length=20, blank=True)
    is_sub_port = models.BooleanField("子端口", default=False)
    purpose = models.CharField("用途", max_length=16, choices=Purpose.choices)
    user_type = models.CharField("使用单位类型", max_length=8, choices=UserType.choices)
    user_name = models.CharField("使用单位", max_length=200)
    user_credit_code = models.CharField("使用单位统一社会信用代码", max_length=18, blank=True)
    partner = models.ForeignKey(
        Partner,
        verbose_name="委托合作单位",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="numbers",
        db_index=False,
    )
    carrier = models.CharField("电信运营商", max_length=100)
    document_number = models.CharField("委托书编号", max_length=64, blank=True)
    valid_from = models.DateField("合作起始日期")
    valid_to = models.DateField("合作截止日期", null=True, blank=True)
    remark = models.CharField("备注", max_length=500, blank=True)
    fingerprint = models.CharField(max_length=24)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.ACTIVE)
    end_reason = models.CharField("终止原因", max_length=200, blank=True)
    # No database constraint on the job and the creator (on_delete=PROTECT still holds in the
    # ORM): an import inserts up to a million rows whose job and creator are one value each,
    # checked once by the import; a per-row foreign-key trigger would cost more than the
    # insert. Job rows are never deleted (retention clears their files only).
    source_job = models.ForeignKey(
        UploadJob,
        verbose_name="来源导入",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField("登记时间", default=timezone.now)
    closed_at = models.DateTimeField("终止/替换时间", null=True, blank=True)

    objects = NumberQuerySet.as_manager()

    class Meta:
        verbose_name = "登记号码"
        verbose_name_plural = "登记号码"
        ordering = ["number"]
        indexes = [
            # Conflict checks and every lookup by number concern active registrations; the
            # institution's active list uses the unique constraint's index below. History
            # and ended rows are read per number, through the same partial index's table.
            models.Index(
                fields=["number"], name="regnum_number_active", condition=Q(status="active")
            ),
            models.Index(fields=["institution", "number"], name="regnum_inst_number"),
            models.Index(
                fields=["partner"], name="regnum_partner", condition=Q(partner__isnull=False)
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "number"],
                condition=Q(status="active"),
                name="regnum_one_active_per_institution",
                violation_error_message="该号码已登记在用",
            ),
            models.CheckConstraint(
                name="regnum_period_order",
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                violation_error_message="合作截止日期不能早于起始日期",
            ),
            models.CheckConstraint(
                name="regnum_partner_has_partner",
                condition=~Q(user_type="partner") | Q(partner__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def effective_valid_to(self) -> dt.date | None:
        """The registration's own end, capped by its partner's entrustment."""
        ends = [d for d in (self.valid_to, self.partner.valid_to if self.partner else None) if d]
        return min(ends) if ends else None

    @property
    def kind_display(self) -> str:
        if self.is_sub_port:
            return "子端口"
        return self.get_kind_display()


class NumberStaging(models.Model):
    """Rows of one import, validated and normalised, before the one-transaction merge.
    Unlogged on PostgreSQL (migration 0002): it holds nothing a crash must keep."""

    # A plain id, not a foreign key: a per-row FK check would cost more than the COPY.
    job_id = models.BigIntegerField()
    row_no = models.IntegerField()
    number = models.CharField(max_length=20)
    kind = models.CharField(max_length=10)
    raw = models.CharField(max_length=64, blank=True)
    main_port = models.CharField(max_length=20, blank=True)
    is_sub_port = models.BooleanField(default=False)
    purpose = models.CharField(max_length=16)
    user_type = models.CharField(max_length=8)
    user_name = models.CharField(max_length=200)
    user_credit_code = models.CharField(max_length=18, blank=True)
    partner_id = models.BigIntegerField(null=True)
    carrier = models.CharField(max_length=100)
    document_number = models.CharField(max_length=64, blank=True)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True)
    remark = models.CharField(max_length=500, blank=True)
    fingerprint = models.CharField(max_length=24)

    class Meta:
        indexes = [models.Index(fields=["job_id", "number"], name="staging_job_number")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row_no}"


class SignatureQuerySet(models.QuerySet):
    def visible_to(self, user) -> SignatureQuerySet:
        return _scoped(self, user)


class RegisteredSignature(models.Model):
    """A name an institution registered as its SMS signature (短信签名): its trademark, a
    filed app name or another name besides its full name and contiguous abbreviations
    (domain.md "SMS signatures"). The bulk-SMS filing checks read these (filings/checks.py).
    Removing one keeps the row (``removed_at``): a filing checked against it stays
    explainable."""

    institution = models.ForeignKey(
        Organisation, verbose_name="机构", on_delete=models.PROTECT, related_name="signatures"
    )
    name = models.CharField("签名", max_length=40)
    note = models.CharField("说明", max_length=200, blank=True)
    created_at = models.DateTimeField("登记时间", default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removed_at = models.DateTimeField("删除时间", null=True, blank=True)

    objects = SignatureQuerySet.as_manager()

    class Meta:
        verbose_name = "登记签名"
        verbose_name_plural = "登记签名"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "name"],
                condition=Q(removed_at__isnull=True),
                name="signature_unique_per_institution",
                violation_error_message="该签名已登记",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# --- carriers' quarterly service-object reports (000 §三(一)2; forms.md §2) ---------------


class ReportStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "已提交"
    ACCEPTED = "accepted", "已受理"
    RETURNED = "returned", "已退回"


# A draft or a submitted version is "open": a quarter has at most one (its next version
# starts once the regulator has accepted or returned it).
OPEN_STATUSES = (ReportStatus.DRAFT, ReportStatus.SUBMITTED)


class ObjectMatch(models.TextChoices):
    """How a line's 服务对象 (or 委托金融机构) credit code matched what the portal knows."""

    ORGANISATION = "organisation", "平台单位"
    PARTNER = "partner", "已登记合作单位"
    UNKNOWN = "unknown", "未知单位"
    INVALID = "invalid", "信用代码校验错误"


FLAGGED_MATCHES = (ObjectMatch.UNKNOWN, ObjectMatch.INVALID)


class ServiceReportQuerySet(models.QuerySet):
    def visible_to(self, user) -> ServiceReportQuerySet:
        """A carrier sees its own reports (drafts too); the administration every submitted
        version (never a carrier's draft); the financial regulator the accepted ones;
        institutions and everyone else none (issue 11 §5)."""
        if not getattr(user, "is_authenticated", False) or user.organisation_id is None:
            return self.none()
        kind = user.organisation.kind
        if kind == OrgKind.CARRIER:
            return self.filter(carrier_id=user.organisation_id)
        if kind == OrgKind.REGULATOR:
            return self.exclude(status=ReportStatus.DRAFT)
        if kind == OrgKind.FINANCIAL_REGULATOR:
            # The report itself; its lines only those of its scope (ServiceReportLine).
            return self.filter(status=ReportStatus.ACCEPTED)
        return self.none()


class ServiceReport(models.Model):
    """One version of a carrier's 服务对象报送表 for one quarter. A correction after
    submission is a new version; every version stays readable; the latest accepted one is
    the one that counts (issue 11 §1)."""

    carrier = models.ForeignKey(
        Organisation,
        verbose_name="运营商",
        on_delete=models.PROTECT,
        related_name="service_reports",
    )
    year = models.PositiveSmallIntegerField("年度")
    quarter = models.PositiveSmallIntegerField("季度")
    version = models.PositiveIntegerField("版本", default=1)
    status = models.CharField(
        "状态", max_length=10, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    based_on = models.ForeignKey(
        "self",
        verbose_name="起始版本",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    deadline = models.DateTimeField("报送截止时间")
    line_count = models.PositiveIntegerField("行数", default=0)
    flagged_count = models.PositiveIntegerField("待核实信用代码行数", default=0)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="提交人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    late_working_days = models.PositiveSmallIntegerField("逾期工作日", default=0)
    reviewed_at = models.DateTimeField("审核时间", null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="审核人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    return_reason = models.TextField("退回原因", blank=True)
    source_job = models.ForeignKey(
        UploadJob,
        verbose_name="最近一次上传",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="创建人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    updated_at = models.DateTimeField("更新时间", default=timezone.now)

    objects = ServiceReportQuerySet.as_manager()

    class Meta:
        verbose_name = "服务对象报送"
        verbose_name_plural = "服务对象报送"
        ordering = ["-year", "-quarter", "carrier_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "year", "quarter", "version"], name="report_version_unique"
            ),
            models.UniqueConstraint(
                fields=["carrier", "year", "quarter"],
                condition=Q(status__in=["draft", "submitted"]),
                name="report_one_open_version",
                violation_error_message="该季度已有未审核的报送版本",
            ),
            models.CheckConstraint(
                name="report_quarter_range", condition=Q(quarter__gte=1, quarter__lte=4)
            ),
        ]
        indexes = [models.Index(fields=["year", "quarter", "status"], name="report_quarter")]

    def __str__(self) -> str:
        return f"{self.quarter_display}服务对象报送（第 {self.version} 版）"

    @property
    def quarter_code(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def quarter_display(self) -> str:
        return f"{self.year} 年第 {self.quarter} 季度"

    @property
    def is_late(self) -> bool:
        return self.late_working_days > 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ServiceReportLineQuerySet(models.QuerySet):
    def visible_to(self, user) -> ServiceReportLineQuerySet:
        """The lines of the reports ``user`` sees; a financial regulator only the lines
        that serve an institution in its scope (issue 14 §6): the declared entrusting
        institution, else the service object itself, else the institution whose entrusted
        partner the service object is (the institution the cross-match gives the line,
        oversight/reconcile.py). A line of an unknown service object serves nobody it
        supervises."""
        lines = self.filter(report_id__in=ServiceReport.objects.visible_to(user).values("pk"))
        organisation = getattr(user, "organisation", None)
        if organisation is None or organisation.kind != OrgKind.FINANCIAL_REGULATOR:
            return lines
        supervised = organisation.supervised()
        partners = Partner.objects.filter(institution__in=supervised).values("credit_code")
        undeclared = Q(institution_org_id__isnull=True) & (
            in_scope(organisation, "object_org_id") | Q(object_credit_code__in=partners)
        )
        return lines.filter(in_scope(organisation, "institution_org_id") | undeclared)


class ServiceReportLine(models.Model):
    """One number or port of a report with whom the carrier serves it for (forms.md §2).
    A service object's (or entrusting institution's) credit code that is unknown or fails
    its check character is kept and flagged (``*_match``), never refused: the
    administration may need to add that organisation (issue 11 §1)."""

    # No database constraint on the report (on_delete still holds in the ORM): an upload
    # copies up to a million lines whose report is one value, checked once by the upload
    # (locked in ReportStaging.begin); a per-row foreign-key trigger would cost more than
    # the COPY. Its index is the unique (report, number) one below.
    report = models.ForeignKey(
        ServiceReport,
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    row_no = models.IntegerField("原行号", default=0)
    number = models.CharField("号码", max_length=20)
    kind = models.CharField("号码类型", max_length=10, choices=NumberKindField.choices)
    raw = models.CharField("原始输入", max_length=64, blank=True)
    main_port = models.CharField("所属主端口", max_length=20, blank=True)
    is_sub_port = models.BooleanField("子端口", default=False)
    object_name = models.CharField("服务对象名称", max_length=200)
    object_credit_code = models.CharField("服务对象统一社会信用代码", max_length=18)
    object_match = models.CharField(
        "服务对象核对", max_length=12, choices=ObjectMatch.choices, default=ObjectMatch.UNKNOWN
    )
    object_org = models.ForeignKey(
        Organisation,
        verbose_name="服务对象单位",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    institution_name = models.CharField("委托金融机构名称", max_length=200, blank=True)
    institution_credit_code = models.CharField(
        "委托金融机构统一社会信用代码", max_length=18, blank=True
    )
    institution_match = models.CharField(
        "委托金融机构核对", max_length=12, choices=ObjectMatch.choices, blank=True
    )
    institution_org = models.ForeignKey(
        Organisation,
        verbose_name="委托金融机构单位",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    purpose = models.CharField("用途", max_length=16, choices=Purpose.choices)
    document_number = models.CharField("委托书编号", max_length=64, blank=True)
    valid_from = models.DateField("合作起始日期")
    valid_to = models.DateField("合作截止日期", null=True, blank=True)
    fingerprint = models.CharField(max_length=24)

    objects = ServiceReportLineQuerySet.as_manager()

    class Meta:
        verbose_name = "服务对象报送行"
        verbose_name_plural = "服务对象报送行"
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["report", "number"], name="reportline_unique_number"),
            models.CheckConstraint(
                name="reportline_period_order",
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                violation_error_message="合作截止日期不能早于起始日期",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def kind_display(self) -> str:
        return "子端口" if self.is_sub_port else self.get_kind_display()

    @property
    def flagged(self) -> bool:
        return self.object_match in FLAGGED_MATCHES or self.institution_match in FLAGGED_MATCHES
