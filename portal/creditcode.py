"""统一社会信用代码 (GB 32100-2015): 18 characters with a check character.

Layout: 1 registration authority code, 1 organisation category, 6 administrative division
digits, 9 organisation code characters, 1 check character. The alphabet has 31 characters
(digits and capitals without I, O, Z, S, V). The check character C18 is
``31 - (sum(value(Ci) * W[i]) mod 31)`` with ``31`` written as ``0``.
"""

from __future__ import annotations

import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class CreditCodeError(ValueError):
    """A wrong code, with a Chinese message that names what is wrong."""

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def normalise_credit_code(raw: object) -> str:
    """Fold full-width characters, drop spaces, upper-case."""
    text = unicodedata.normalize("NFKC", str(raw or ""))
    return "".join(text.split()).upper()


def check_character(first17: str) -> str:
    total = sum(VALUES[ch] * weight for ch, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(raw: object) -> str:
    """Return the normalised code or raise :class:`CreditCodeError` in Chinese."""
    code = normalise_credit_code(raw)
    if not code:
        raise CreditCodeError("统一社会信用代码不能为空")
    if len(code) != 18:
        raise CreditCodeError(f"统一社会信用代码应为 18 位，实际为 {len(code)} 位")
    for index, ch in enumerate(code, start=1):
        if ch not in VALUES:
            raise CreditCodeError(
                f"统一社会信用代码第 {index} 位“{ch}”不是合法字符"
                "（只允许数字和除 I、O、Z、S、V 以外的大写字母）",
                position=index,
            )
    if not code[2:8].isdigit():
        raise CreditCodeError("统一社会信用代码第 3–8 位（行政区划码）应为数字", position=3)
    expected = check_character(code[:17])
    if code[17] != expected:
        raise CreditCodeError(
            f"统一社会信用代码第 18 位校验码错误：应为“{expected}”，实际为“{code[17]}”",
            position=18,
        )
    return code
