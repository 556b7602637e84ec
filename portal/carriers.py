"""Which carrier is which (issue 11; architecture.md "Carriers").

A register line, a service report and a filing name their carrier by text: 中国移动,
联通, or an SMS service provider's name. A carrier organisation records the network it
belongs to (中国移动 / 中国联通 / 中国电信 / 中国广电) or, for an SMS service provider, the
names it trades under. Matching a line's carrier with an organisation goes through that
record (`CarrierName` rows, one per name the organisation answers to), never through
equality with the organisation's full name.
"""

from __future__ import annotations

import re

from django.db import models

from .spreadsheets.headers import fold

BASIC_CARRIERS = ("中国移动", "中国联通", "中国电信", "中国广电")

# How people write the basic carriers: folded (NFKC, no spaces) -> the one spelling.
CARRIER_NAMES = {
    "移动": "中国移动",
    "中国移动": "中国移动",
    "中移动": "中国移动",
    "cmcc": "中国移动",
    "联通": "中国联通",
    "中国联通": "中国联通",
    "unicom": "中国联通",
    "电信": "中国电信",
    "中国电信": "中国电信",
    "telecom": "中国电信",
    "广电": "中国广电",
    "中国广电": "中国广电",
    "cbn": "中国广电",
}


class CarrierNetwork(models.TextChoices):
    CMCC = "cmcc", "中国移动"
    UNICOM = "unicom", "中国联通"
    TELECOM = "telecom", "中国电信"
    CBN = "cbn", "中国广电"
    PROVIDER = "provider", "短信服务商"


NAME_MAX = 100
_SEPARATORS = re.compile(r"[\n\r,，、;；]+")


def _fold(text: str) -> str:
    """headers.fold, case-blind too (``CMCC`` = ``cmcc``)."""
    return fold(text).lower()


def carrier_name(text: str) -> str:
    """The basic carriers under one spelling; an SMS provider's name as written (trimmed)."""
    return CARRIER_NAMES.get(_fold(text), (text or "").strip())


def network_of(text: str) -> str:
    """The network code a carrier text names (``cmcc``…), or "" for a provider's name."""
    name = carrier_name(text)
    for choice in CarrierNetwork:
        if choice.label == name and choice != CarrierNetwork.PROVIDER:
            return choice.value
    return ""


def split_names(text: str) -> list[str]:
    """Trade names as typed on the organisation page: one per line, or separated by 、，;"""
    seen: dict[str, str] = {}
    for part in _SEPARATORS.split(text or ""):
        name = carrier_name(part)[:NAME_MAX]
        if name and _fold(name) not in seen:
            seen[_fold(name)] = name
    return list(seen.values())


def names_of(*, network: str, trade_names: str, name: str) -> list[str]:
    """Every carrier text an organisation answers to: its network's name (basic carriers),
    or its trade names and its own name (SMS providers)."""
    names = split_names(trade_names)
    if network and network != CarrierNetwork.PROVIDER:
        names.insert(0, CarrierNetwork(network).label)
    else:
        names.append(carrier_name(name)[:NAME_MAX])
    unique: dict[str, str] = {}
    for item in names:
        unique.setdefault(_fold(item), item)
    return list(unique.values())


def serves(organisation, carrier_text: str) -> bool:
    """Whether a line's 电信运营商 names this carrier organisation."""
    if not carrier_text or organisation is None or not organisation.is_carrier:
        return False
    wanted = _fold(carrier_name(carrier_text))
    return any(
        _fold(n) == wanted
        for n in names_of(
            network=organisation.network,
            trade_names=organisation.trade_names,
            name=organisation.name,
        )
    )


def guess_network(name: str) -> str:
    """For a carrier created without a network (older data, a bare CLI call): the basic
    network its name contains first (某移动公司 -> cmcc), else an SMS provider that trades
    under its own name."""
    folded = _fold(name)
    found = [
        (folded.find(short), code)
        for short, code in (
            ("移动", "cmcc"),
            ("联通", "unicom"),
            ("电信", "telecom"),
            ("广电", "cbn"),
        )
        if short in folded
    ]
    return min(found)[1] if found else CarrierNetwork.PROVIDER.value


def parse_network(text: str) -> tuple[str, str]:
    """A ``--network`` value: a basic network (中国移动, 移动, cmcc…) or 短信服务商/provider,
    or else an SMS provider's trade name(s). Returns ``(network, trade_names)``."""
    text = (text or "").strip()
    if not text:
        return "", ""
    folded = _fold(text)
    for choice in CarrierNetwork:
        if folded in (choice.value, _fold(choice.label)):
            return choice.value, ""
    code = network_of(text)
    if code:
        return code, ""
    return CarrierNetwork.PROVIDER.value, "\n".join(split_names(text))
