from django.apps import AppConfig

INSTITUTION_PANEL = "registry/panels/institution.html"
REGULATOR_PANEL = "registry/panels/regulator.html"
CARRIER_REPORT_PANEL = "registry/panels/carrier_report.html"
REPORTS_DUE_PANEL = "registry/panels/reports_due.html"


class RegistryConfig(AppConfig):
    verbose_name = "号码备案"
    default_auto_field = "django.db.models.BigAutoField"
    name = "registry"

    def ready(self) -> None:
        """Dashboard panels and menu entries for the portal shell (portal/dashboard.py)."""
        from portal.dashboard import PANELS, register_menu, register_panel
        from portal.models import OrgKind
        from portal.spreadsheets.form import register_form

        from . import report_views, views
        from .importers import register, service_report

        register_form(register.FORM)  # the 号码登记表 is a form of the upload engine
        register_form(service_report.FORM)  # and so is the 服务对象报送表 (issue 11)

        if any(panel.template == INSTITUTION_PANEL for panel in PANELS):
            return  # ready() ran already (test runners may call it twice)
        _register_audit_labels()
        overseers = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
        register_panel(kinds=(OrgKind.INSTITUTION,), order=10, template=INSTITUTION_PANEL)(
            views.institution_panel
        )
        register_panel(kinds=overseers, order=10, template=REGULATOR_PANEL)(views.regulator_panel)
        register_panel(kinds=(OrgKind.CARRIER,), order=10, template=CARRIER_REPORT_PANEL)(
            report_views.carrier_panel
        )
        register_panel(kinds=(OrgKind.REGULATOR,), order=15, template=REPORTS_DUE_PANEL)(
            report_views.regulator_panel
        )
        register_menu(
            kinds=(OrgKind.CARRIER,),
            order=10,
            label="服务对象报送",
            url_name="service_report_list",
            icon="clipboard-check",
        )
        register_menu(
            kinds=overseers,
            order=20,
            label="服务对象报送",
            url_name="service_report_list",
            icon="clipboard-check",
        )
        institution = (OrgKind.INSTITUTION,)
        register_menu(
            kinds=institution,
            order=10,
            label="号码登记",
            url_name="registry_number_list",
            icon="telephone",
        )
        register_menu(
            kinds=institution,
            order=20,
            label="合作单位",
            url_name="registry_partner_list",
            icon="briefcase",
        )
        register_menu(
            kinds=institution,
            order=30,
            label="批量导入",
            url_name="registry_import_list",
            icon="cloud-upload",
        )
        register_menu(
            kinds=overseers,
            order=10,
            label="号码库",
            url_name="registry_number_list",
            icon="telephone",
        )


def _register_audit_labels() -> None:
    """What registry's services put into audit summaries, in Chinese (portal/auditlabels.py)."""
    from portal.audit import ACTION_LABELS
    from portal.auditlabels import register_labels

    from .models import ImportMode, ImportStatus, NumberKindField, Purpose

    ACTION_LABELS["partner.public_contact"] = "设置委托机构公示联系电话"
    period = {"valid_from": "合作起始日期", "valid_to": "合作截止日期"}
    register_labels(
        "number",
        fields={
            "number": "号码",
            "kind": "号码类型",
            "purpose": "用途",
            "user": "使用单位",
            "carrier": "电信运营商",
            **period,
            "shared": "多机构登记",
            "ended": "终止的号码数",
        },
        values={"kind": dict(NumberKindField.choices), "purpose": dict(Purpose.choices)},
    )
    register_labels(
        "partner",
        fields={
            "name": "合作单位名称",
            "credit_code": "统一社会信用代码",
            "kind": "委托类型",
            "valid_from": "委托起始日期",
            "valid_to": "委托截止日期",
            "document_number": "委托书编号",
            "before": "原公示联系电话",
            "after": "新公示联系电话",
        },
        values={"kind": dict(Purpose.choices)},
    )
    register_labels(
        "import",
        fields={
            "file": "文件",
            "size": "大小（字节）",
            "sha256": "SHA-256",
            "mode": "导入方式",
            "status": "状态",
            "rows": "行数",
            "errors": "错误行数",
            "created": "新增",
            "updated": "更新",
            "unchanged": "未变",
            "ended": "终止",
        },
        values={"mode": dict(ImportMode.choices), "status": dict(ImportStatus.choices)},
    )
    from .models import ReportStatus

    report_fields = {
        "quarter": "季度",
        "version": "版本",
        "status": "状态",
        "lines": "行数",
        "flagged": "待核实信用代码行数",
        "based_on": "起始版本",
        "late_working_days": "逾期工作日",
        "reason": "退回原因",
        "number": "号码",
        "object": "服务对象名称",
        "object_credit_code": "服务对象统一社会信用代码",
        "institution": "委托金融机构名称",
        "purpose": "用途",
        "document_number": "委托书编号",
        **period,
    }
    register_labels(
        "report",
        fields=report_fields,
        values={"status": dict(ReportStatus.choices), "purpose": dict(Purpose.choices)},
    )
    register_labels(
        "report_import",
        fields={
            "file": "文件",
            "size": "大小（字节）",
            "sha256": "SHA-256",
            "report": "报送版本",
            "quarter": "季度",
            "status": "状态",
            "rows": "行数",
            "errors": "错误行数",
            "created": "导入行数",
            "flagged": "待核实信用代码行数",
        },
        values={"status": dict(ImportStatus.choices)},
    )
    from portal.audit import ACTION_LABELS

    ACTION_LABELS.update(
        {
            "report.create": "新建服务对象报送版本",
            "report.line_add": "报送草稿新增号码",
            "report.line_change": "报送草稿修改号码",
            "report.line_end": "报送草稿终止号码",
            "report.line_delete": "报送草稿删除号码",
            "report.submit": "提交服务对象报送",
            "report.accept": "受理服务对象报送",
            "report.return": "退回服务对象报送",
            "report_import.upload": "上传服务对象报送表",
            "report_import.done": "服务对象报送表导入完成",
            "report_import.rejected": "服务对象报送表被拒收",
            "report_import.failed": "服务对象报送表导入失败",
        }
    )
    register_labels(
        "retention",
        fields={
            "cutoff": "截止日期",
            "retention_days": "保存期限（天）",
            "import_jobs": "导入任务数",
            "import_files": "删除的导入文件",
            "error_reports": "删除的错误报告",
            "bytes": "释放空间（字节）",
        },
    )
