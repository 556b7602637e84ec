"""Demo registry data for `make run` (called by `load_demo`; idempotent)."""

from __future__ import annotations

import datetime as dt

from portal.audit import SYSTEM

from .models import Partner, RegisteredNumber, Status
from .services import number_register, partner_save, partner_set_public_contact, signature_add

ALICE = "91330000MA2A1CE00B"
BOB = "91330000MA2B0B000F"

# The contact each demo institution publishes for its agency (001 第十三条; /public/agencies/).
PUBLIC_CONTACTS = {"91330100MA2PART01W": "0571-87650099"}

PARTNERS = {
    ALICE: [
        (
            "杭州示例信息咨询服务有限公司（演示）",
            "91330100MA2PART01W",
            "collection",
            dt.date(2026, 1, 1),
            dt.date(2027, 6, 30),
            "WT-2026-001",
        ),
        (
            "浙江示例营销策划有限公司（演示）",
            "91330100MA2PART020",
            "marketing",
            dt.date(2025, 7, 1),
            dt.date(2026, 6, 30),
            "WT-2025-017",
        ),
    ],
}

NUMBERS = {
    ALICE: [
        ("95599", "营销及催收", "本机构", "", "中国电信", "2025-01-01", ""),
        ("0571-87650001", "营销", "本机构", "", "中国电信", "2025-03-01", ""),
        ("13800138001", "催收", "本机构", "", "中国移动", "2025-06-01", ""),
        ("1069055599", "营销", "本机构", "", "中国移动", "2025-01-01", ""),
        ("106905559901", "营销", "本机构", "", "中国移动", "2025-01-01", "1069055599"),
        (
            "13900139002",
            "催收",
            "杭州示例信息咨询服务有限公司（演示）",
            "91330100MA2PART01W",
            "中国联通",
            "2026-01-15",
            "",
        ),
        (
            "4008200001",
            "营销",
            "甲银行宁波分行（演示）",
            "91330100MA2BRANC08",
            "中国联通",
            "2025-05-01",
            "",
        ),
    ],
    BOB: [
        ("95501", "催收", "本机构", "", "中国联通", "2025-02-01", ""),
        ("13700137003", "营销", "本机构", "", "中国移动", "2026-02-01", ""),
        ("106575501", "营销", "本机构", "", "中国联通", "2025-09-01", ""),
        # also registered by 甲银行 (through its partner): shows the 多机构登记 mark
        ("13900139002", "催收", "本机构", "", "中国联通", "2026-02-01", ""),
    ],
}


def load(orgs: dict) -> None:
    for code, partners in PARTNERS.items():
        institution = orgs[code]
        for name, credit, kind, start, end, document in partners:
            if not Partner.objects.filter(institution=institution, credit_code=credit).exists():
                partner_save(
                    actor=SYSTEM,
                    institution=institution,
                    name=name,
                    credit_code=credit,
                    kind=kind,
                    valid_from=start,
                    valid_to=end,
                    document_number=document,
                )
    for partner in Partner.objects.filter(credit_code__in=PUBLIC_CONTACTS, public_contact=""):
        partner_set_public_contact(
            actor=SYSTEM, partner=partner, contact=PUBLIC_CONTACTS[partner.credit_code]
        )
    for code, rows in NUMBERS.items():
        institution = orgs[code]
        for number, purpose, user, user_code, carrier, start, main in rows:
            digits = "".join(ch for ch in number if ch.isdigit())
            if RegisteredNumber.objects.filter(
                institution=institution, number=digits, status=Status.ACTIVE
            ).exists():
                continue
            number_register(
                actor=SYSTEM,
                institution=institution,
                fields={
                    "号码": number,
                    "用途": purpose,
                    "使用单位": user,
                    "使用单位统一社会信用代码": user_code,
                    "电信运营商": carrier,
                    "合作起始日期": start,
                    "所属主端口": main,
                },
            )
    # A name 甲银行 registered as its SMS signature besides its own (filings' NO_IDENTITY).
    signature_add(actor=SYSTEM, institution=orgs[ALICE], name="甲银行信用卡", note="演示")


CAROL_CARRIER = "91330000MA2CAR0L09"
UNKNOWN_OBJECT = "91330100MA2UNKN012"  # a valid code the portal does not know (flagged)
REPORT_LINES = [
    # number, kind, main port, service object, its code, institution, its code, purpose, doc
    ("13800138001", "", "", "甲银行股份有限公司（演示）", ALICE, "", "", "催收", ""),
    ("1069055599", "", "", "甲银行股份有限公司（演示）", ALICE, "", "", "营销", ""),
    (
        "106905559901",
        "子端口",
        "1069055599",
        "甲银行股份有限公司（演示）",
        ALICE,
        "",
        "",
        "营销",
        "",
    ),
    ("13700137003", "", "", "乙消费金融有限公司（演示）", BOB, "", "", "营销", ""),
    (
        "13900139002",
        "",
        "",
        "杭州示例信息咨询服务有限公司（演示）",
        "91330100MA2PART01W",
        "甲银行股份有限公司（演示）",
        ALICE,
        "催收",
        "WT-2026-001",
    ),
    ("13600136005", "", "", "某未登记营销公司（演示）", UNKNOWN_OBJECT, "", "", "营销", ""),
]


def load_reports(orgs: dict) -> None:
    """carol's carrier: the previous quarter's report, returned once (v1) and accepted (v2),
    so the carrier can start this quarter from it and the administration sees versions to
    compare; nothing yet for the current quarter, so the regulator's dashboard lists it."""
    from django.utils import timezone

    from portal import workdays
    from portal.models import Organisation

    from .models import ServiceReport
    from .services import (
        line_fields,
        service_report_accept,
        service_report_create,
        service_report_line_save,
        service_report_return,
        service_report_submit,
    )

    carrier = orgs.get(CAROL_CARRIER) or Organisation.objects.get(credit_code=CAROL_CARRIER)
    year, quarter = workdays.quarter_of(timezone.localdate())
    year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    if ServiceReport.objects.filter(carrier=carrier, year=year, quarter=quarter).exists():
        return
    try:
        v1 = service_report_create(actor=SYSTEM, carrier=carrier, year=year, quarter=quarter)
    except workdays.CalendarYearMissing:
        return  # the calendar of that year is not loaded: no demo report
    start = dt.date(year, 3 * quarter - 2, 1).isoformat()
    for number, kind, main, name, code, inst, inst_code, purpose, doc in REPORT_LINES:
        fields = {
            "号码": number,
            "号码类型": kind,
            "所属主端口": main,
            "服务对象名称": name,
            "服务对象统一社会信用代码": code,
            "委托金融机构名称": inst,
            "委托金融机构统一社会信用代码": inst_code,
            "用途": purpose,
            "委托书编号": doc if number != "13900139002" else "",  # v1 forgets it
            "合作起始日期": start,
        }
        service_report_line_save(actor=SYSTEM, report=v1, fields=fields)
    v1 = service_report_submit(actor=SYSTEM, report=v1)
    service_report_return(
        actor=SYSTEM, report=v1, reason="13900139002 的服务对象为合作单位，请补充委托书编号"
    )
    v2 = service_report_create(
        actor=SYSTEM, carrier=carrier, year=year, quarter=quarter, start_from="latest"
    )
    line = v2.lines.get(number="13900139002")
    fields = line_fields(line)
    fields["委托书编号"] = "WT-2026-001"
    service_report_line_save(actor=SYSTEM, report=v2, line=line, fields=fields)
    v2 = service_report_submit(actor=SYSTEM, report=v2)
    service_report_accept(actor=SYSTEM, report=v2)
