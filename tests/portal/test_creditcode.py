"""统一社会信用代码 (GB 32100-2015) and its check character (domain.md, "Who may be an
institution": organisations are identified by the 18-character code with its check character).
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from portal.creditcode import (
    ALPHABET,
    CreditCodeError,
    check_character,
    normalise_credit_code,
    validate_credit_code,
)
from portal.models import Organisation
from tests.conftest import CODES

VALID = ["91350100M000100Y43", "911100001000080343", *CODES.values()]


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_pass_unchanged(code):
    """GB 32100-2015: C18 = 31 - (Σ value(Ci)·Wi mod 31), 31 written as 0."""
    assert validate_credit_code(code) == code
    assert check_character(code[:17]) == code[17]


def test_check_character_by_hand():
    """GB 32100-2015 worked by hand for 911100001000080343: with the weights
    1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28 the first 17 characters sum to
    9·1 + 1·3 + 1·9 + 1·27 + 1·20 + 8·24 + 3·30 + 4·28 = 462 (zeros left out);
    462 mod 31 = 28;
    31 - 28 = 3, so the check character is '3'."""
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    first17 = "91110000100008034"
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, weights, strict=True))
    assert total == 462
    assert 31 - total % 31 == 3
    assert check_character(first17) == "3"


def test_check_value_31_is_written_as_0():
    """GB 32100-2015: when the sum is divisible by 31 the formula gives 31, written '0'."""
    # "00000000000000000" sums to 0 -> 31 - 0 = 31 -> '0'.
    assert check_character("0" * 17) == "0"
    assert validate_credit_code("0" * 18) == "0" * 18


def test_wrong_check_character_names_position_18_and_the_expected_character():
    """GB 32100-2015: the 18th character is the check character; the message says which it
    should be, so a clerk can tell a typo in the code from a typo in the check character."""
    with pytest.raises(CreditCodeError) as exc:
        validate_credit_code("91350100M000100Y44")
    assert exc.value.position == 18
    assert exc.value.message == "统一社会信用代码第 18 位校验码错误：应为“3”，实际为“4”"


def test_every_single_character_typo_is_caught():
    """GB 32100-2015: 31 is prime and no weight is 0 mod 31, so changing any one of the first
    17 characters changes the check character; no single typo slips through."""
    code = "91350100M000100Y43"
    for index in range(17):
        for replacement in ALPHABET:
            if replacement == code[index]:
                continue
            typo = code[:index] + replacement + code[index + 1 :]
            with pytest.raises(CreditCodeError):
                validate_credit_code(typo)


@pytest.mark.parametrize("letter", list("IOZSV"))
def test_letters_outside_the_alphabet_name_their_position(letter):
    """GB 32100-2015: the alphabet leaves out I, O, Z, S and V (they look like 1, 0, 2, 5, U)."""
    code = "91350100M000100Y43"
    bad = code[:9] + letter + code[10:]  # position 10, inside the organisation code
    with pytest.raises(CreditCodeError) as exc:
        validate_credit_code(bad)
    assert exc.value.position == 10
    assert f"第 10 位“{letter}”不是合法字符" in exc.value.message
    assert "I、O、Z、S、V" in exc.value.message


def test_lower_case_illegal_letter_is_reported_in_upper_case():
    with pytest.raises(CreditCodeError) as exc:
        validate_credit_code("9i350100M000100Y43")
    assert exc.value.position == 2
    assert "第 2 位“I”" in exc.value.message


def test_division_code_must_be_digits():
    """GB 32100-2015: characters 3–8 are the administrative division code (GB/T 2260)."""
    code = "91A50100M000100Y43"
    with pytest.raises(CreditCodeError) as exc:
        validate_credit_code(code)
    assert exc.value.position == 3
    assert "第 3–8 位（行政区划码）应为数字" in exc.value.message


@pytest.mark.parametrize(
    ("raw", "length"),
    [("91350100M000100Y4", 17), ("91350100M000100Y433", 19), ("9135", 4)],
)
def test_wrong_length(raw, length):
    with pytest.raises(CreditCodeError) as exc:
        validate_credit_code(raw)
    assert exc.value.message == f"统一社会信用代码应为 18 位，实际为 {length} 位"
    assert exc.value.position is None


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_empty(raw):
    with pytest.raises(CreditCodeError) as exc:
        validate_credit_code(raw)
    assert exc.value.message == "统一社会信用代码不能为空"


def test_full_width_input_is_folded():
    """Codes pasted from Chinese documents often come in full-width characters."""
    assert validate_credit_code("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"


def test_lower_case_and_spaces_are_accepted():
    assert validate_credit_code("91350100m000100y43") == "91350100M000100Y43"
    assert validate_credit_code(" 9135 0100 M000 100Y 43 ") == "91350100M000100Y43"
    assert normalise_credit_code("ａｂｃ　１") == "ABC1"


def test_model_validator_gives_the_chinese_message(db):
    org = Organisation(kind="carrier", name="某运营商", credit_code="91350100M000100Y44")
    with pytest.raises(ValidationError) as exc:
        org.full_clean()
    assert exc.value.message_dict["credit_code"] == [
        "统一社会信用代码第 18 位校验码错误：应为“3”，实际为“4”"
    ]


def test_database_refuses_a_code_that_is_not_18_canonical_characters(db):
    """The database constraint backs the form: lower case or short codes never get stored."""
    for code in ("91350100m000100y43", "9135010"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Organisation.objects.create(kind="carrier", name="某运营商", credit_code=code)
