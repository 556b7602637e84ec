"""Demo filings for `make run` (called by `load_demo`; idempotent): carol's carrier files
three campaigns for 甲银行 from its registered port tree: one that passes every check
(submitted, waiting in the administration's queue), one with warnings (neutral signature,
no opt-out; submitted), and one accepted and marked sent."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from portal import workdays
from portal.audit import SYSTEM
from portal.workdays import SHANGHAI

from . import services
from .models import SmsFiling

ALICE = "91330000MA2A1CE00B"
CARRIER = "91330000MA2CAR0L09"


def _start_day(today: dt.date, offset: int) -> dt.date:
    """The first day from ``today + offset`` whose filing deadline is still ahead (else
    the day itself: the filing then shows CALENDAR_MISSING, as it would for a carrier)."""
    day = today + dt.timedelta(days=offset)
    for _ in range(30):
        try:
            if workdays.sms_filing_deadline(day) >= timezone.now():
                return day
        except workdays.CalendarYearMissing:
            return today + dt.timedelta(days=offset)
        day += dt.timedelta(days=1)
    return day


def _columns(institution, carrier, start: dt.date, **changes) -> dict[str, str]:
    begin = dt.datetime.combine(start, dt.time(9, 0), tzinfo=SHANGHAI)
    return {
        "报备单位": carrier.name,
        "发送主体名称": institution.name,
        "发送主体统一社会信用代码": institution.credit_code,
        "短信签名": "【甲银行】",
        "发送端口": "106905559901",
        "发送目的": "营销",
        "短信内容": "【甲银行】尊敬的{姓名}，您的信用卡可享分期手续费优惠，详询95599。回T退订",
        "计划发送开始时间": f"{begin:%Y-%m-%d %H:%M}",
        "计划发送结束时间": f"{begin + dt.timedelta(hours=9):%Y-%m-%d %H:%M}",
        "计划发送数量": "50000",
        "发送对象范围": "本行信用卡客户（演示）",
        "发送对象同意情况": "开户时勾选同意接收营销信息",
        "发送地域": "浙江省",
        "退订方式": "回T退订",
        "联系人": "张三",
        "联系电话": "0571-87650001",
        **changes,
    }


def load(orgs: dict) -> None:
    carrier, institution = orgs[CARRIER], orgs[ALICE]
    if SmsFiling.objects.filter(carrier=carrier).exists():
        return
    today = timezone.localdate()
    plans = [
        ("passing", _columns(institution, carrier, _start_day(today, 12))),
        (
            "warnings",
            _columns(
                institution,
                carrier,
                _start_day(today, 14),
                短信签名="【温馨提示】",
                短信内容="【温馨提示】{姓名}您好，本月办理分期可享手续费优惠，详询95599。",
                计划发送数量="20000",
            ),
        ),
        ("sent", _columns(institution, carrier, _start_day(today, 10), 计划发送数量="8000")),
    ]
    for kind, texts in plans:
        values = services.values_from_columns(texts, carrier=carrier)
        filing = services.filing_create(actor=SYSTEM, carrier=carrier, values=values)
        if filing.blocking:
            continue  # e.g. next year's calendar not loaded yet: it stays a draft, as it says
        services.filing_submit(actor=SYSTEM, filing=filing)
        if kind == "sent":
            services.filing_review(actor=SYSTEM, filing=filing, decision="accept")
            services.filing_mark_sent(actor=SYSTEM, filing=filing, actual_count=7968)
