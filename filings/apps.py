from django.apps import AppConfig

CARRIER_PANEL = "filings/panels/carrier.html"
REGULATOR_PANEL = "filings/panels/regulator.html"


class FilingsConfig(AppConfig):
    verbose_name = "短信报备"
    default_auto_field = "django.db.models.BigAutoField"
    name = "filings"

    def ready(self) -> None:
        """The 非应邀短信发送报备表 for the upload engine, menu entries, dashboard panels and
        audit labels for the portal shell (portal/dashboard.py, portal/auditlabels.py)."""
        from portal.dashboard import PANELS, register_menu, register_panel
        from portal.models import OrgKind
        from portal.spreadsheets.form import register_form

        from . import views
        from .importers import sms_filing

        register_form(sms_filing.FORM)
        if any(panel.template == CARRIER_PANEL for panel in PANELS):
            return  # ready() ran already (test runners may call it twice)
        _register_audit_labels()
        register_panel(kinds=(OrgKind.CARRIER,), order=20, template=CARRIER_PANEL)(
            views.carrier_panel
        )
        register_panel(kinds=(OrgKind.REGULATOR,), order=20, template=REGULATOR_PANEL)(
            views.regulator_panel
        )
        everyone = (
            OrgKind.CARRIER,
            OrgKind.REGULATOR,
            OrgKind.FINANCIAL_REGULATOR,
            OrgKind.INSTITUTION,
        )
        register_menu(
            kinds=everyone, order=40, label="短信报备", url_name="filing_list", icon="envelope"
        )
        register_menu(
            kinds=(OrgKind.REGULATOR,),
            order=41,
            label="报备审核",
            url_name="filing_review_queue",
            icon="clipboard-check",
        )
        register_menu(
            kinds=(OrgKind.CARRIER, OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR),
            order=42,
            label="发送日历",
            url_name="filing_calendar",
            icon="calendar3",
        )
        register_menu(
            kinds=(OrgKind.INSTITUTION,),
            order=35,
            label="短信签名",
            url_name="registry_signature_list",
            icon="pen",
        )


def _register_audit_labels() -> None:
    from portal.audit import ACTION_LABELS
    from portal.auditlabels import register_labels

    from .models import FilingStatus, SmsPurpose

    ACTION_LABELS.update(
        {
            "filing.create": "创建短信报备",
            "filing.amend": "修改短信报备",
            "filing.submit": "提交短信报备",
            "filing.accept": "通过短信报备",
            "filing.return": "退回短信报备",
            "filing.reject": "不予通过短信报备",
            "filing.sent": "标记短信已发送",
            "filing.withdraw": "撤回短信报备",
            "filing_upload.upload": "上传短信报备表",
            "filing_upload.done": "短信报备表导入完成",
            "filing_upload.rejected": "短信报备表被拒收",
            "filing_upload.failed": "短信报备表导入失败",
            "signature.add": "登记短信签名",
            "signature.remove": "删除登记的短信签名",
        }
    )
    register_labels(
        "filing",
        fields={
            "port": "发送端口",
            "purpose": "发送目的",
            "start_at": "计划发送开始时间",
            "checks": "检查结果",
            "warnings": "提示",
            "job": "上传任务",
            "row": "行号",
            "version": "版本",
            "status": "状态",
            "changed": "变更",
            "reason": "原因",
            "bulk": "批量通过",
            "actual_count": "实际发送数量",
            "planned_count": "计划发送数量",
        },
        values={"purpose": dict(SmsPurpose.choices), "status": dict(FilingStatus.choices)},
    )
    register_labels("signature", fields={"name": "签名", "note": "说明"})
