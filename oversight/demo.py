"""Demo complaints for `make run` (called by `load_demo`; idempotent by 转办编号): some
about a number in no register, three about one of 甲银行's registered numbers (the
quarterly threshold), one about a sub-port, so the cross-match has evidence to show."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from portal.audit import SYSTEM

from .models import Complaint, ComplaintChannel, ComplaintGroup
from .public import counting
from .services import (
    abnormal_detect,
    complaint_create,
    complaint_set_status,
    complaint_submit_public,
)

# (days ago, number, channel, category, content, institution, contact, reference)
COMPLAINTS = [
    (
        2,
        "13700137000",
        "12321",
        "collection",
        "自称某银行催收，一天打来六次，还说要联系我的同事和家人，我的身份证号330106199001011234被对方报出。",
        "",
        "13912345678",
        "12321-DEMO-0001",
    ),
    (
        5,
        "13700137000",
        "12345",
        "collection",
        "晚上十一点还在打催收电话。",
        "",
        "0571-87654321",
        "12345-DEMO-0001",
    ),
    (
        9,
        "1069012345678",
        "12321",
        "marketing",
        "收到贷款推销短信，回T退订无效。",
        "",
        "",
        "12321-DEMO-0002",
    ),
    (
        3,
        "13800138001",
        "12321",
        "collection",
        "催收语气威胁。",
        "甲银行股份有限公司（演示）",
        "13600000001",
        "12321-DEMO-0003",
    ),
    (
        6,
        "13800138001",
        "financial_regulator",
        "collection",
        "金融监管局转来：催收人员辱骂。",
        "甲银行股份有限公司（演示）",
        "",
        "JR-DEMO-0001",
    ),
    (
        12,
        "13800138001",
        "petition",
        "collection",
        "来信反映：催收电话打给了紧急联系人。",
        "甲银行股份有限公司（演示）",
        "a.customer@example.invalid",
        "XF-DEMO-0001",
    ),
    (
        4,
        "106905559901",
        "12321",
        "marketing",
        "信用卡分期营销短信过多。",
        "甲银行股份有限公司（演示）",
        "",
        "12321-DEMO-0004",
    ),
]


# Public complaints (本平台): one processed, so its tracking page shows an outcome.
PUBLIC = [
    (
        "13700137000",
        "collection",
        "晚上十一点打电话催收，还说要联系我的同事。",
        "13600000002",
        "已核实该号码未备案，已通知运营商依规处置。",
    ),
    ("95599", "marketing", "每周都打来推销信用卡分期，拒绝后还打。", "", ""),
]
# An organised campaign (003 代理维权): one script, lightly edited, about 甲银行's number.
CAMPAIGN = (
    "本人{name}，因甲银行暴力催收，{word}电话轰炸我的家人和同事，严重侵犯个人隐私，现依法投诉，"
    "要求停止催收、减免全部罚息并书面道歉，否则将向媒体曝光。"
)
CAMPAIGN_COPIES = [
    ("张伟", "多次"),
    ("李娜", "反复"),
    ("王强", "多次"),
    ("赵敏", "一再"),
    ("陈杰", "多次"),
    ("刘洋", "屡次"),
]


def load_public() -> None:
    """本平台 complaints with tracking codes, a campaign found by the quarter's detection,
    and today's public check counts (one heavy caller) for the regulator's pages."""
    now = timezone.now()
    for number, category, content, contact, outcome in PUBLIC:
        if Complaint.objects.filter(channel=ComplaintChannel.PORTAL, content=content).exists():
            continue
        complaint = complaint_submit_public(
            actor=SYSTEM,
            number=number,
            received_at=now - dt.timedelta(hours=20),
            category=category,
            content=content,
            contact=contact,
            source="demo-public",
        )
        if outcome:
            complaint_set_status(
                actor=SYSTEM, complaint=complaint, status="processed", outcome=outcome
            )
    for i, (name, word) in enumerate(CAMPAIGN_COPIES):
        reference = f"12321-DEMO-C{i:02d}"
        if Complaint.objects.filter(channel="12321", reference=reference).exists():
            continue
        complaint_create(
            actor=SYSTEM,
            number="13800138001",
            received_at=now - dt.timedelta(hours=i + 1),
            channel="12321",
            category="collection",
            content=CAMPAIGN.format(name=name, word=word),
            institution_name="甲银行股份有限公司（演示）",
            reference=reference,
        )
    year, month = timezone.localdate().year, timezone.localdate().month
    quarter = (month - 1) // 3 + 1
    if not ComplaintGroup.objects.filter(quarter=f"{year}Q{quarter}").exists():
        abnormal_detect(actor=SYSTEM, year=year, quarter=quarter)
    from .models import PublicCheckCount

    if not PublicCheckCount.objects.filter(day=timezone.localdate()).exists():
        for client, checks in (("203.0.113.7", 180), ("198.51.100.23", 4), ("192.0.2.44", 2)):
            for _ in range(checks):
                counting.count(client)
        counting.flush()


def load() -> int:
    """Record the demo complaints that are not there yet; how many were added."""
    now = timezone.now()
    added = 0
    for days, number, channel, category, content, institution, contact, ref in COMPLAINTS:
        if Complaint.objects.filter(channel=channel, reference=ref).exists():
            continue
        complaint_create(
            actor=SYSTEM,
            number=number,
            received_at=now - dt.timedelta(days=days, hours=3),
            channel=channel,
            category=category,
            content=content,
            institution_name=institution,
            contact=contact,
            reference=ref,
        )
        added += 1
    load_public()
    return added


def reconcile() -> int | None:
    """One cross-match over the demo data as of today when there is none yet, so that the
    administration's pages open on real findings (the quarter's filings and complaints,
    the registers; the carrier's report of this quarter once carol submits it and a new
    run is started)."""
    from .models import ReconciliationRun
    from .services import reconciliation_execute, reconciliation_start

    if ReconciliationRun.objects.exists():
        return None
    run = reconciliation_start(actor=SYSTEM, as_of=timezone.localdate(), enqueue=False)
    return reconciliation_execute(run_id=run.pk).pk


DEMO_PDF = b"%PDF-1.4\n% demo evidence\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def casework() -> int:
    """The closed loop of 000 §三(三) on the demo findings, one case at each step, so every
    role opens on its part (idempotent: nothing when a case exists): a confirmed finding
    ordered to the demo carrier and waiting for it; one reported and waiting for the
    administration's verification; one closed; one overdue with the institution's appeal
    pending; one finding dismissed with its reason. The overdue case is backdated here
    (demo data only); everything else goes through the services as a user's would."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from portal.models import Organisation, OrgKind

    from . import casework as work
    from .cases import DisposalCase
    from .models import Finding, FindingState, ReconciliationRun, RunStatus

    if DisposalCase.objects.exists():
        return 0
    run = ReconciliationRun.objects.filter(status=RunStatus.DONE).order_by("-pk").first()
    carrier = Organisation.objects.filter(kind=OrgKind.CARRIER, is_active=True).first()
    if run is None or carrier is None:
        return 0
    findings = Finding.objects.filter(run=run).exclude(state=FindingState.RESOLVED)

    def pick(code, *, institution=True):
        qs = findings.filter(code=code, review="pending")
        qs = qs.filter(institution__isnull=False) if institution else qs
        return qs.order_by("number").first()

    def evidence(name):
        return SimpleUploadedFile(name, DEMO_PDF, content_type="application/pdf")

    def order(finding, action, note):
        if finding is None:
            return None
        work.finding_review(actor=SYSTEM, findings=[finding], decision="confirmed", reason=note)
        finding.refresh_from_db()
        return work.case_order(
            actor=SYSTEM,
            finding=finding,
            action=action,
            carrier=finding.carrier or carrier,
            instruction=note,
        )

    today = timezone.localdate()
    made = 0
    waiting = order(pick("COMPLAINED_REGISTERED"), "rectify", "投诉集中，请核实使用情况并整改")
    made += waiting is not None
    reported = order(pick("DOUBLE_CLAIM"), "rectify", "两家机构登记同一号码，请核实实际使用单位")
    if reported is not None:
        work.case_report(
            actor=SYSTEM,
            case=reported,
            action_taken="rectify",
            action_date=today,
            note="已核实：该号码由甲银行使用，已通知乙消费金融注销登记",
            evidence=evidence("核实情况说明.pdf"),
        )
        made += 1
    closed = order(
        pick("COMPLAINED_UNREGISTERED", institution=False),
        "close",
        "未登记号码从事催收且被投诉，请关停",
    )
    if closed is not None:
        work.case_report(
            actor=SYSTEM,
            case=closed,
            action_taken="close",
            action_date=today,
            note="已关停该号码",
            evidence=evidence("关停工单.pdf"),
        )
        work.case_verify(actor=SYSTEM, case=closed, accepted=True, note="核验通过")
        made += 1
    late = order(
        findings.filter(
            code="UNREPORTED", review="pending", institution__credit_code="91330000MA2B0B000F"
        )
        .order_by("number")
        .first(),
        "suspend",
        "登记在用但无运营商报送，请核实后暂停",
    )
    if late is not None:
        ago = timezone.now() - dt.timedelta(days=10)
        DisposalCase.objects.filter(pk=late.pk).update(
            ordered_at=ago, deadline=work._deadline(ago, settings.DISPOSAL_WORKING_DAYS)
        )
        work.overdue_remind()
        bob = late.institution.users.filter(is_active=True).first() if late.institution else None
        if bob is not None:
            work.appeal_lodge(
                actor=bob,
                finding=late.finding,
                case=late,
                reasons="该号码为本公司客服热线，由其他省份运营商提供服务，属合法业务",
                document=evidence("号码使用证明.pdf"),
            )
        made += 1
    dismissed = pick("UNREPORTED")
    if dismissed is not None:
        work.finding_review(
            actor=SYSTEM,
            findings=[dismissed],
            decision="dismissed",
            reason="该号码已于本季度停用，登记待更新",
        )
    return made


def exchange() -> list[int]:
    """This quarter's exchange package for every active financial regulator that has none
    yet (after the demo run, so its findings are in it): fiona opens the 信息交换 page on a
    package to download. Ids of the packages generated."""
    from portal import workdays
    from portal.models import Organisation, OrgKind

    from .cases import ExchangePackage
    from .exchange import exchange_package_generate

    year, quarter = workdays.quarter_of(timezone.localdate())
    generated = []
    for recipient in Organisation.objects.filter(
        kind=OrgKind.FINANCIAL_REGULATOR, is_active=True
    ).order_by("pk"):
        if ExchangePackage.objects.filter(year=year, quarter=quarter, recipient=recipient).exists():
            continue
        package = exchange_package_generate(
            actor=SYSTEM, year=year, quarter=quarter, recipient=recipient
        )
        generated.append(package.pk)
    return generated
