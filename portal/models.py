"""Organisations, users and roles, password history, the audit trail, the working-day table.

Login attempts and lockout live in django-axes' tables, TOTP devices in django-otp's."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from . import carriers
from .carriers import CarrierNetwork
from .creditcode import CreditCodeError, validate_credit_code


def validate_credit_code_field(value: str) -> None:
    try:
        validate_credit_code(value)
    except CreditCodeError as exc:
        raise ValidationError(exc.message, code="credit_code") from exc


class OrgKind(models.TextChoices):
    INSTITUTION = "institution", "金融机构"
    CARRIER = "carrier", "电信运营商"
    REGULATOR = "regulator", "通信管理局"
    FINANCIAL_REGULATOR = "financial_regulator", "金融管理部门"


class LicensingAuthority(models.TextChoices):
    PBOC = "pboc", "中国人民银行"
    NFRA = "nfra", "国家金融监督管理总局"
    CSRC = "csrc", "中国证监会"
    LOCAL = "local", "地方金融管理部门"


class LicenceCategory(models.TextChoices):
    """Who may be an institution (000 §一(一)); the authority follows from the category."""

    PAYMENT = "payment", "支付机构"
    CREDIT_REPORTING = "credit_reporting", "征信机构"
    BANK = "bank", "银行"
    INSURANCE = "insurance", "保险公司"
    TRUST = "trust", "信托公司"
    CONSUMER_FINANCE = "consumer_finance", "消费金融公司"
    AMC = "amc", "金融资产管理公司"
    FINANCIAL_LEASING = "financial_leasing", "金融租赁公司"
    AUTO_FINANCE = "auto_finance", "汽车金融公司"
    SECURITIES = "securities", "证券公司"
    FUND = "fund", "基金公司"
    FUTURES = "futures", "期货公司"
    SMALL_LOAN = "small_loan", "小额贷款公司"
    FINANCING_GUARANTEE = "financing_guarantee", "融资担保公司"
    PAWNSHOP = "pawnshop", "典当行"
    FINANCING_LEASING = "financing_leasing", "融资租赁公司"
    FACTORING = "factoring", "商业保理公司"
    LOCAL_AMC = "local_amc", "地方资产管理公司"
    EQUITY_MARKET = "equity_market", "区域性股权市场"


LICENCE_AUTHORITY = {
    LicenceCategory.PAYMENT: LicensingAuthority.PBOC,
    LicenceCategory.CREDIT_REPORTING: LicensingAuthority.PBOC,
    LicenceCategory.BANK: LicensingAuthority.NFRA,
    LicenceCategory.INSURANCE: LicensingAuthority.NFRA,
    LicenceCategory.TRUST: LicensingAuthority.NFRA,
    LicenceCategory.CONSUMER_FINANCE: LicensingAuthority.NFRA,
    LicenceCategory.AMC: LicensingAuthority.NFRA,
    LicenceCategory.FINANCIAL_LEASING: LicensingAuthority.NFRA,
    LicenceCategory.AUTO_FINANCE: LicensingAuthority.NFRA,
    LicenceCategory.SECURITIES: LicensingAuthority.CSRC,
    LicenceCategory.FUND: LicensingAuthority.CSRC,
    LicenceCategory.FUTURES: LicensingAuthority.CSRC,
    LicenceCategory.SMALL_LOAN: LicensingAuthority.LOCAL,
    LicenceCategory.FINANCING_GUARANTEE: LicensingAuthority.LOCAL,
    LicenceCategory.PAWNSHOP: LicensingAuthority.LOCAL,
    LicenceCategory.FINANCING_LEASING: LicensingAuthority.LOCAL,
    LicenceCategory.FACTORING: LicensingAuthority.LOCAL,
    LicenceCategory.LOCAL_AMC: LicensingAuthority.LOCAL,
    LicenceCategory.EQUITY_MARKET: LicensingAuthority.LOCAL,
}


def in_scope(organisation: Organisation, *fields: str) -> Q:
    """A financial regulator's filter (issue 14 §6): any of ``fields`` (institution foreign
    keys, e.g. ``"institution_id"``) names an institution it supervises. Every app's
    ``visible_to`` scopes the financial regulator with this (or with the credit codes of
    ``organisation.supervised()`` where a row names institutions by code)."""
    ids = organisation.supervised().values("pk")
    condition = Q(pk__in=[])
    for field in fields:
        condition |= Q(**{f"{field}__in": ids})
    return condition


class OrganisationQuerySet(models.QuerySet):
    def visible_to(self, user) -> OrganisationQuerySet:
        """The administration sees every organisation. A financial regulator sees itself,
        the institutions in its scope (issue 14 §6) and the carriers: carriers are public
        service providers, named on every report, filing and disposal case it reads; other
        regulators and out-of-scope institutions are not its business. Everyone else sees
        its own organisation."""
        if not getattr(user, "is_authenticated", False) or user.organisation_id is None:
            return self.none()
        organisation = user.organisation
        if organisation.kind == OrgKind.REGULATOR:
            return self
        if organisation.kind == OrgKind.FINANCIAL_REGULATOR:
            return self.filter(
                Q(pk=organisation.pk) | Q(kind=OrgKind.CARRIER) | in_scope(organisation, "pk")
            )
        return self.filter(pk=user.organisation_id)


class Organisation(models.Model):
    kind = models.CharField("单位类型", max_length=24, choices=OrgKind.choices)
    name = models.CharField("单位名称", max_length=200)
    credit_code = models.CharField(
        "统一社会信用代码", max_length=18, unique=True, validators=[validate_credit_code_field]
    )
    licence_category = models.CharField(
        "许可类别", max_length=32, choices=LicenceCategory.choices, blank=True
    )
    licensing_authority = models.CharField(
        "许可监管部门", max_length=16, choices=LicensingAuthority.choices, blank=True
    )
    province = models.CharField("所在省份", max_length=32, blank=True)
    contact_email = models.EmailField("联系邮箱", blank=True)
    network = models.CharField(
        "所属网络",
        max_length=16,
        choices=CarrierNetwork.choices,
        blank=True,
        help_text="电信运营商必填：中国移动、中国联通、中国电信、中国广电，或短信服务商",
    )
    trade_names = models.TextField(
        "对外名称",
        blank=True,
        help_text="登记表、报送表、报备表中可能写到的运营商名称，每行一个（短信服务商至少写其经营名称）",
    )
    # A financial regulator's scope (issue 14 §6): the licence categories it supervises,
    # and institutions named one by one; it sees the institutions either way names.
    supervised_categories = models.JSONField(
        "监管的许可类别",
        default=list,
        blank=True,
        help_text="金融管理部门：其监管的金融机构许可类别（如银行、消费金融公司）",
    )
    supervised_institutions = models.ManyToManyField(
        "self",
        verbose_name="监管的机构",
        symmetrical=False,
        blank=True,
        related_name="supervisors",
        limit_choices_to={"kind": "institution"},
        help_text="金融管理部门：类别之外逐一指定的金融机构",
    )
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        verbose_name = "单位"
        verbose_name_plural = "单位"
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                name="org_institution_has_licence",
                condition=~Q(kind="institution") | ~Q(licence_category=""),
                violation_error_message="金融机构必须填写许可类别",
            ),
            models.CheckConstraint(
                name="org_credit_code_length", condition=Q(credit_code__regex=r"^[0-9A-Z]{18}$")
            ),
            models.CheckConstraint(
                name="org_carrier_has_network",
                condition=(Q(kind="carrier") & ~Q(network=""))
                | (~Q(kind="carrier") & Q(network="")),
                violation_error_message="电信运营商必须填写所属网络，其他单位不填",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_regulator(self) -> bool:
        return self.kind == OrgKind.REGULATOR

    @property
    def is_institution(self) -> bool:
        return self.kind == OrgKind.INSTITUTION

    @property
    def is_carrier(self) -> bool:
        return self.kind == OrgKind.CARRIER

    @property
    def is_financial_regulator(self) -> bool:
        return self.kind == OrgKind.FINANCIAL_REGULATOR

    def supervised(self) -> models.QuerySet:
        """The institutions a financial regulator supervises (its categories, and those
        named); nobody for any other kind of organisation. SQL: ``kind = 'institution' AND
        (licence_category IN (…) OR id IN (SELECT … supervised_institutions))``."""
        if self.kind != OrgKind.FINANCIAL_REGULATOR:
            return Organisation.objects.none()
        named = Organisation.supervised_institutions.through.objects.filter(
            from_organisation_id=self.pk
        ).values("to_organisation_id")
        return Organisation.objects.filter(kind=OrgKind.INSTITUTION).filter(
            Q(licence_category__in=list(self.supervised_categories or [])) | Q(pk__in=named)
        )

    @property
    def supervised_categories_display(self) -> str:
        labels = dict(LicenceCategory.choices)
        return "、".join(labels.get(c, c) for c in self.supervised_categories or [])

    @property
    def carrier_display(self) -> str:
        """所属网络 as shown: 中国移动, or 短信服务商（名称、名称）."""
        if not self.network:
            return ""
        if self.network == CarrierNetwork.PROVIDER:
            names = "、".join(
                carriers.names_of(
                    network=self.network, trade_names=self.trade_names, name=self.name
                )
            )
            return f"短信服务商（{names}）"
        return self.get_network_display()


class CarrierName(models.Model):
    """One carrier text a carrier organisation answers to (portal/carriers.py), kept by
    accounts.services whenever the organisation's network or trade names change, so that
    SQL can join a line's 电信运营商 to the carrier organisation."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="carrier_names"
    )
    name = models.CharField("运营商名称", max_length=carriers.NAME_MAX)

    class Meta:
        verbose_name = "运营商名称"
        verbose_name_plural = "运营商名称"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="carriername_unique")
        ]
        indexes = [models.Index(fields=["name"], name="carriername_name")]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "管理员"
    OPERATOR = "operator", "经办人"
    VIEWER = "viewer", "查看"


class PortalUserManager(UserManager):
    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)

    def visible_to(self, user) -> UserQuerySet:
        return self.get_queryset().visible_to(user)


class UserQuerySet(models.QuerySet):
    def visible_to(self, user) -> UserQuerySet:
        """Regulators see every organisation's accounts; an organisation's admin sees its
        own colleagues. Accounts outside every organisation and superuser or staff accounts
        (the Django admin's) are nobody's to see or manage in the portal (issue 16 item 3):
        they are managed with ``manage.py`` and the admin only."""
        if not getattr(user, "is_authenticated", False) or user.organisation_id is None:
            return self.none()
        portal_accounts = self.filter(
            organisation__isnull=False, is_superuser=False, is_staff=False
        )
        if user.organisation.kind == OrgKind.REGULATOR:
            return portal_accounts
        return portal_accounts.filter(organisation_id=user.organisation_id)


validate_username = RegexValidator(
    r"^[A-Za-z0-9._-]+\Z",
    message="用户名只能包含英文字母、数字和 . _ - 符号",
    code="username_invalid",
)


class User(AbstractUser):
    username = models.CharField(
        "用户名",
        max_length=150,
        unique=True,
        validators=[validate_username],
        help_text="150 个字符以内，只能包含英文字母、数字和 . _ - 符号。",
        error_messages={"unique": "该用户名不可用，请换一个"},
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name="所属单位",
        on_delete=models.PROTECT,
        related_name="users",
        null=True,
        blank=True,
    )
    role = models.CharField("角色", max_length=16, choices=Role.choices, default=Role.VIEWER)
    phone = models.CharField("联系电话", max_length=32, blank=True)
    must_change_password = models.BooleanField("首次登录须修改密码", default=True)
    password_changed_at = models.DateTimeField("密码修改时间", null=True, blank=True)

    objects = PortalUserManager()

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = "用户"

    @property
    def kind(self) -> str | None:
        return self.organisation.kind if self.organisation_id else None

    @property
    def is_regulator(self) -> bool:
        return self.kind == OrgKind.REGULATOR

    @property
    def is_institution(self) -> bool:
        return self.kind == OrgKind.INSTITUTION

    @property
    def is_carrier(self) -> bool:
        return self.kind == OrgKind.CARRIER

    @property
    def is_financial_regulator(self) -> bool:
        return self.kind == OrgKind.FINANCIAL_REGULATOR

    @property
    def can_write(self) -> bool:
        return self.role in (Role.ADMIN, Role.OPERATOR)

    @property
    def totp_enabled(self) -> bool:
        """A confirmed TOTP device (django-otp) is registered to this account."""
        if self.pk is None:
            return False
        from django_otp.plugins.otp_totp.models import TOTPDevice

        return TOTPDevice.objects.filter(user_id=self.pk, confirmed=True).exists()

    @property
    def totp_mandatory(self) -> bool:
        """Regulator accounts and the Django admin's (superuser, staff) must use TOTP."""
        return self.is_regulator or self.is_superuser or self.is_staff

    @property
    def requires_totp(self) -> bool:
        """Mandatory accounts, and anyone who enrolled a device: the login asks for a code."""
        return self.totp_mandatory or self.totp_enabled


class TokenRevokeReason(models.TextChoices):
    MANUAL = "manual", "管理员撤销"
    PASSWORD_CHANGE = "password_change", "密码已修改"
    PASSWORD_RESET = "password_reset", "密码已重置"
    DEACTIVATED = "deactivated", "账号已停用"
    MIGRATION = "migration", "迁移时撤销"


class ApiTokenQuerySet(models.QuerySet):
    def visible_to(self, user) -> ApiTokenQuerySet:
        """An organisation's 管理员 sees the tokens of its own users; nobody else sees any
        (regulators included: a token is a credential, not regulatory data)."""
        if (
            not getattr(user, "is_authenticated", False)
            or user.organisation_id is None
            or user.role != Role.ADMIN
        ):
            return self.none()
        return self.filter(user__organisation_id=user.organisation_id)

    def usable(self, now) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ApiToken(models.Model):
    """An API credential of one user. Only the SHA-256 of the key is stored; the key is
    shown once, when it is issued (portal/accounts/tokens.py)."""

    user = models.ForeignKey(
        User, verbose_name="用户", on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField("用途", max_length=100)
    prefix = models.CharField("令牌开头", max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField("签发时间")
    created_by = models.ForeignKey(
        User,
        verbose_name="签发人",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    expires_at = models.DateTimeField("到期时间")
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    revoked_reason = models.CharField(
        "撤销原因", max_length=24, choices=TokenRevokeReason.choices, blank=True
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API 令牌"
        verbose_name_plural = "API 令牌"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="apitoken_expires_after_issue", condition=Q(expires_at__gt=F("created_at"))
            ),
            models.CheckConstraint(
                name="apitoken_revoked_with_reason",
                condition=Q(revoked_at__isnull=True, revoked_reason="")
                | (Q(revoked_at__isnull=False) & ~Q(revoked_reason="")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}"

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"


class PasswordHistory(models.Model):
    """The hashes of an account's recent passwords (never the passwords): a new one may not
    be any of the last ``PASSWORD_HISTORY_COUNT`` (issue 16 item 8)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField("密码哈希", max_length=128)
    created_at = models.DateTimeField("设置时间", auto_now_add=True)

    class Meta:
        verbose_name = "历史密码"
        verbose_name_plural = "历史密码"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d}"


class AuditEventQuerySet(models.QuerySet):
    def visible_to(self, user) -> AuditEventQuerySet:
        if not getattr(user, "is_authenticated", False) or user.organisation_id is None:
            return self.none()
        if user.organisation.kind == OrgKind.REGULATOR:
            return self
        return self.filter(organisation_id=user.organisation_id)


class AuditEvent(models.Model):
    """Insert-only, hash-chained (HMAC under a key from the environment; portal/audit.py).
    The database refuses UPDATE and DELETE (triggers)."""

    created_at = models.DateTimeField("时间", db_index=True)
    actor = models.ForeignKey(
        User, verbose_name="操作人", on_delete=models.PROTECT, null=True, blank=True
    )
    actor_label = models.CharField("操作人", max_length=150)
    organisation = models.ForeignKey(
        Organisation, verbose_name="单位", on_delete=models.PROTECT, null=True, blank=True
    )
    action = models.CharField("操作", max_length=64, db_index=True)
    object_type = models.CharField("对象类型", max_length=64, blank=True)
    object_id = models.CharField("对象编号", max_length=64, blank=True)
    object_repr = models.CharField("对象", max_length=255, blank=True)
    summary = models.JSONField("变更摘要", default=dict, blank=True)
    ip = models.GenericIPAddressField("IP 地址", null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # "sha256": unkeyed, written before the chain was keyed (issue 16); else the HMAC and
    # the id of its key (the key itself is in the environment, never here).
    hash_scheme = models.CharField(
        "哈希算法",
        max_length=16,
        choices=[("sha256", "SHA-256（早期记录，未加密钥）"), ("hmac-sha256", "HMAC-SHA256")],
    )
    key_id = models.CharField("密钥编号", max_length=16, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = "审计日志"
        verbose_name_plural = "审计日志"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("审计日志不可修改")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("审计日志不可删除")


class CalendarYear(models.Model):
    """A year the working-day table covers; a date outside these years is an error."""

    year = models.PositiveSmallIntegerField("年份", primary_key=True)
    source = models.CharField("来源", max_length=64)
    loaded_at = models.DateTimeField("加载时间", auto_now=True)

    class Meta:
        verbose_name = "工作日历年度"
        verbose_name_plural = "工作日历年度"
        ordering = ["-year"]

    def __str__(self) -> str:
        return f"{self.year} 年"


class WorkDay(models.Model):
    """One row per calendar day of a covered year: working or not, and why."""

    date = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("工作日")
    name = models.CharField("说明", max_length=32, blank=True)

    class Meta:
        verbose_name = "工作日历"
        verbose_name_plural = "工作日历"
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'工作日' if self.is_workday else '休息日'}"


class ReminderSent(models.Model):
    """One e-mail reminder per organisation and deadline, so the beat task is idempotent."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    key = models.CharField(max_length=64)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "提醒记录"
        verbose_name_plural = "提醒记录"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "key"], name="reminder_once")
        ]

    def __str__(self) -> str:
        return self.key


# The upload engine's job lives beside its engine (portal/spreadsheets/); it is a portal model.
from .spreadsheets.models import UploadJob, UploadStatus  # noqa: E402, F401


class NoticeQuerySet(models.QuerySet):
    def visible_to(self, user) -> NoticeQuerySet:
        """A notice is its recipient's alone (portal/notices.py)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(recipient_id=user.pk)

    def unread(self) -> NoticeQuerySet:
        return self.filter(read_at__isnull=True)


class Notice(models.Model):
    """One in-app notice to one user (the portal's notice centre, portal/notices.py): a
    reminder, a decision on a report, later disposal orders and appeals."""

    recipient = models.ForeignKey(
        User, verbose_name="接收人", on_delete=models.CASCADE, related_name="notices"
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name="接收单位",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField("类别", max_length=40)
    title = models.CharField("标题", max_length=200)
    body = models.TextField("内容", blank=True)
    url = models.CharField("链接", max_length=300, blank=True)
    created_at = models.DateTimeField("时间", default=timezone.now)
    read_at = models.DateTimeField("已读时间", null=True, blank=True)
    emailed = models.BooleanField("已发邮件", default=False)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        verbose_name = "通知"
        verbose_name_plural = "通知"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["recipient"], name="notice_unread", condition=Q(read_at__isnull=True)
            ),
            models.Index(fields=["recipient", "-created_at"], name="notice_recipient"),
        ]

    def __str__(self) -> str:
        return self.title
