"""Personal data on display (000 §二(一)5; 001 第十九–二十一条: least necessary, masked,
access audited): complainants' contacts, debtors' numbers and ID numbers inside free text.

Masking keeps enough to recognise a value (138****8000, 330106********123X) and never
enough to use it. The full value is read only through a service that audits the read."""

from __future__ import annotations

import re
import unicodedata

MASK = "*"

_ID_NUMBER = re.compile(r"(?<![0-9])([1-9][0-9]{5})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(0[0-9]{2,3}-?)[0-9]{3,4}([0-9]{4})(?![0-9])")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+)")


def mask_contact(value: str) -> str:
    """A complainant's contact as shown: a phone number keeps its first 3 and last 4
    digits, an e-mail its first character and domain, anything else its first and last
    character."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    if not text:
        return ""
    digits = re.sub(r"[\s+\-()]", "", text)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if digits.isdigit() and len(digits) >= 7:
        return digits[:3] + MASK * (len(digits) - 7) + digits[-4:]
    if "@" in text:
        return _EMAIL.sub(lambda m: m.group(1) + MASK * 3 + m.group(2), text)
    if len(text) <= 2:
        return MASK * len(text)
    return text[0] + MASK * (len(text) - 2) + text[-1]


def mask_text(text: str) -> str:
    """Free text (a complaint's content) with the ID numbers, mobile and fixed-line numbers
    and e-mail addresses in it masked."""
    if not text:
        return ""
    text = _ID_NUMBER.sub(lambda m: m.group(1) + MASK * 8 + m.group(2), text)
    text = _MOBILE.sub(lambda m: m.group(1) + MASK * 4 + m.group(2), text)
    text = _LANDLINE.sub(lambda m: m.group(1) + MASK * 4 + m.group(2), text)
    return _EMAIL.sub(lambda m: m.group(1) + MASK * 3 + m.group(2), text)
