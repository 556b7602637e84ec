"""Each check of a bulk-SMS filing with a passing and a failing case (issue 12 §3, §8)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from filings import checks
from portal import workdays
from portal.accounts import services as accounts
from portal.audit import SYSTEM
from registry.services import signature_add
from tests.conftest import CODES
from tests.filings.conftest import (
    COLLECTION,
    PARTNER_CODE,
    PORT,
    SUB_PORT,
    codes,
    file,
)
from tests.registry.conftest import register

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


# --- LATE (000 §二(二)3: 5 working days by the official calendar, 调休 included) -----------


@pytest.mark.parametrize(
    ("start", "in_time", "too_late"),
    [
        # Spring Festival 2026 (15–23 Feb off, Sat 14 Feb a working day): a Mon–Fri count
        # would allow filing until 20 Feb.
        ("2026-02-27 09:00", at(2026, 2, 13, 23, 0), at(2026, 2, 14, 9, 0)),
        # The make-up Saturday 28 Feb counts: start Mon 2 Mar -> due 24 Feb, not 23 Feb.
        ("2026-03-02 09:00", at(2026, 2, 24, 23, 0), at(2026, 2, 25, 9, 0)),
        # National Day and Mid-autumn 2026 (25–27 Sep, 1–7 Oct off).
        ("2026-10-09 09:00", at(2026, 9, 24, 22, 0), at(2026, 9, 25, 9, 0)),
        # The make-up Saturday 10 Oct counts: start Mon 12 Oct -> due 29 Sep.
        ("2026-10-12 09:00", at(2026, 9, 29, 12, 0), at(2026, 9, 30, 9, 0)),
    ],
)
def test_late_by_the_official_calendar(
    carrier_carol, alice_ports, time_machine, start, in_time, too_late
):
    """000 §二(二)3: filed at least 5 working days before sending (domain.md working days)."""
    end = start.replace("09:00", "18:00")
    time_machine.move_to(in_time)
    assert "LATE" not in codes(file(carrier_carol, 计划发送开始时间=start, 计划发送结束时间=end))
    time_machine.move_to(too_late)
    late = file(carrier_carol, 计划发送开始时间=start, 计划发送结束时间=end)
    check = next(c for c in late.checks if c["code"] == "LATE")
    assert check["blocking"] is True
    due = workdays.sms_filing_deadline(dt.date.fromisoformat(start[:10]))
    assert f"须在 {due:%Y-%m-%d} 24:00 前报备" in check["message"]


def test_set_based_deadlines_agree_with_the_single_day_rule(db):
    day = dt.date(2025, 1, 1)
    days = [day + dt.timedelta(days=i) for i in range(0, 760, 3)]
    many = workdays.sms_filing_deadlines(days)
    for d in days:
        try:
            expected = workdays.sms_filing_deadline(d)
        except workdays.CalendarYearMissing as exc:
            assert isinstance(many[d], workdays.CalendarYearMissing)
            assert many[d].year == exc.year
        else:
            assert many[d] == expected


# --- CALENDAR_MISSING -----------------------------------------------------------------------


def test_calendar_missing_for_next_year_every_december(carrier_carol, alice_ports, time_machine):
    """A January campaign filed in December, before the State Council's schedule is loaded:
    blocking, and the message says the administration must load that year."""
    time_machine.move_to(at(2026, 12, 21, 10, 0))
    filing = file(
        carrier_carol, 计划发送开始时间="2027-01-05 09:00", 计划发送结束时间="2027-01-05 18:00"
    )
    check = next(c for c in filing.checks if c["code"] == "CALENDAR_MISSING")
    assert check["blocking"] is True
    assert "2027" in check["message"] and "通信管理局加载" in check["message"]
    assert "LATE" not in codes(filing)  # no guess at a deadline


def test_calendar_missing_when_the_window_runs_into_next_year(
    carrier_carol, alice_ports, time_machine
):
    time_machine.move_to(at(2026, 12, 1, 10, 0))
    filing = file(
        carrier_carol, 计划发送开始时间="2026-12-31 09:00", 计划发送结束时间="2027-01-02 18:00"
    )
    assert "CALENDAR_MISSING" in codes(filing)
    inside = file(
        carrier_carol, 计划发送开始时间="2026-12-30 09:00", 计划发送结束时间="2026-12-31 18:00"
    )
    assert "CALENDAR_MISSING" not in codes(inside)


# --- QUIET_HOURS (000 §二(一)2: no collection 22:00–08:00) ------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "quiet"),
    [
        ("2026-03-20 21:59", "2026-03-20 21:59", False),
        ("2026-03-20 22:00", "2026-03-20 22:00", True),
        ("2026-03-20 07:59", "2026-03-20 07:59", True),
        ("2026-03-20 08:00", "2026-03-20 08:00", False),
        ("2026-03-20 08:00", "2026-03-20 21:59", False),
        ("2026-03-20 09:00", "2026-03-20 22:00", True),
        ("2026-03-20 21:00", "2026-03-21 09:00", True),  # across midnight
        ("2026-03-20 23:30", "2026-03-21 00:30", True),  # wholly after midnight's start
        ("2026-03-21 00:10", "2026-03-21 06:00", True),
    ],
)
def test_quiet_hours_for_collection(carrier_carol, alice_ports, start, end, quiet):
    filing = file(
        carrier_carol, **{**COLLECTION, "计划发送开始时间": start, "计划发送结束时间": end}
    )
    assert ("QUIET_HOURS" in codes(filing)) is quiet
    if quiet:
        assert (
            "22:00–08:00" in next(c for c in filing.checks if c["code"] == "QUIET_HOURS")["message"]
        )


def test_quiet_hours_apply_to_collection_only(carrier_carol, alice_ports):
    filing = file(
        carrier_carol, 计划发送开始时间="2026-03-20 22:30", 计划发送结束时间="2026-03-20 23:00"
    )
    assert "QUIET_HOURS" not in codes(filing)


def test_quiet_hours_are_a_setting_per_province(carrier_carol, alice_ports, settings):
    settings.SMS_FILING_QUIET_HOURS = {"": ("22:00", "08:00"), "某省": ("21:00", "09:00")}
    values = {
        **COLLECTION,
        "计划发送开始时间": "2026-03-20 21:30",
        "计划发送结束时间": "2026-03-20 21:45",
    }
    assert "QUIET_HOURS" not in codes(file(carrier_carol, **values))
    assert "QUIET_HOURS" in codes(file(carrier_carol, **{**values, "发送地域": "某省"}))


# --- NO_OPT_OUT (000 §二(二)2; 002: marketing SMS give a way to refuse) ----------------------


@pytest.mark.parametrize(
    "content",
    [
        "【甲银行】优惠活动，详询95599。回T退订",
        "【甲银行】优惠活动，详询95599，退订回T",
        "【甲银行】优惠活动，详询95599。拒收请回复R",
        "【甲银行】优惠活动，详询95599。回Ｔ退订",  # full-width letter
        "【甲银行】优惠活动，详询95599。回 T\n退订",  # space and line break
        "【甲银行】优惠活动，详询95599。回{退订码}退订",  # a placeholder
        "【甲银行】优惠活动，详询95599。退订请点击 t.cn/x?(a)",  # the declared text itself
    ],
)
def test_opt_out_instructions_are_recognised_tolerantly(carrier_carol, alice_ports, content):
    filing = file(carrier_carol, 短信内容=content, 退订方式="退订请点击 t.cn/x?(a)")
    assert "NO_OPT_OUT" not in codes(filing)


def test_no_opt_out(carrier_carol, alice_ports):
    assert "NO_OPT_OUT" in codes(file(carrier_carol, 短信内容="【甲银行】优惠活动，详询95599。"))
    assert "NO_OPT_OUT" in codes(file(carrier_carol, 退订方式=""))
    notice = file(
        carrier_carol, 发送目的="通知", 短信内容="【甲银行】系统升级，详询95599。", 退订方式=""
    )
    assert "NO_OPT_OUT" not in codes(notice)


def test_placeholders_are_not_changed_by_regex_metacharacters():
    """A declared text is literal around its placeholders: '.', '(', '+', '?' mean
    themselves, and a placeholder matches any run (issue 12 §3 Placeholders)."""
    content = checks.fold
    assert checks.pattern_of("a.c").search(content("abc")) is None
    assert checks.pattern_of("a.c").search(content("xa.cx"))
    assert checks.pattern_of("(T)+").search(content("回(T)+退订"))
    assert checks.pattern_of("(T)+").search(content("回TT退订")) is None
    assert checks.pattern_of("回{码}退订").search(content("回TD退订"))
    assert checks.pattern_of("回{码}退订").search(content("回{退订码}退订"))
    assert checks.pattern_of("[{x}]*").search(content("[ab]*"))
    assert checks.pattern_of("[{x}]*").search(content("a")) is None


# --- NO_IDENTITY / SIGNATURE_NEUTRAL (domain.md "SMS signatures") ---------------------------


@pytest.mark.parametrize(
    "content",
    [
        "【甲银行】优惠活动，详询95599。回T退订",
        "[甲银行]优惠活动，详询95599。回T退订",  # half-width brackets
        "［甲银行］优惠活动，详询95599。回T退订",  # full-width square brackets
        "【 甲 银行 】\n优惠活动，详询95599。回T退订",
        "优惠活动，详询95599。回T退订【甲银行】",  # at the end
    ],
)
def test_signature_names_the_sender(carrier_carol, alice_ports, content):
    assert "NO_IDENTITY" not in codes(file(carrier_carol, 短信内容=content))


def test_signature_abbreviation_and_registered_names(carrier_carol, alice_ports, inst_alice):
    long_name = {"发送主体名称": "甲银行股份有限公司"}
    body = "优惠活动，详询95599。回T退订"
    assert "NO_IDENTITY" not in codes(
        file(carrier_carol, **long_name, 短信签名="甲银行", 短信内容=f"【甲银行】{body}")
    )
    generic = file(carrier_carol, **long_name, 短信签名="银行", 短信内容=f"【银行】{body}")
    assert "NO_IDENTITY" in codes(generic)
    brand = file(carrier_carol, 短信签名="【甲卡】", 短信内容=f"【甲卡】{body}")
    assert "NO_IDENTITY" in codes(brand)
    signature_add(actor=inst_alice, institution=inst_alice.organisation, name="【甲卡】")
    brand = file(carrier_carol, 短信签名="【甲卡】", 短信内容=f"【甲卡】{body}")
    assert "NO_IDENTITY" not in codes(brand)


def test_no_identity(carrier_carol, alice_ports):
    assert "NO_IDENTITY" in codes(file(carrier_carol, 短信内容="优惠活动，详询95599。回T退订"))
    other = file(
        carrier_carol, 短信签名="【乙银行】", 短信内容="【乙银行】优惠，详询95599。回T退订"
    )
    assert "NO_IDENTITY" in codes(other)
    mismatch = file(carrier_carol, 短信签名="【甲银行信用卡】")
    assert "NO_IDENTITY" in codes(mismatch)


def test_signature_neutral(carrier_carol, alice_ports):
    for label in ("【温馨提示】", "[客服通知]", "【系统消息】"):
        filing = file(carrier_carol, 短信签名=label, 短信内容=f"{label}优惠，详询95599。回T退订")
        assert "SIGNATURE_NEUTRAL" in codes(filing)
    assert "SIGNATURE_NEUTRAL" not in codes(file(carrier_carol))


# --- NO_CONTACT (000 §二(二)2) -----------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "【甲银行】优惠，详询 9559 9。回T退订",
        "【甲银行】优惠，详询0571-87650001。回T退订",
        "【甲银行】优惠，详询{客服电话}。回T退订",
        "【甲银行】优惠，详见 https://bank.example.cn/a 。回T退订",
        "【甲银行】优惠，详询400-820-0001。回T退订",
    ],
)
def test_contact_given(carrier_carol, alice_ports, content):
    assert "NO_CONTACT" not in codes(file(carrier_carol, 短信内容=content))


def test_no_contact(carrier_carol, alice_ports):
    assert "NO_CONTACT" in codes(file(carrier_carol, 短信内容="【甲银行】优惠活动。回T退订"))
    collection = file(
        carrier_carol, **{**COLLECTION, "短信内容": "【甲银行】您的账单已逾期，请还款。"}
    )
    assert "NO_CONTACT" in codes(collection)


# --- ports ----------------------------------------------------------------------------------


def test_port_registered_and_unregistered(carrier_carol, alice_ports, inst_bob):
    good = file(carrier_carol)
    assert "PORT_UNREGISTERED" not in codes(good)
    assert good.register_entry.number == PORT
    assert "PORT_UNREGISTERED" in codes(file(carrier_carol, 发送端口="1069099999"))
    register(inst_bob, "1069077777", 用途="营销")  # in bob's register, not alice's
    assert "PORT_UNREGISTERED" in codes(file(carrier_carol, 发送端口="1069077777"))


def test_sub_port_under_a_registered_main_port(carrier_carol, alice_ports):
    """A sub-port is covered by its main port's registration (domain.md: prefix along the
    port tree)."""
    filing = file(carrier_carol, 发送端口=SUB_PORT)
    assert "PORT_UNREGISTERED" not in codes(filing)
    assert filing.register_entry.number == PORT
    assert filing.port == SUB_PORT


def test_the_most_specific_registration_is_linked(carrier_carol, alice_ports, inst_alice):
    register(inst_alice, SUB_PORT, 用途="营销", 所属主端口=PORT)
    assert file(carrier_carol, 发送端口=SUB_PORT + "7").register_entry.number == SUB_PORT


def test_registration_must_cover_the_send_dates(carrier_carol, alice_ports, inst_alice):
    register(inst_alice, "1069066666", 用途="营销", 合作截止日期="2026-03-20")
    ends_early = file(carrier_carol, 发送端口="1069066666", 计划发送结束时间="2026-03-21 18:00")
    assert "PORT_UNREGISTERED" in codes(ends_early)
    inside = file(carrier_carol, 发送端口="1069066666")
    assert "PORT_UNREGISTERED" not in codes(inside)


def test_port_purpose(carrier_carol, alice_ports):
    assert "PORT_PURPOSE" not in codes(file(carrier_carol))
    wrong = file(carrier_carol, 发送端口=COLLECTION["发送端口"])  # a collection port, marketing
    assert "PORT_PURPOSE" in codes(wrong)


def test_port_other_carrier_through_the_carrier_record(carrier_carol, inst_alice, fixed_day):
    """PORT_OTHER_CARRIER compares the register's 电信运营商 with the filing carrier's
    CarrierName rows (its network), never with its full name 某移动公司."""
    register(inst_alice, PORT, 用途="营销", 电信运营商="移动")
    assert "PORT_OTHER_CARRIER" not in codes(file(carrier_carol))
    register(inst_alice, "1065500001", 用途="营销", 电信运营商="中国联通")
    assert "PORT_OTHER_CARRIER" in codes(file(carrier_carol, 发送端口="1065500001"))


def test_sms_provider_matched_by_its_trade_name(inst_alice, fixed_day):
    from tests.conftest import _user

    provider, _ = accounts.organisation_create(
        actor=SYSTEM,
        kind="carrier",
        name="杭州某某信息技术有限公司",
        credit_code=_code("91330100MA2PRD000"),
        network="provider",
        trade_names="某某短信",
    )
    user = _user(provider, "percy")
    register(inst_alice, PORT, 用途="营销", 电信运营商="某某短信")
    filing = file(user, 报备单位="杭州某某信息技术有限公司")
    assert "PORT_OTHER_CARRIER" not in codes(filing)


def _code(first17: str) -> str:
    from portal.creditcode import check_character

    return first17 + check_character(first17)


# --- SENDER_UNAUTHORISED (000 §一(二), §二(二)1; 002) ---------------------------------------


def test_licensed_institution_is_authorised(carrier_carol, alice_ports):
    filing = file(carrier_carol)
    assert "SENDER_UNAUTHORISED" not in codes(filing)
    assert filing.qualification == "licence"


def test_unknown_sender_is_unauthorised(carrier_carol, alice_ports):
    unknown = file(
        carrier_carol, 发送主体名称="某某公司", 发送主体统一社会信用代码=_code("91330100MA2XYW000")
    )
    assert "SENDER_UNAUTHORISED" in codes(unknown)
    assert next(c for c in unknown.checks if c["code"] == "SENDER_UNAUTHORISED")["blocking"]


def _by_partner(**changes):
    return {
        "发送主体名称": "杭州某催收服务有限公司",
        "发送主体统一社会信用代码": PARTNER_CODE,
        "委托金融机构名称": "甲银行",
        "委托金融机构统一社会信用代码": CODES["alice"],
        **changes,
    }


def test_partner_with_valid_entrustment(carrier_carol, alice_ports, partner):
    filing = file(carrier_carol, **_by_partner())
    assert "SENDER_UNAUTHORISED" not in codes(filing)
    assert filing.qualification == "entrustment" and filing.partner == partner
    assert "NO_IDENTITY" not in codes(filing)  # 【甲银行】: the entrusting institution


def test_entrustment_expiring_during_the_send_window(carrier_carol, alice_ports, partner):
    """The entrustment (valid to 2026-03-25) must cover every send day."""
    filing = file(
        carrier_carol,
        **_by_partner(计划发送开始时间="2026-03-24 09:00", 计划发送结束时间="2026-03-26 18:00"),
    )
    check = next(c for c in filing.checks if c["code"] == "SENDER_UNAUTHORISED")
    assert "2026-03-25 到期" in check["message"]


def test_partner_not_entrusted_or_not_for_this_purpose(carrier_carol, alice_ports, inst_alice):
    assert "SENDER_UNAUTHORISED" in codes(file(carrier_carol, **_by_partner()))
    from tests.registry.conftest import save_partner

    save_partner(inst_alice, code=PARTNER_CODE, kind="collection")
    assert "SENDER_UNAUTHORISED" in codes(file(carrier_carol, **_by_partner()))  # marketing


# --- BAD_PERIOD ---------------------------------------------------------------------------


def test_bad_period(carrier_carol, alice_ports):
    assert "BAD_PERIOD" not in codes(file(carrier_carol))
    backwards = file(carrier_carol, 计划发送结束时间="2026-03-19 18:00")
    assert "BAD_PERIOD" in codes(backwards)
    past = file(
        carrier_carol, 计划发送开始时间="2026-03-09 09:00", 计划发送结束时间="2026-03-20 18:00"
    )
    assert "BAD_PERIOD" in codes(past)


# --- settings and scale -------------------------------------------------------------------


def test_blocking_set_is_a_setting(carrier_carol, alice_ports, settings):
    settings.SMS_FILING_BLOCKING_CHECKS = ["NO_OPT_OUT"]
    filing = file(carrier_carol, 退订方式="", 发送端口="1069099999")
    blocking = {c["code"]: c["blocking"] for c in filing.checks}
    assert blocking == {"NO_OPT_OUT": True, "PORT_UNREGISTERED": False}


def test_checks_are_set_based(carrier_carol, alice_ports, partner):
    """One query per check kind whatever the number of filings (issue 12 §9)."""

    def facts(n: int) -> list[checks.Facts]:
        return [
            checks.Facts(
                key=i,
                carrier_id=carrier_carol.organisation_id,
                sender_name="杭州某催收服务有限公司" if i % 2 else "甲银行",
                sender_credit_code=PARTNER_CODE if i % 2 else CODES["alice"],
                entrusting_name="甲银行" if i % 2 else "",
                entrusting_credit_code=CODES["alice"] if i % 2 else "",
                signature="甲银行",
                port=f"{PORT}{i:02d}",
                purpose="marketing",
                content="【甲银行】优惠，详询95599。回T退订",
                start_at=at(2026, 3, 20 + i % 5, 9),
                end_at=at(2026, 3, 20 + i % 5, 18),
                opt_out="回T退订",
            )
            for i in range(n)
        ]

    counts = []
    for n in (3, 60):
        with CaptureQueriesContext(connection) as queries:
            outcomes = checks.run(facts(n))
        counts.append(len(queries))
        assert all(o.register_entry_id for o in outcomes.values())
    assert counts[0] == counts[1]
