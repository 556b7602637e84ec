from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from import_export.admin import ExportMixin

from .models import ApiToken, AuditEvent, CalendarYear, Organisation, User, WorkDay

# TOTP devices are enrolled, replaced and removed on 账户安全, through the audited
# services (accounts.services.totp_*); the admin's own device pages would do it unaudited.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(Organisation)
class OrganisationAdmin(ExportMixin, admin.ModelAdmin):
    """Export only: organisations are created through the audited service (单位管理)."""

    list_display = ("name", "kind", "credit_code", "licence_category", "is_active")
    list_filter = ("kind", "licence_category", "is_active")
    search_fields = ("name", "credit_code")


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    list_display = ("username", "organisation", "role", "is_active", "totp_enabled")
    list_filter = ("role", "is_active", "organisation__kind")
    fieldsets = UserAdmin.fieldsets + (
        ("所属单位", {"fields": ("organisation", "role", "phone", "must_change_password")}),
    )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: nobody edits or deletes the audit trail, superusers included."""

    list_display = ("created_at", "actor_label", "organisation", "action", "object_repr", "ip")
    list_filter = ("action",)
    search_fields = ("actor_label", "object_repr")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Read-only: tokens are issued and revoked by each organisation's 管理员 on /tokens/,
    through the audited services; the admin issues none (issue 16 item 6)."""

    list_display = ("prefix", "user", "name", "created_at", "expires_at", "last_used_at")
    list_filter = ("revoked_reason",)
    search_fields = ("prefix", "user__username", "name")
    exclude = ("key_hash",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WorkDay)
class WorkDayAdmin(ExportMixin, admin.ModelAdmin):
    """Export only: regulators edit days on the calendar page, which audits each change."""

    list_display = ("date", "is_workday", "name")
    list_filter = ("is_workday",)
    date_hierarchy = "date"

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(CalendarYear)
admin.site.site_header = "金融营销催收号码备案与比对平台 管理后台"
admin.site.site_title = "号码备案平台"
