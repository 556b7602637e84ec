from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = "平台基础"


class PortalAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose default site (``admin.site``) is the portal's own: every
    app's ``@admin.register`` lands on it, so nothing reaches the admin around it."""

    default = False  # "portal" in INSTALLED_APPS still means PortalConfig
    default_site = "portal.admin_site.PortalAdminSite"
