"""Demo complaints for `make run` (called by `load_demo`; idempotent by 转办编号): some
about a number in no register, three about one of 甲银行's registered numbers (the
quarterly threshold), one about a sub-port, so the cross-match has evidence to show."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from portal.audit import SYSTEM

from .models import Complaint
from .services import complaint_create

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
