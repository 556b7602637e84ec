"""The Django admin reads; it writes nothing around the audit trail (issue 10 §1).

Organisations, users, tokens, the calendar and the audit trail are changed on the portal's
own pages, through the services that audit each change; here every model is read-only. The
one write kept is the lockout release, itself a service with its audit event.
"""

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice
from import_export.admin import ExportMixin

from .accounts import services as account_services
from .models import ApiToken, AuditEvent, CalendarYear, Organisation, User, WorkDay

# TOTP devices are enrolled, replaced and removed on 账户安全, through the audited
# services (accounts.services.totp_*); roles are not Django groups. Neither is edited here.
for model in (TOTPDevice, Group, AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and detail pages only: no add, change or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(ExportMixin, ReadOnlyAdmin):
    """Organisations are created and renamed on 单位管理, and a financial regulator's
    scope is set there (设置监管范围) or with ``create_organisation --supervises``, all
    through accounts.services, which audit each change; here they are read only."""

    list_display = ("name", "kind", "credit_code", "licence_category", "is_active")
    list_filter = ("kind", "licence_category", "is_active")
    search_fields = ("name", "credit_code")


@admin.register(User)
class PortalUserAdmin(ReadOnlyAdmin, UserAdmin):
    """Users are invited, changed, reset and deactivated on 用户管理 (accounts.services);
    a superuser is made with ``manage.py createsuperuser``."""

    list_display = ("username", "organisation", "role", "is_active", "totp_enabled")
    list_filter = ("role", "is_active", "organisation__kind")
    fieldsets = UserAdmin.fieldsets + (
        ("所属单位", {"fields": ("organisation", "role", "phone", "must_change_password")}),
    )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Nobody edits or deletes the audit trail, superusers included."""

    list_display = ("created_at", "actor_label", "organisation", "action", "object_repr", "ip")
    list_filter = ("action",)
    search_fields = ("actor_label", "object_repr")


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Tokens are issued and revoked by each organisation's 管理员 on /tokens/, through the
    audited services; the admin issues none (issue 16 item 6)."""

    list_display = ("prefix", "user", "name", "created_at", "expires_at", "last_used_at")
    list_filter = ("revoked_reason",)
    search_fields = ("prefix", "user__username", "name")
    exclude = ("key_hash",)


@admin.register(WorkDay)
class WorkDayAdmin(ExportMixin, ReadOnlyAdmin):
    """Regulators edit days on the calendar page, which audits each change."""

    list_display = ("date", "is_workday", "name")
    list_filter = ("is_workday",)
    date_hierarchy = "date"


@admin.register(CalendarYear)
class CalendarYearAdmin(ReadOnlyAdmin):
    """Years are loaded on the calendar page or with ``manage.py load_calendar`` (audited)."""

    list_display = ("year", "source", "loaded_at")


@admin.register(AccessAttempt)
class LockoutAdmin(ReadOnlyAdmin, AccessAttemptAdmin):
    """Current lockouts (axes); 解除锁定 lifts one early, audited (auth.unlock)."""

    actions = ["release"]

    def has_release_permission(self, request) -> bool:
        return request.user.is_superuser

    @admin.action(description="解除锁定（记入审计日志）", permissions=["release"])
    def release(self, request, queryset):
        count = account_services.lockouts_release(actor=request.user, attempts=queryset)
        self.message_user(request, f"已解除 {count} 条登录锁定", messages.SUCCESS)


@admin.register(AccessLog)
class LoginLogAdmin(ReadOnlyAdmin, AccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class LoginFailureLogAdmin(ReadOnlyAdmin, AccessFailureLogAdmin):
    pass


admin.site.site_header = "金融营销催收号码备案与比对平台 管理后台"
admin.site.site_title = "号码备案平台"
