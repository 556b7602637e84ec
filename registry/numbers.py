"""Phone numbers and SMS ports: one canonical digit form and a kind (domain.md, "Numbers").

Pure Python, no Django and no database: the importers call :func:`classify` on every row of
files with up to 1,000,000 rows, so the common case (an already clean digit string) takes a
fast path with no regex and no allocation beyond the result tuple.

API
---
* :func:`parse_number` -> :class:`ParsedNumber` or raises :class:`NumberError`
  (``.message`` is a Chinese reason for the user, ``.code`` a stable English code).
* :func:`classify` -> ``(number, kind, None)`` or ``(None, None, message)``; never raises.
* :func:`check_sub_port` checks a 子端口 against its 主端口 (both canonical).
* :func:`port_prefixes` gives the prefixes of a port used to match along the port tree.
* :data:`KIND_LABELS`, :data:`LABEL_TO_KIND`, :func:`kind_from_label` for the 号码类型 column.

Canonical forms
---------------
Digits only, no country code, no separators.

=========  ====================================================================  ==========
kind       rule                                                                  example
=========  ====================================================================  ==========
mobile     11 digits ``1[3-9]xxxxxxxxx``                                         13800138000
landline   area code (010, 020–029, or 4 digits 03xx–09xx) + 7–8 digit           01012345678
           subscriber number not starting with 0; 10–12 digits in all
short      ``95xxx`` / ``96xxx``, 5–6 digits                                     95588
tollfree   ``400`` / ``800`` + 7 digits                                          4008208820
sms_port   ``106`` + anything, 5–20 digits (main ports and sub-ports alike)      1069012345
=========  ====================================================================  ==========

Cleaning (strict in meaning, tolerant in form; forms.md)
-------------------------------------------------------
* Accepted input types: ``str``, ``int``, ``float``, ``Decimal``, ``None`` (-> "空值");
  ``bool`` and anything else are rejected (``bad_type``).
* Full-width ASCII (``１３８``, ``＋``, ``（）``, ``－``) is folded with a translate table;
  every kind of space (NBSP, U+3000, …) and dash (``– — ‑ −``) is folded; zero-width and
  bidi marks (U+200B–U+200F, U+2060, U+FEFF, U+00AD, U+202A–U+202E, U+2066–U+2069) are
  deleted.
* Spreadsheet text tricks are unwrapped: a leading ``'``, ``="13800138000"``, ``"…"``.
* Separators removed: spaces, dashes, dots, ``( ) [ ]`` (and full-width / 【】 variants).
  A dot is a separator (``138.0013.8000``) except in the float form ``<digits>.0…0``.
* A leading ``+`` means an international number: ``+86`` is stripped, any other country
  code is rejected (``foreign``). ``0086`` is the same as ``+86``; other ``00`` prefixes
  are rejected as international. A bare ``86`` is stripped only when at least 10 digits
  follow (no canonical Chinese number starts with 86, so this is unambiguous).
* After a country code a landline lacks its trunk ``0`` (``+86 10 12345678``,
  ``+86-571-87654321``): the 0 is put back. ``+86 (0)571 …`` is accepted as well.
  After ``+86`` the landline reading wins over the SMS-port reading (``+86 10 6xxxxxxx``
  is Beijing, ports are never dialled internationally).
* ``0`` + an 11-digit mobile (the old long-distance prefix, ``013800138000``) -> mobile.

Decisions where the sources are silent or contradict each other
---------------------------------------------------------------
* Landline subscriber numbers may start with 1: domain.md's own example ``010-12345678``
  does (real ones start with 2–9, but the documented example must pass). They may not
  start with 0.
* SMS ports are 5–20 digits; ``1069`` (4 digits) is rejected as too short (``bad_port``).
  A number starting with ``106`` is always read as a port, never as a Beijing landline
  that lost its 0 (except after ``+86``, see above).
* A number that looks like a mobile (``1[3-9]``) is never a port; if it has the wrong
  length the error is ``bad_mobile`` ("手机号码应为 11 位，实际 N 位").
* 12xxx, 100xx (carrier hotlines) and other service numbers are not financial numbers
  here: ``unknown_format``.
* Digits that would be a valid landline with a ``0`` in front (``57187654321``) are
  rejected with ``zero_lost``: the message gives the probable number, but we do not guess,
  since e.g. ``1061234567`` could be a port or Beijing 010-61234567.
* Extensions (``转801``, ``分机801``, ``ext. 801``, ``x801``, ``#801``, or a trailing group
  as in ``010-12345678-801``) are rejected (``has_extension``), never dropped silently.
  A trailing group is only taken for an extension when the digits joined together are not
  a valid number: ``10690000-123`` is the sub-port ``10690000123``, and
  ``021-1234567-8`` is the valid ``02112345678``.
* Several numbers in one cell (``,`` ``;`` ``/`` ``、`` ``~`` ``至`` line breaks …) are
  rejected (``multiple``); number ranges are not supported.
* Values that passed through a spreadsheet *number* (scientific text, ``….0`` text, int,
  float) are checked for lost digits:

  - scientific text (``1.38001E+10``) is accepted only when the mantissa writes out every
    digit of the integer, e.g. ``1.3800138000E+10``; ``1.3800138E+10`` is rejected
    (``digits_lost``) because the last three zeros are not proven (Excel rounds the
    display);
  - spreadsheets store numbers as doubles, so any such value above 2**53 (a float, an
    int, or text like ``1.0690123456789012e+16`` or ``….0``) is never proven exact:
    ``digits_lost`` (this is the "20-digit port stored as a float" case); a non-integral
    value is ``not_integer``;
  - Excel keeps only 15 significant digits, so a number of 16 or more digits whose digits
    after the 15th are all zeros (``1069012345678900`` from a numeric cell, float or int)
    is rejected as ``digits_lost``; with a non-zero tail (and at most 2**53) it cannot have
    been truncated and is accepted. Plain digit *text* is always trusted.
  - ``Decimal`` is exact: accepted when integral, except when its exponent is positive
    (``Decimal("1.38001E+10")``, i.e. parsed from scientific text that did not carry all
    the digits), which is ``digits_lost`` like the text.
* Negative numeric values are rejected; a leading ``-`` in text is just a dash.

Error codes
-----------
``empty``, ``bad_type``, ``non_digit``, ``multiple``, ``has_extension``, ``digits_lost``,
``not_integer``, ``foreign``, ``too_long``, ``bad_mobile``, ``bad_landline``,
``bad_tollfree``, ``bad_short``, ``bad_port``, ``zero_lost``, ``unknown_format``;
:func:`check_sub_port` adds ``main_not_port``, ``not_prefix``, ``same_as_main``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "KIND_LABELS",
    "LABEL_TO_KIND",
    "MAX_DIGITS",
    "MIN_PORT_DIGITS",
    "SUB_PORT_LABELS",
    "NumberError",
    "NumberKind",
    "ParsedNumber",
    "check_sub_port",
    "classify",
    "kind_from_label",
    "parse_number",
    "port_prefixes",
]

MAX_DIGITS = 20
MIN_PORT_DIGITS = 5
EXCEL_DIGITS = 15
_FLOAT_EXACT_LIMIT = 2**53


class NumberKind(StrEnum):
    """What a canonical number is. A ``str``: compares equal to and stores as its value."""

    MOBILE = "mobile"
    LANDLINE = "landline"
    SHORT = "short"
    TOLLFREE = "tollfree"
    SMS_PORT = "sms_port"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS: dict[NumberKind, str] = {
    NumberKind.MOBILE: "手机",
    NumberKind.LANDLINE: "固话",
    NumberKind.SHORT: "短号码",
    NumberKind.TOLLFREE: "400/800",
    NumberKind.SMS_PORT: "短信端口",
}

#: The 号码类型 values accepted in uploads (forms.md). 子端口 is an SMS port that has a
#: 所属主端口; :data:`SUB_PORT_LABELS` tells the importer which labels mean that.
LABEL_TO_KIND: dict[str, NumberKind] = {
    **{kind.value: kind for kind in NumberKind},
    **{label: kind for kind, label in KIND_LABELS.items()},
    "手机号": NumberKind.MOBILE,
    "手机号码": NumberKind.MOBILE,
    "移动电话": NumberKind.MOBILE,
    "移动号码": NumberKind.MOBILE,
    "固定电话": NumberKind.LANDLINE,
    "固话号码": NumberKind.LANDLINE,
    "座机": NumberKind.LANDLINE,
    "座机号码": NumberKind.LANDLINE,
    "短号": NumberKind.SHORT,
    "95/96短号码": NumberKind.SHORT,
    "95/96号码": NumberKind.SHORT,
    "400": NumberKind.TOLLFREE,
    "800": NumberKind.TOLLFREE,
    "400号码": NumberKind.TOLLFREE,
    "800号码": NumberKind.TOLLFREE,
    "400电话": NumberKind.TOLLFREE,
    "800电话": NumberKind.TOLLFREE,
    "400/800号码": NumberKind.TOLLFREE,
    "400/800电话": NumberKind.TOLLFREE,
    "短信端口号": NumberKind.SMS_PORT,
    "端口": NumberKind.SMS_PORT,
    "端口号": NumberKind.SMS_PORT,
    "主端口": NumberKind.SMS_PORT,
    "子端口": NumberKind.SMS_PORT,
    "短信子端口": NumberKind.SMS_PORT,
}

SUB_PORT_LABELS: frozenset[str] = frozenset({"子端口", "短信子端口"})


class NumberError(ValueError):
    """A value that is not a valid number: ``message`` in Chinese, ``code`` stable."""

    def __init__(self, message: str, code: str = "unknown_format") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __reduce__(self):  # keep both fields when pickled (e.g. through Celery)
        return (type(self), (self.message, self.code))


@dataclass(frozen=True, slots=True)
class ParsedNumber:
    number: str
    kind: NumberKind


# --------------------------------------------------------------------------- tables


def _build_fold_table() -> dict[int, int | str | None]:
    table: dict[int, int | str | None] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
    for ch in (
        "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
        "\u200a\u202f\u205f\u3000"
    ):
        table[ord(ch)] = " "
    for ch in "\r\v\f\x85\u2028\u2029":
        table[ord(ch)] = "\n"
    for ch in (
        "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
        "\u2060\u2066\u2067\u2068\u2069\ufeff"
    ):
        table[ord(ch)] = None
    for ch in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63":
        table[ord(ch)] = "-"
    for ch in "\u201c\u201d\u201e\u201f":
        table[ord(ch)] = '"'
    for ch in "\u2018\u2019\u201a\u201b":
        table[ord(ch)] = "'"
    table.update(
        {
            ord("\u3002"): ".",  # 。
            ord("\u3010"): "[",  # 【
            ord("\u3011"): "]",  # 】
            ord("\u3014"): "[",  # 〔
            ord("\u3015"): "]",  # 〕
            ord("\ufe62"): "+",  # small plus
            ord("\u301c"): "~",  # wave dash
        }
    )
    return table


_FOLD = _build_fold_table()
_DROP_SEPARATORS = str.maketrans("", "", " \t-.()[]")
_DIGITS = frozenset("0123456789")

_LANDLINE_RE = re.compile(r"0(?:10|2\d|[3-9]\d\d)[1-9]\d{6,7}", re.ASCII)
_SCI_RE = re.compile(r"(\+?)(\d+)(?:\.(\d*))?[eE]\+?(\d+)", re.ASCII)
_FLOAT_TEXT_RE = re.compile(r"(\+?)(\d+)\.0+", re.ASCII)
_EXTENSION_RE = re.compile(
    r"[\d)\]]\s*[-,]?\s*(?:转|轉|分机号?|分機號?|ext\.?|x|#)\s*[-:.]?\s*(\d{1,8})\s*$",
    re.IGNORECASE | re.ASCII,
)
_MULTIPLE_RE = re.compile(r"\d\s*(?:[,;/、|~&\n\r\v\f]|至|或|和|及)\s*[+(\[]?\d", re.ASCII)
_GROUP_SPLIT_RE = re.compile(r"[ \t\-.()\[\]]+")


# --------------------------------------------------------------------------- errors


def _show(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "…"


def _empty() -> NumberError:
    return NumberError("空值", "empty")


def _digits_lost_sci(text: str) -> NumberError:
    return NumberError(
        f"号码被表格软件转成了科学计数法（{_show(text)}），已丢失位数，"
        "请将该列设置为文本后重新填写",
        "digits_lost",
    )


def _digits_lost_numeric(shown: str) -> NumberError:
    return NumberError(
        f"号码被表格软件存成了数字（{_show(shown)}），超过 {EXCEL_DIGITS} 位的部分已丢失，"
        "请将该列设置为文本后重新填写",
        "digits_lost",
    )


def _unknown(digits: str) -> NumberError:
    candidate = "0" + digits
    if _LANDLINE_RE.fullmatch(candidate):
        return NumberError(
            f"无法识别的号码格式：{digits}；如为固定电话，区号开头的 0 可能被表格软件去掉了"
            f"（应为 {candidate}），请将该列设置为文本后重新填写",
            "zero_lost",
        )
    return NumberError(f"无法识别的号码格式：{_show(digits)}", "unknown_format")


def _bad_landline(digits: str) -> NumberError:
    n = len(digits)
    if n < 3:
        return NumberError(f"固定电话号码不完整：{digits}", "bad_landline")
    if digits[1] == "1" and digits[2] != "0":
        return NumberError(
            f"固定电话区号“{digits[:3]}”不存在（以 01 开头的区号只有 010）", "bad_landline"
        )
    area_len = 3 if digits[1] in "12" else 4
    area, subscriber = digits[:area_len], digits[area_len:]
    if len(subscriber) not in (7, 8):
        return NumberError(
            f"固定电话应为区号 {area} 加 7–8 位号码，实际区号后有 {len(subscriber)} 位",
            "bad_landline",
        )
    return NumberError(
        f"固定电话号码（区号 {area} 之后的部分）不能以 0 开头：{digits}", "bad_landline"
    )


def _non_digit(text: str) -> NumberError:
    for ch in text:
        if ch not in _DIGITS:
            shown = ch if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"
            return NumberError(f"号码中含有非数字字符“{shown}”", "non_digit")
    raise AssertionError("no non-digit character")  # pragma: no cover


# --------------------------------------------------------------------------- core


def _national(d: str) -> tuple[str, NumberKind]:
    """Classify a national digit string (no country code). ``d`` is non-empty ASCII."""
    n = len(d)
    if n > MAX_DIGITS:
        raise NumberError(f"号码超过 {MAX_DIGITS} 位（实际 {n} 位）", "too_long")
    c = d[0]
    if c == "1":
        if n >= 2 and d[1] in "3456789":
            if n == 11:
                return d, NumberKind.MOBILE
            raise NumberError(f"手机号码应为 11 位，实际 {n} 位", "bad_mobile")
        if d.startswith("106"):
            if n >= MIN_PORT_DIGITS:
                return d, NumberKind.SMS_PORT
            raise NumberError(
                f"短信端口号码过短：应为 {MIN_PORT_DIGITS}–{MAX_DIGITS} 位，实际 {n} 位",
                "bad_port",
            )
        raise _unknown(d)
    if c == "0":
        if _LANDLINE_RE.fullmatch(d):
            return d, NumberKind.LANDLINE
        if n == 12 and d[1] == "1" and d[2] in "3456789":
            return d[1:], NumberKind.MOBILE
        if d[1:2] == "0":
            raise NumberError(f"仅支持中国大陆号码，“{_show(d)}”是国际号码", "foreign")
        raise _bad_landline(d)
    if c in "48" and d[1:3] == "00":
        if n == 10:
            return d, NumberKind.TOLLFREE
        raise NumberError(f"400/800 号码应为 10 位，实际 {n} 位", "bad_tollfree")
    if c == "9" and d[1:2] in ("5", "6"):
        if 5 <= n <= 6:
            return d, NumberKind.SHORT
        if _LANDLINE_RE.fullmatch("0" + d):
            raise _unknown(d)
        raise NumberError(f"95/96 短号码应为 5–6 位，实际 {n} 位", "bad_short")
    raise _unknown(d)


def _after_country_code(rest: str) -> tuple[str, NumberKind]:
    """The national part after +86 / 0086 / 86: a landline has lost its trunk 0."""
    if not rest:
        raise NumberError("国家代码 86 之后缺少号码", "unknown_format")
    if rest[0] == "1" and len(rest) == 11 and rest[1] in "3456789":
        return rest, NumberKind.MOBILE
    if len(rest) == 10 and rest[1:3] == "00" and rest[0] in "48":
        return rest, NumberKind.TOLLFREE  # not the (non-existent) area code 0400 / 0800
    if rest[0] != "0":
        candidate = "0" + rest
        if _LANDLINE_RE.fullmatch(candidate):
            return candidate, NumberKind.LANDLINE
    return _national(rest)


def _digits(d: str, intl: bool) -> tuple[str, NumberKind]:
    """Classify an ASCII digit string; ``intl`` when it was written with a leading '+'."""
    if intl:
        if d.startswith("86"):
            return _after_country_code(d[2:])
        raise NumberError(f"仅支持中国大陆号码，“+{_show(d)}”是国际号码", "foreign")
    c = d[0]
    if c == "1" and len(d) == 11 and d[1] in "3456789":
        return d, NumberKind.MOBILE
    if c == "0" and d.startswith("00"):
        if d.startswith("0086"):
            return _after_country_code(d[4:])
        raise NumberError(f"仅支持中国大陆号码，“{_show(d)}”是国际号码", "foreign")
    if c == "8" and d.startswith("86") and len(d) >= 12:
        return _after_country_code(d[2:])
    return _national(d)


def _check_numeric(d: str, shown: str) -> None:
    """Digits that passed through a spreadsheet number (a double; Excel: 15 digits)."""
    if len(d) > EXCEL_DIGITS and (not d[EXCEL_DIGITS:].strip("0") or int(d) > _FLOAT_EXACT_LIMIT):
        raise _digits_lost_numeric(shown)


def _from_scientific(m: re.Match[str], text: str) -> tuple[str, NumberKind]:
    plus, whole, fraction, exponent_text = m.groups()
    fraction = fraction or ""
    if len(exponent_text) > 3:
        raise NumberError(f"号码超过 {MAX_DIGITS} 位（{_show(text)}）", "too_long")
    exponent = int(exponent_text)
    if len(fraction) < exponent:
        raise _digits_lost_sci(text)
    if fraction[exponent:].strip("0"):
        raise NumberError(f"号码不是整数：{_show(text)}", "not_integer")
    d = (whole + fraction[:exponent]).lstrip("0")
    if not d:
        raise NumberError(f"无法识别的号码格式：{_show(text)}", "unknown_format")
    _check_numeric(d, text)
    return _digits(d, bool(plus))


def _unwrap(t: str) -> str:
    """Spreadsheet text markers: ``'13800138000``, ``="13800138000"``, ``"13800138000"``."""
    if t[0] == "'":
        t = t[1:].strip()
    elif t[0] == "=" and len(t) >= 3 and t[1] == '"' and t[-1] == '"':
        t = t[2:-1].strip()
    elif t[0] == '"' and len(t) >= 2 and t[-1] == '"':
        t = t[1:-1].strip()
    return t


def _is_valid(d: str, intl: bool) -> bool:
    try:
        _digits(d, intl)
    except NumberError:
        return False
    return True


def _diagnose_groups(t: str, intl: bool) -> NumberError | None:
    """Explain an invalid value written in groups: two numbers, or a number + extension.

    ``13800138000 13900139000`` is two numbers; ``010-12345678-801`` is a valid number
    followed by a separated group of 1–6 digits (an extension). Only called on the error
    path, when the groups joined together are not a valid number.
    """
    groups = [g for g in _GROUP_SPLIT_RE.split(t.lstrip("+")) if g]
    if len(groups) < 2:
        return None
    if all(g.isascii() and g.isdigit() for g in groups) and all(
        len(g) >= MIN_PORT_DIGITS and _is_valid(g, intl) for g in groups
    ):
        return NumberError("一个单元格只能填写一个号码（不支持多个号码或号码段）", "multiple")
    last = groups[-1]
    head = "".join(groups[:-1])
    if not (last.isascii() and last.isdigit() and len(last) <= 6):
        return None
    if not (head.isascii() and head.isdigit()):
        return None
    try:
        number, kind = _digits(head, intl)
    except NumberError:
        return None
    if kind is NumberKind.SMS_PORT or kind is NumberKind.SHORT:
        return None
    return NumberError(
        f"号码后带有分机号或多余的数字“{last}”，请只填写号码 {number}，不要填写分机号",
        "has_extension",
    )


def _parse_text(s: str) -> tuple[str, NumberKind]:
    t = s.strip()
    if not t.isascii():  # ASCII needs no folding: the regexes below accept \t \r \v \f
        t = t.translate(_FOLD).strip()
    if not t:
        raise _empty()
    if t.isdigit() and t.isascii():
        return _digits(t, False)
    if t[0] in "'\"=":
        t = _unwrap(t)
        if not t:
            raise _empty()
    if "." in t:
        m = _FLOAT_TEXT_RE.fullmatch(t)
        if m:
            d = m.group(2)
            _check_numeric(d, t)
            return _digits(d, bool(m.group(1)))
    d = t.translate(_DROP_SEPARATORS)
    intl = d.startswith("+")
    if intl:
        d = d[1:]
    if d.isdigit() and d.isascii():
        # Only separators were removed: no extension keyword, no list, no exponent.
        try:
            return _digits(d, intl)
        except NumberError as exc:
            better = _diagnose_groups(t, intl)
            if better is not None:
                raise better from None
            raise exc from None
    if not d:
        raise _empty()
    m = _EXTENSION_RE.search(t)
    if m:
        raise NumberError(
            f"号码带有分机号“{m.group(1)}”，请只填写总机号码，不要填写分机号", "has_extension"
        )
    if _MULTIPLE_RE.search(t):
        raise NumberError("一个单元格只能填写一个号码（不支持多个号码或号码段）", "multiple")
    m = _SCI_RE.fullmatch(t)
    if m:
        return _from_scientific(m, t)
    raise _non_digit(d)


def _parse_float(f: float) -> tuple[str, NumberKind]:
    if not math.isfinite(f) or f < 0:
        raise NumberError(f"无法识别的号码格式：{f!r}", "unknown_format")
    if f > _FLOAT_EXACT_LIMIT:
        raise _digits_lost_numeric(repr(f))
    if not f.is_integer():
        raise NumberError(f"号码不是整数：{f!r}", "not_integer")
    d = str(int(f))
    if d == "0":
        raise NumberError("无法识别的号码格式：0", "unknown_format")
    _check_numeric(d, repr(f))
    return _digits(d, False)


def _parse_int(i: int) -> tuple[str, NumberKind]:
    if i <= 0:
        raise NumberError(f"无法识别的号码格式：{i}", "unknown_format")
    if i >= 10**MAX_DIGITS:
        raise NumberError(f"号码超过 {MAX_DIGITS} 位", "too_long")
    d = str(i)
    _check_numeric(d, d)
    return _digits(d, False)


def _parse_decimal(x: Decimal) -> tuple[str, NumberKind]:
    if not x.is_finite() or x <= 0:
        raise NumberError(f"无法识别的号码格式：{_show(str(x))}", "unknown_format")
    if x.adjusted() >= MAX_DIGITS:
        raise NumberError(f"号码超过 {MAX_DIGITS} 位", "too_long")
    exponent = x.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        raise _digits_lost_sci(str(x))
    if x != x.to_integral_value():
        raise NumberError(f"号码不是整数：{_show(str(x))}", "not_integer")
    return _digits(str(int(x)), False)


def _parse(raw: object) -> tuple[str, NumberKind]:
    if type(raw) is str:
        if raw.isdigit() and raw.isascii():
            return _digits(raw, False)
        return _parse_text(raw)
    if raw is None:
        raise _empty()
    if isinstance(raw, bool):
        raise NumberError(f"无法识别的号码格式：{raw}", "bad_type")
    if isinstance(raw, str):
        return _parse_text(str(raw))
    if isinstance(raw, int):
        return _parse_int(int(raw))
    if isinstance(raw, float):
        return _parse_float(float(raw))
    if isinstance(raw, Decimal):
        return _parse_decimal(raw)
    if hasattr(raw, "__index__"):  # numpy integers
        return _parse_int(raw.__index__())
    raise NumberError(f"无法识别的号码格式：{_show(repr(raw))}", "bad_type")


# --------------------------------------------------------------------------- public API


def parse_number(raw: object) -> ParsedNumber:
    """Canonical digits and kind of ``raw``; raises :class:`NumberError` with a reason."""
    number, kind = _parse(raw)
    return ParsedNumber(number, kind)


def classify(raw: object) -> tuple[str | None, NumberKind | None, str | None]:
    """``(number, kind, None)`` or ``(None, None, reason)``. Never raises (bulk loops)."""
    try:
        number, kind = _parse(raw)
    except NumberError as exc:
        return None, None, exc.message
    except Exception:  # defensive: one odd cell must not stop an import of a million rows
        return None, None, "无法识别的号码格式"
    return number, kind, None


def _is_port(number: object) -> bool:
    return (
        isinstance(number, str)
        and MIN_PORT_DIGITS <= len(number) <= MAX_DIGITS
        and number.startswith("106")
        and number.isdigit()
        and number.isascii()
    )


def check_sub_port(sub: str, main: str) -> None:
    """A 子端口 must extend its 主端口: main is an SMS port, sub starts with it and is longer.

    Both arguments are canonical numbers (from :func:`parse_number`).
    """
    if not _is_port(main):
        raise NumberError(
            f"所属主端口“{_show(str(main))}”不是短信端口（应以 106 开头，"
            f"{MIN_PORT_DIGITS}–{MAX_DIGITS} 位）",
            "main_not_port",
        )
    if not isinstance(sub, str) or not sub.startswith(main):
        raise NumberError(f"子端口“{_show(str(sub))}”不以所属主端口“{main}”开头", "not_prefix")
    if len(sub) == len(main):
        raise NumberError(
            f"子端口“{sub}”与所属主端口相同；子端口应在主端口之后追加位数", "same_as_main"
        )
    if len(sub) > MAX_DIGITS:
        raise NumberError(f"子端口超过 {MAX_DIGITS} 位（实际 {len(sub)} 位）", "too_long")
    if not (sub.isdigit() and sub.isascii()):
        raise _non_digit(sub)


def port_prefixes(number: str) -> list[str]:
    """All prefixes of an SMS port of at least 5 digits, shortest first, ending with itself.

    A sub-port is covered by any registered port among these (matching along the port
    tree, domain.md). ``[]`` for anything that is not a canonical SMS port.
    """
    if not _is_port(number):
        return []
    return [number[:i] for i in range(MIN_PORT_DIGITS, len(number) + 1)]


def kind_from_label(label: object) -> NumberKind | None:
    """The kind named by a 号码类型 cell (full-width, spaces and case folded); None if unknown."""
    if label is None:
        return None
    text = "".join(str(label).translate(_FOLD).split()).lower()
    return LABEL_TO_KIND.get(text)
