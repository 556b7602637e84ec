"""The checks on a bulk-SMS filing (issue 12 §3; forms.md §3; 000 §二(一)2, §二(二)2–3; 002).

Each check has a stable code (part of the API and the CLI output) and a Chinese reason.
Which codes block a submission is a setting (``SMS_FILING_BLOCKING_CHECKS``); the rest are
warnings the regulator sees. :func:`run` checks many filings at once, set-based: a fixed
number of queries per check kind whatever the number of filings (the calendar, the parties,
the entrustments, the signatures, and one join of every port prefix against the register).

Content checks are tolerant (issue 12 §3): full- and half-width brackets, spaces, line
breaks and ``{变量}`` placeholders are accepted, and no check demands an exact template.
Where a text given by the carrier is used as a pattern (the declared 退订方式), its literal
parts go through ``re.escape``: a regular-expression metacharacter in it never changes what
a placeholder matches.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from portal import workdays
from portal.workdays import SHANGHAI, CalendarYearMissing

CODES = (
    "LATE",
    "CALENDAR_MISSING",
    "QUIET_HOURS",
    "NO_OPT_OUT",
    "NO_IDENTITY",
    "SIGNATURE_NEUTRAL",
    "NO_CONTACT",
    "PORT_UNREGISTERED",
    "PORT_PURPOSE",
    "PORT_OTHER_CARRIER",
    "SENDER_UNAUTHORISED",
    "BAD_PERIOD",
)

LABELS = {
    "LATE": "报备晚于截止时间",
    "CALENDAR_MISSING": "工作日历缺少年份",
    "QUIET_HOURS": "催收短信在夜间时段发送",
    "NO_OPT_OUT": "营销短信缺少退订方式",
    "NO_IDENTITY": "签名不能表明发送主体身份",
    "SIGNATURE_NEUTRAL": "使用中性标签作为签名",
    "NO_CONTACT": "短信内容缺少联系方式",
    "PORT_UNREGISTERED": "发送端口未登记",
    "PORT_PURPOSE": "端口登记用途不符",
    "PORT_OTHER_CARRIER": "端口登记在其他运营商",
    "SENDER_UNAUTHORISED": "发送主体无资质或委托",
    "BAD_PERIOD": "计划发送时间有误",
}

CODE_CHOICES = [(code, LABELS[code]) for code in CODES]

MARKETING, COLLECTION, NOTICE = "marketing", "collection", "notice"
PURPOSE_LABELS = {MARKETING: "营销", COLLECTION: "催收", NOTICE: "通知"}

# Labels that say what a message is, not who sends it (domain.md "SMS signatures").
NEUTRAL_SIGNATURES = frozenset(
    {
        "温馨提示",
        "温馨提醒",
        "客服通知",
        "客服中心",
        "客服",
        "系统消息",
        "系统通知",
        "系统提示",
        "通知",
        "重要通知",
        "短信通知",
        "服务通知",
        "服务提醒",
        "提示",
        "提醒",
        "友情提示",
        "消息",
        "官方",
        "官方通知",
        "账单提醒",
        "还款提醒",
        "催收通知",
        "活动通知",
        "会员通知",
        "验证码",
    }
)
# Parts of names that identify nobody on their own ("银行" is in every bank's name).
GENERIC_WORDS = frozenset(
    {
        "银行",
        "公司",
        "有限公司",
        "股份",
        "股份有限公司",
        "有限责任公司",
        "集团",
        "中国",
        "金融",
        "消费金融",
        "保险",
        "证券",
        "信托",
        "基金",
        "期货",
        "小贷",
        "小额贷款",
        "科技",
        "信息",
        "服务",
        "分行",
        "支行",
    }
)

# --- text folding --------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"[{｛]([^{}｛｝]{0,40})[}｝]")
HOLE = "\ue000"  # a placeholder inside folded text: matches like any token
_SPACES = re.compile(r"\s+")
_OPEN, _CLOSE = "【[〖〔", "】]〗〕"


def fold(text: str) -> str:
    """NFKC (full-width to half-width), no spaces or line breaks, lower case; placeholders
    become one HOLE character each."""
    text = unicodedata.normalize("NFKC", text or "")
    text = PLACEHOLDER.sub(HOLE, text)
    return _SPACES.sub("", text).lower()


def placeholders(text: str) -> list[str]:
    return [name.strip() for name in PLACEHOLDER.findall(unicodedata.normalize("NFKC", text))]


def pattern_of(text: str) -> re.Pattern[str]:
    """A tolerant pattern for a text a carrier declared (e.g. its 退订方式), to find in a
    folded content: literal parts folded and ``re.escape``d, each ``{变量}`` matching any
    non-empty run (or a placeholder of the content)."""
    raw = unicodedata.normalize("NFKC", text or "")
    parts = PLACEHOLDER.split(raw)
    # split() with one group: literals at even indexes, placeholder names at odd ones.
    pattern = "".join(
        re.escape(_SPACES.sub("", part).lower()) if i % 2 == 0 else ".+?"
        for i, part in enumerate(parts)
    )
    return re.compile(pattern, re.DOTALL)


_BRACKETED = re.compile(r"[【\[〖〔]([^【】\[\]〖〗〔〕]{1,40})[】\]〗〕]")


def content_signature(content: str) -> str | None:
    """The 【签名】 at the start or the end of a text (either bracket width), or None."""
    text = unicodedata.normalize("NFKC", content or "").strip()
    found = list(_BRACKETED.finditer(text))
    if not found:
        return None
    first, last = found[0], found[-1]
    if not text[: first.start()].strip():
        return _SPACES.sub("", first.group(1))
    if not text[last.end() :].strip():
        return _SPACES.sub("", last.group(1))
    return None


def signature_name(text: str) -> str:
    """A signature as typed in the 短信签名 column: brackets and spaces dropped."""
    folded = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in folded if ch not in _OPEN + _CLOSE and not ch.isspace())


_COMPANY_FORM = re.compile(r"(股份有限公司|有限责任公司|股份公司|有限公司|公司)?(\([^()]*\))?$")


def name_stem(folded: str) -> str:
    """A folded name without its company form and a trailing remark in brackets."""
    stem = _COMPANY_FORM.sub("", folded)
    return stem or folded


def signature_identifies(signature: str, names: Iterable[str], registered: Iterable[str]) -> bool:
    """A signature names the sender when it is one of its full ``names``, a contiguous
    abbreviation of one that still identifies it (2+ characters, not a generic word such as
    银行), or a name the institution registered as its signature (domain.md)."""
    sig = fold(signature)
    if len(sig) < 2 or HOLE in sig:
        return False
    if sig in {fold(r) for r in registered}:
        return True
    if sig in GENERIC_WORDS:
        return False
    for name in names:
        full = fold(name)
        if not full:
            continue
        if sig == full or sig == name_stem(full):
            return True
        if sig in name_stem(full):
            return True
    return False


# Opt-out instructions: 回T退订, 退订回T, 回复TD退订, 拒收请回复R, 发送N取消…
_TOKEN = rf"(?:[a-z0-9]{{1,6}}|{HOLE})"
OPT_OUT = (
    re.compile(
        rf"(?:回复?|发送?|编辑|短信)[\"'“”‘’]?{_TOKEN}[\"'“”‘’]?(?:即可|可)?(?:退订|拒收|退|取消|屏蔽)"
    ),
    re.compile(
        rf"(?:退订|拒收|拒绝接收|取消订阅|不再接收|屏蔽)[^。！!；;]{{0,8}}?(?:回复?|发送?|回)[\"'“”‘’]?{_TOKEN}"
    ),
    re.compile(r"(?:退订|拒收)[^。！!；;]{0,12}?(?:https?://|www\.|[a-z0-9-]+\.(?:cn|com|net)\b)"),
)

_PHONE = re.compile(
    r"(?<!\d)(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|9[56]\d{3,4}|[48]00-?\d{3}-?\d{4}|10\d{3,4}|12\d{3})(?!\d)"
)
_URL = re.compile(r"(?:https?://|www\.)|[a-z0-9-]+\.(?:cn|com|net|com\.cn)\b")
_CONTACT_WORDS = ("电话", "热线", "客服", "联系", "网址", "链接", "官网", "app", "微信", "公众号")


def has_opt_out(content: str, declared: str) -> bool:
    text = fold(content)
    if any(p.search(text) for p in OPT_OUT):
        return True
    return bool(declared.strip()) and bool(pattern_of(declared).search(text))


def has_contact(content: str) -> bool:
    """A phone number, a web address, or a placeholder that stands for one."""
    text = unicodedata.normalize("NFKC", content or "")
    compact = re.sub(r"(?<=\d)[\s-]+(?=\d)", "", text)
    if _PHONE.search(compact) or _URL.search(fold(text)):
        return True
    return any(any(word in name.lower() for word in _CONTACT_WORDS) for name in placeholders(text))


# --- quiet hours ---------------------------------------------------------------------------


def _clock(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def quiet_hours_for(*provinces: str) -> tuple[dt.time, dt.time]:
    table = settings.SMS_FILING_QUIET_HOURS
    for province in provinces:
        if province and province in table:
            start, end = table[province]
            return _clock(start), _clock(end)
    start, end = table.get("", ("22:00", "08:00"))
    return _clock(start), _clock(end)


def quiet_overlap(
    start: dt.datetime, end: dt.datetime, quiet: tuple[dt.time, dt.time]
) -> dt.datetime | None:
    """The first moment of the window ``[start, end]`` (inclusive: the last moment of
    sending) that falls in a quiet period ``[q_start, q_end)`` in Asia/Shanghai, including
    periods that cross midnight; None when the window stays outside."""
    start, end = start.astimezone(SHANGHAI), end.astimezone(SHANGHAI)
    if end < start:
        return None
    q_start, q_end = quiet
    crosses = q_end <= q_start
    day = start.date() - dt.timedelta(days=1)
    while day <= end.date():
        opens = dt.datetime.combine(day, q_start, tzinfo=SHANGHAI)
        closes = dt.datetime.combine(day + dt.timedelta(days=int(crosses)), q_end, tzinfo=SHANGHAI)
        if start < closes and end >= opens:
            return max(start, opens)
        day += dt.timedelta(days=1)
    return None


# --- the facts of one filing ---------------------------------------------------------------


@dataclass
class Facts:
    """What the checks read of one filing (saved or being typed)."""

    key: Any
    carrier_id: int
    carrier_province: str = ""
    sender_name: str = ""
    sender_credit_code: str = ""
    entrusting_name: str = ""
    entrusting_credit_code: str = ""
    signature: str = ""
    port: str = ""
    purpose: str = ""
    content: str = ""
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    opt_out: str = ""
    region: str = ""

    @classmethod
    def from_values(cls, values: dict, *, carrier, key: Any = 0) -> Facts:
        """Facts of values being typed or sent (importers.sms_filing.clean_values), before
        anything is saved: what is missing or unreadable is left empty."""
        texts = {
            name: values.get(name) or ""
            for name in cls.__dataclass_fields__
            if name not in ("key", "carrier_id", "carrier_province", "start_at", "end_at")
        }
        return cls(
            key=key,
            carrier_id=carrier.pk,
            carrier_province=carrier.province,
            start_at=values.get("start_at") or None,
            end_at=values.get("end_at") or None,
            **texts,
        )

    @classmethod
    def of(cls, filing) -> Facts:
        return cls(
            key=filing.pk,
            carrier_id=filing.carrier_id,
            carrier_province=getattr(filing.carrier, "province", "") if filing.carrier_id else "",
            sender_name=filing.sender_name,
            sender_credit_code=filing.sender_credit_code,
            entrusting_name=filing.entrusting_name,
            entrusting_credit_code=filing.entrusting_credit_code,
            signature=filing.signature,
            port=filing.port,
            purpose=filing.purpose,
            content=filing.content,
            start_at=filing.start_at,
            end_at=filing.end_at,
            opt_out=filing.opt_out,
            region=filing.region,
        )


@dataclass
class Outcome:
    checks: list[dict] = field(default_factory=list)
    institution_id: int | None = None
    register_entry_id: int | None = None
    qualification: str = ""
    partner_id: int | None = None
    document: str = ""  # the qualification document, as shown to people
    deadline: dt.datetime | None = None

    def add(self, code: str, message: str) -> None:
        blocking = code in settings.SMS_FILING_BLOCKING_CHECKS
        self.checks.append({"code": code, "blocking": blocking, "message": message})

    def ordered(self) -> list[dict]:
        return sorted(self.checks, key=lambda c: CODES.index(c["code"]))

    @property
    def blocking(self) -> list[dict]:
        return [c for c in self.checks if c["blocking"]]


def _day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


def _shown(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


# --- the run -------------------------------------------------------------------------------


def run(facts: list[Facts], *, now: dt.datetime | None = None) -> dict[Any, Outcome]:
    """Every check on every filing of ``facts``; returns ``{key: Outcome}``."""
    now = now or timezone.now()
    outcomes = {f.key: Outcome() for f in facts}
    _content_checks(facts, outcomes)
    _period_checks(facts, outcomes, now)
    _calendar_checks(facts, outcomes, now)
    parties = _parties(facts)
    _sender_checks(facts, outcomes, parties)
    _signature_checks(facts, outcomes, parties)
    _port_checks(facts, outcomes)
    for outcome in outcomes.values():
        outcome.checks = outcome.ordered()
    return outcomes


def run_one(fact: Facts, *, now: dt.datetime | None = None) -> Outcome:
    return run([fact], now=now)[fact.key]


def _content_checks(facts: list[Facts], outcomes: dict) -> None:
    for f in facts:
        out = outcomes[f.key]
        if f.purpose == MARKETING:
            if not f.opt_out.strip():
                out.add(
                    "NO_OPT_OUT", "营销短信须填写退订方式（如“回T退订”），并在短信内容中告知用户"
                )
            elif not has_opt_out(f.content, f.opt_out):
                out.add(
                    "NO_OPT_OUT",
                    f"营销短信内容中没有退订方式：请在内容中写明“{f.opt_out.strip()}”等拒收方式"
                    "（000 §二(二)2）",
                )
        if f.purpose in (MARKETING, COLLECTION) and not has_contact(f.content):
            out.add(
                "NO_CONTACT",
                f"{PURPOSE_LABELS[f.purpose]}短信内容中没有发送方的联系方式（电话或网址），"
                "须标注真实身份和联系方式（000 §二(二)2）",
            )
        if f.purpose == COLLECTION and f.start_at and f.end_at:
            quiet = quiet_hours_for(f.region.strip(), f.carrier_province)
            hit = quiet_overlap(f.start_at, f.end_at, quiet)
            if hit is not None:
                out.add(
                    "QUIET_HOURS",
                    f"催收短信计划在 {_shown(hit)} 发送，处于 {quiet[0]:%H:%M}–{quiet[1]:%H:%M}"
                    "（北京时间）禁止催收时段内（000 §二(一)2）；请调整计划发送时间",
                )


def _period_checks(facts: list[Facts], outcomes: dict, now: dt.datetime) -> None:
    for f in facts:
        if f.start_at is None or f.end_at is None:
            continue
        out = outcomes[f.key]
        if f.end_at < f.start_at:
            out.add(
                "BAD_PERIOD",
                f"计划发送结束时间 {_shown(f.end_at)} 早于开始时间 {_shown(f.start_at)}",
            )
        elif f.start_at < now:
            out.add("BAD_PERIOD", f"计划发送开始时间 {_shown(f.start_at)} 已经过去")


def _calendar_checks(facts: list[Facts], outcomes: dict, now: dt.datetime) -> None:
    """LATE by ``sms_filing_deadlines`` (the same rule as ``sms_filing_deadline``);
    CALENDAR_MISSING when a send day, or a day the deadline count walks over, lies in a
    year the working-day table does not cover."""
    dated = [f for f in facts if f.start_at is not None]
    deadlines = workdays.sms_filing_deadlines(_day(f.start_at) for f in dated)
    known = workdays.covered_years() if dated else set()
    for f in dated:
        out = outcomes[f.key]
        start_day = _day(f.start_at)
        end_day = _day(f.end_at) if f.end_at and f.end_at >= f.start_at else start_day
        missing = [y for y in range(start_day.year, end_day.year + 1) if y not in known]
        due = deadlines[start_day]
        if isinstance(due, CalendarYearMissing):
            missing = sorted({*missing, due.year})
        if missing:
            years = "、".join(str(y) for y in missing)
            out.add(
                "CALENDAR_MISSING",
                f"工作日历未包含 {years} 年，无法计算报备截止时间：须由通信管理局加载 {years} 年"
                "的节假日安排（通常在国务院公布后的 12 月），之后再提交",
            )
            continue
        out.deadline = due
        if now > due:
            out.add(
                "LATE",
                f"计划 {_shown(f.start_at)} 开始发送，须在 {due:%Y-%m-%d} 24:00 前报备"
                "（提前 5 个工作日，按官方工作日历含调休），已超过截止时间",
            )


@dataclass
class Parties:
    institutions: dict[str, Any]  # credit code -> Organisation (institutions)
    partners: dict[tuple[int, str], Any]  # (institution id, credit code) -> Partner
    signatures: dict[int, set[str]]  # institution id -> registered signatures


def _parties(facts: list[Facts]) -> Parties:
    from portal.models import Organisation, OrgKind
    from registry.models import Partner, RegisteredSignature

    codes = {f.sender_credit_code for f in facts if f.sender_credit_code}
    codes |= {f.entrusting_credit_code for f in facts if f.entrusting_credit_code}
    institutions = {
        o.credit_code: o
        for o in Organisation.objects.filter(
            credit_code__in=codes, kind=OrgKind.INSTITUTION, is_active=True
        )
    }
    entrusting = {
        institutions[f.entrusting_credit_code].pk
        for f in facts
        if f.entrusting_credit_code in institutions
    }
    partner_codes = {
        f.sender_credit_code for f in facts if f.sender_credit_code not in institutions
    }
    partners = {}
    if entrusting and partner_codes:
        for p in Partner.objects.filter(
            institution_id__in=entrusting, credit_code__in=partner_codes
        ):
            partners[(p.institution_id, p.credit_code)] = p
    ids = {o.pk for o in institutions.values()}
    signatures: dict[int, set[str]] = defaultdict(set)
    if ids:
        rows = RegisteredSignature.objects.filter(institution_id__in=ids, removed_at__isnull=True)
        for institution_id, name in rows.values_list("institution_id", "name"):
            signatures[institution_id].add(name)
    return Parties(institutions, partners, signatures)


def _covers(kind: str, purpose: str) -> bool:
    return purpose == NOTICE or kind == "both" or kind == purpose


def _sender_checks(facts: list[Facts], outcomes: dict, parties: Parties) -> None:
    """SENDER_UNAUTHORISED: the sender is a licensed institution, or its partner under an
    entrustment valid on every send day that covers the purpose (000 §一(二), §二(二)1; 002)."""
    for f in facts:
        out = outcomes[f.key]
        sender = parties.institutions.get(f.sender_credit_code)
        if sender is not None:
            out.institution_id = sender.pk
            out.qualification = "licence"
            licence = sender.get_licence_category_display() if sender.licence_category else ""
            authority = (
                sender.get_licensing_authority_display() if sender.licensing_authority else ""
            )
            out.document = (
                "金融业务许可" + "（" + "，".join(x for x in (licence, authority) if x) + "）"
                if (licence or authority)
                else "金融业务许可"
            )
            continue
        entrusting = parties.institutions.get(f.entrusting_credit_code)
        if entrusting is None:
            if f.entrusting_credit_code:
                reason = (
                    f"委托金融机构（{f.entrusting_credit_code}）不是平台登记的持牌金融机构，"
                    f"发送主体“{f.sender_name}”也不是"
                )
            else:
                reason = (
                    f"发送主体“{f.sender_name}”（{f.sender_credit_code}）不是平台登记的持牌金融机构，"
                    "且未填写委托金融机构"
                )
            out.add(
                "SENDER_UNAUTHORISED", reason + "：不得为无许可或无委托的主体发送（000 §一(二)）"
            )
            continue
        out.institution_id = entrusting.pk
        partner = parties.partners.get((entrusting.pk, f.sender_credit_code))
        if partner is None:
            out.add(
                "SENDER_UNAUTHORISED",
                f"“{f.sender_name}”不是“{entrusting.name}”登记的委托合作单位：须先由该机构在平台"
                "登记委托书",
            )
            continue
        out.partner_id = partner.pk
        out.qualification = "entrustment"
        period = f"{partner.valid_from}至{partner.valid_to or '长期'}"
        out.document = (
            f"委托书{(' ' + partner.document_number) if partner.document_number else ''}"
            f"（{entrusting.name}，{partner.get_kind_display()}，有效期 {period}）"
        )
        problems = []
        if f.start_at and _day(f.start_at) < partner.valid_from:
            problems.append(f"委托书 {partner.valid_from} 才生效，晚于计划发送开始日")
        if (
            partner.valid_to
            and f.end_at
            and _day(max(f.end_at, f.start_at or f.end_at)) > partner.valid_to
        ):
            problems.append(
                f"委托书于 {partner.valid_to} 到期，早于计划发送结束日 {_day(f.end_at)}"
            )
        if f.purpose and not _covers(partner.kind, f.purpose):
            used = PURPOSE_LABELS.get(f.purpose, f.purpose)
            problems.append(f"委托类型为“{partner.get_kind_display()}”，不包括{used}")
        if problems:
            out.add(
                "SENDER_UNAUTHORISED",
                f"“{partner.name}”的委托不覆盖本次发送：" + "；".join(problems),
            )


def _signature_checks(facts: list[Facts], outcomes: dict, parties: Parties) -> None:
    for f in facts:
        out = outcomes[f.key]
        in_text = content_signature(f.content)
        declared = signature_name(f.signature)
        if in_text is None:
            out.add("NO_IDENTITY", "短信内容开头或结尾没有【签名】，无法表明发送主体身份")
            continue
        if fold(in_text) in {fold(n) for n in NEUTRAL_SIGNATURES}:
            out.add(
                "SIGNATURE_NEUTRAL",
                f"“【{in_text}】”是中性标签，不能作为签名：签名须为发送主体或委托机构的全称、"
                "简称或其登记的签名",
            )
            continue
        names = [f.sender_name, f.entrusting_name]
        registered: set[str] = set()
        for code in (f.sender_credit_code, f.entrusting_credit_code):
            org = parties.institutions.get(code)
            if org is not None:
                names.append(org.name)
                registered |= parties.signatures.get(org.pk, set())
        if not signature_identifies(in_text, names, registered):
            out.add(
                "NO_IDENTITY",
                f"签名“【{in_text}】”既不是发送主体或委托金融机构的全称、连续简称，也不是该机构"
                "登记的签名",
            )
        elif declared and fold(declared) != fold(in_text):
            out.add(
                "NO_IDENTITY",
                f"短信签名栏填写“{declared}”，与短信内容中的签名“【{in_text}】”不一致",
            )


# --- ports: one join of every prefix against the register --------------------------------

_PORT_TABLE = "filings_check_port"


def _port_rows(facts: list[Facts], outcomes: dict) -> list[tuple]:
    from registry import numbers

    rows = []
    for index, f in enumerate(facts):
        institution = outcomes[f.key].institution_id
        if institution is None or not f.port:
            continue
        for prefix in numbers.port_prefixes(f.port) or [f.port]:
            rows.append((index, institution, f.carrier_id, prefix))
    return rows


def _load_ports(cursor, rows: list[tuple]) -> None:
    schema = "pg_temp." if connection.vendor == "postgresql" else "temp."
    cursor.execute(f"DROP TABLE IF EXISTS {schema}{_PORT_TABLE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {_PORT_TABLE} "
        "(k integer, institution_id bigint, carrier_id bigint, prefix varchar(20))"
    )
    if connection.vendor == "postgresql":
        data = "".join(f"{k}\t{i}\t{c}\t{p}\n" for k, i, c, p in rows)
        with cursor.cursor.copy(
            f"COPY {_PORT_TABLE} (k, institution_id, carrier_id, prefix) FROM STDIN"
        ) as copy:
            copy.write(data.encode())
        cursor.execute(f"ANALYZE {_PORT_TABLE}")
    else:
        cursor.executemany(f"INSERT INTO {_PORT_TABLE} VALUES (%s, %s, %s, %s)", rows)  # noqa: S608


_PORT_SQL = f"""
SELECT t.k, r.id, r.number, r.purpose, r.carrier, r.valid_from, r.valid_to, p.valid_to,
       EXISTS (SELECT 1 FROM portal_carriername c
               WHERE c.organisation_id = t.carrier_id AND c.name = r.carrier)
FROM {_PORT_TABLE} t
JOIN registry_registerednumber r
  ON r.institution_id = t.institution_id AND r.number = t.prefix AND r.status = 'active'
LEFT JOIN registry_partner p ON p.id = r.partner_id
"""  # noqa: S608 - constants


def _as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _port_checks(facts: list[Facts], outcomes: dict) -> None:
    """PORT_UNREGISTERED / PORT_PURPOSE / PORT_OTHER_CARRIER: the port, or a main port
    above it (prefixes along the port tree, domain.md), in the institution's active register
    for every send day; the most specific covering entry is the filing's register entry.
    Its 电信运营商 is matched to the filing carrier through portal.CarrierName, never by the
    organisation's full name."""
    rows = _port_rows(facts, outcomes)
    found: dict[int, list[tuple]] = defaultdict(list)
    if rows:
        with transaction.atomic(), connection.cursor() as cursor:
            _load_ports(cursor, rows)
            cursor.execute(_PORT_SQL)
            for row in cursor.fetchall():
                found[row[0]].append(row)
            cursor.execute(f"DROP TABLE {_PORT_TABLE}")
    for index, f in enumerate(facts):
        out = outcomes[f.key]
        if not f.port:
            continue
        if out.institution_id is None:
            out.add(
                "PORT_UNREGISTERED",
                f"无法确定发送端口 {f.port} 所属的金融机构（发送主体或委托机构未在平台登记），"
                "端口不在任何机构的号码登记中",
            )
            continue
        start = _day(f.start_at) if f.start_at else None
        end = _day(f.end_at) if f.end_at and f.start_at and f.end_at >= f.start_at else start
        covering, elsewhere = [], []
        for _k, entry_id, number, purpose, carrier, vfrom, vto, pto, serves in found[index]:
            vfrom, vto, pto = _as_date(vfrom), _as_date(vto), _as_date(pto)
            ends = [d for d in (vto, pto) if d]
            last = min(ends) if ends else None
            entry = (len(number), entry_id, number, purpose, carrier, bool(serves))
            if start and (vfrom > start or (last is not None and end and last < end)):
                elsewhere.append((entry, vfrom, last))
            else:
                covering.append(entry)
        if not covering:
            if elsewhere:
                (_, _, number, *_), vfrom, last = max(elsewhere)
                out.add(
                    "PORT_UNREGISTERED",
                    f"端口 {f.port} 的登记（{number}，合作期 {vfrom} 至 {last or '长期'}）"
                    "不覆盖全部计划发送日期",
                )
            else:
                out.add(
                    "PORT_UNREGISTERED",
                    f"发送端口 {f.port} 及其所属主端口均不在该机构的在用号码登记中"
                    "（000 §三(一)1；002）",
                )
            continue
        _, entry_id, number, purpose, carrier, serves = max(covering)
        out.register_entry_id = entry_id
        via = "" if number == f.port else f"（所属主端口 {number}）"
        if f.purpose in (MARKETING, COLLECTION) and not _covers(purpose, f.purpose):
            registered_as = {"marketing": "营销", "collection": "催收", "both": "营销及催收"}
            out.add(
                "PORT_PURPOSE",
                f"端口 {f.port}{via}登记的用途为“{registered_as.get(purpose, purpose)}”，"
                f"不能用于{PURPOSE_LABELS[f.purpose]}短信",
            )
        if not serves:
            out.add(
                "PORT_OTHER_CARRIER",
                f"端口 {f.port}{via}登记的电信运营商为“{carrier}”，不是本报备单位",
            )
