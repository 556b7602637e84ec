from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = "平台基础"

    def ready(self) -> None:
        """The audit trail's summary labels for the shell's own events (auditlabels.py)."""
        from .auditlabels import register_labels
        from .models import LicenceCategory, OrgKind, Role

        register_labels(
            fields={
                "reason": "原因",
                "message": "结果",
                "count": "数量",
                "name": "名称",
                "status": "状态",
                "ip": "IP 地址",
            }
        )
        register_labels(
            "notice",
            fields={
                "key": "提醒",
                "due": "截止日期",
                "recipients": "收件人数",
                "kind": "类别",
                "emails": "邮件地址数",
            },
        )
        register_labels(
            "auth",
            fields={
                "provisioned": "演示环境预置",
                "replaced": "更换验证器",
                "address": "客户端地址",
                "failures": "失败次数",
            },
        )
        register_labels(
            "organisation",
            fields={
                "kind": "单位类型",
                "name": "单位名称",
                "credit_code": "统一社会信用代码",
                "licence_category": "许可类别",
                "province": "所在省份",
                "contact_email": "联系邮箱",
                "is_active": "启用",
                "supervised_categories": "监管的许可类别",
                "supervised_institutions": "逐一指定监管的机构（单位编号）",
            },
            values={
                "kind": dict(OrgKind.choices),
                "licence_category": dict(LicenceCategory.choices),
                "supervised_categories": dict(LicenceCategory.choices),
            },
        )
        register_labels(
            "user",
            fields={"username": "用户名", "role": "角色", "is_active": "启用", "demo": "演示账号"},
            values={"role": dict(Role.choices)},
        )
        register_labels(
            "calendar",
            fields={
                "source": "来源",
                "working_days": "工作日天数",
                "replaced_days": "替换的天数",
                "is_workday": "工作日",
                "name": "说明",
            },
        )


class PortalAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose default site (``admin.site``) is the portal's own: every
    app's ``@admin.register`` lands on it, so nothing reaches the admin around it."""

    default = False  # "portal" in INSTALLED_APPS still means PortalConfig
    default_site = "portal.admin_site.PortalAdminSite"
