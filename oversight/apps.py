from django.apps import AppConfig

PUBLIC_PANEL = "oversight/panels/public.html"


def public_panel(request) -> dict:
    """The regulator's dashboard: today's public checks and the complaints waiting."""
    from django.db.models import Sum
    from django.utils import timezone

    from .models import (
        Complaint,
        ComplaintChannel,
        ComplaintGroup,
        ComplaintStatus,
        GroupStatus,
        PublicCheckCount,
    )
    from .public import counting

    counting.flush()
    today = timezone.localdate()
    checks = PublicCheckCount.objects.filter(day=today).aggregate(n=Sum("checks"))["n"] or 0
    complaints = Complaint.objects.visible_to(request.user)
    return {
        "public_checks_today": checks,
        "portal_complaints_open": complaints.filter(channel=ComplaintChannel.PORTAL)
        .exclude(status=ComplaintStatus.PROCESSED)
        .count(),
        "abnormal_pending": ComplaintGroup.objects.visible_to(request.user)
        .filter(status=GroupStatus.PENDING)
        .count(),
    }


class OversightConfig(AppConfig):
    verbose_name = "比对与处置"
    default_auto_field = "django.db.models.BigAutoField"
    name = "oversight"

    def ready(self) -> None:
        """The 投诉转办清单 form, menu entries and audit labels (portal/dashboard.py)."""
        from portal.dashboard import MENU, register_menu, register_panel
        from portal.models import OrgKind
        from portal.spreadsheets.form import register_form

        from . import views
        from .importers import complaints

        register_form(complaints.FORM)
        if any(entry[3] == "complaint_list" for entry in MENU):
            return  # ready() ran already (test runners may call it twice)
        _register_audit_labels()
        overseers = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
        # The runs' counts are over every institution: the administration's. A financial
        # regulator reads its own figures in the charts panel (oversight/dashboards.py).
        register_panel(
            kinds=(OrgKind.REGULATOR,), order=5, template="oversight/panels/findings.html"
        )(views.findings_panel)
        register_menu(
            kinds=(OrgKind.REGULATOR,),
            order=30,
            label="比对",
            url_name="run_list",
            icon="diagram-3",
        )
        register_menu(
            kinds=(*overseers, OrgKind.INSTITUTION, OrgKind.CARRIER),
            order=35,
            label="问题线索",
            url_name="finding_list",
            icon="list-check",
        )
        parties = (*overseers, OrgKind.INSTITUTION, OrgKind.CARRIER)
        register_menu(
            kinds=parties, order=36, label="处置案件", url_name="case_list", icon="shield-check"
        )
        register_menu(
            kinds=parties, order=37, label="申诉", url_name="appeal_list", icon="chat-left-text"
        )
        register_menu(
            kinds=overseers, order=40, label="投诉", url_name="complaint_list", icon="megaphone"
        )
        register_menu(
            kinds=(OrgKind.REGULATOR,),
            order=41,
            label="公众核验",
            url_name="public_checks",
            icon="phone",
        )
        register_panel(kinds=(OrgKind.REGULATOR,), order=40, template=PUBLIC_PANEL)(public_panel)
        from . import dashboards

        dashboards.register()  # issue 14 §5: charts, overdue cases, cases, exchange packages
        _register_exchange()


def _register_exchange() -> None:
    """The quarterly exchange with the financial regulators (issue 14 §4): its menu entry
    and its audit labels."""
    from portal.audit import ACTION_LABELS
    from portal.auditlabels import register_labels
    from portal.dashboard import register_menu
    from portal.models import OrgKind

    register_menu(
        kinds=(OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR),
        order=45,
        label="信息交换",
        url_name="exchange_list",
        icon="arrow-left-right",
    )
    ACTION_LABELS.update(
        {
            "exchange.generate": "生成信息交换数据包",
            "exchange.download": "下载信息交换数据包",
            "exchange.sent": "登记信息交换数据包已发送",
            "exchange.export": "导出全省信息交换数据",
        }
    )
    register_labels(
        "exchange",
        fields={
            "quarter": "季度",
            "recipient": "金融管理部门",
            "recipient_name": "金融管理部门名称",
            "created": "新建",
            "counts": "数量",
            "as_of": "在用资源统计日",
            "before": "原记录",
            "format": "格式",
            "by_recipient": "接收单位下载",
            "sent_on": "发送日期",
            "note": "发送说明",
            "institutions": "机构",
            "resources": "在用通信资源",
            "findings": "问题线索",
            "cases": "处置案件",
            "complaints": "投诉",
            "appeals": "申诉",
            "generated_at": "生成时间",
            "downloads": "下载次数",
        },
        values={"format": {"xlsx": "xlsx 文件", "json": "JSON 数据（接口）"}},
    )


def _register_audit_labels() -> None:
    from portal.audit import ACTION_LABELS
    from portal.auditlabels import register_labels

    from .cases import CaseStatus, DisposalAction, Review
    from .models import (
        ComplaintCategory,
        ComplaintChannel,
        ComplaintStatus,
        GroupKind,
        GroupStatus,
    )

    ACTION_LABELS.update(
        {
            "complaint.create": "录入投诉",
            "complaint.reveal": "查看投诉人完整联系方式",
            "complaint.submit": "公众在本平台提交投诉",
            "complaint.status": "更新投诉处理进度",
            "complaint.abnormal_detect": "识别异常投诉",
            "complaint.group_decide": "研判疑似异常投诉组",
            "complaints.upload": "上传投诉转办清单",
            "complaints.done": "投诉转办清单导入完成",
            "complaints.rejected": "投诉转办清单被拒收",
            "complaints.failed": "投诉转办清单导入失败",
            "reconcile.start": "发起比对",
            "reconcile.done": "比对完成",
            "finding.review": "研判问题线索",
            "case.order": "下达处置要求",
            "case.report": "运营商反馈处置情况",
            "case.dispute": "运营商对处置要求提出异议",
            "case.dispute_answer": "答复运营商异议",
            "case.verify": "核验处置情况",
            "case.overdue": "处置案件逾期",
            "case.reverse": "申诉成立，撤销处置",
            "case.restore": "运营商反馈号码恢复",
            "appeal.lodge": "提出申诉",
            "appeal.decide": "处理申诉",
        }
    )
    register_labels(
        "finding",
        fields={"decision": "研判结论", "reason": "理由", "count": "线索数", "findings": "线索"},
        values={"decision": dict(Review.choices)},
    )
    case_fields = {
        "case": "案件编号",
        "number": "号码",
        "code": "问题类型",
        "status": "状态",
        "carrier": "运营商",
        "institution": "机构",
        "action_taken": "已采取措施",
        "action_date": "处置日期",
        "accepted": "核验通过",
        "maintain": "维持处置要求",
    }
    register_labels(
        "case",
        fields=case_fields,
        values={
            "status": dict(CaseStatus.choices),
            "action_taken": dict(DisposalAction.choices),
        },
    )
    register_labels("appeal", fields={**case_fields, "finding": "问题线索", "upheld": "申诉成立"})
    register_labels(
        "complaint",
        fields={
            "number": "被投诉号码",
            "channel": "投诉渠道",
            "category": "投诉类别",
            "received_at": "投诉时间",
            "reference": "转办编号",
            "field": "查看的信息",
            "before": "原状态",
            "after": "新状态",
            "outcome_chars": "处理结果字数",
            "quarter": "季度",
            "kind": "类型",
            "size": "投诉数",
            "complaints": "投诉数",
            "text": "内容雷同组",
            "contact": "同一联系方式组",
            "burst": "集中投诉组",
        },
        values={
            "channel": dict(ComplaintChannel.choices),
            "category": dict(ComplaintCategory.choices),
            "field": {"contact": "投诉人完整联系方式"},
            "before": {**dict(ComplaintStatus.choices), **dict(GroupStatus.choices)},
            "after": {**dict(ComplaintStatus.choices), **dict(GroupStatus.choices)},
            "kind": dict(GroupKind.choices),
        },
    )
    register_labels(
        "reconcile",
        fields={
            "as_of": "比对日",
            "scheduled": "定时执行",
            "counts": "各类问题数",
            "new": "新增",
            "resolved": "已消除",
        },
    )
    register_labels(
        "complaints",
        fields={"rows": "行数", "created": "导入投诉数", "errors": "错误行数"},
    )
