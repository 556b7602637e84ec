"""registry.numbers: canonical form and kind of every number (domain.md, "Numbers").

Pure functions: no database, no Django settings needed
(``pytest tests/registry/test_numbers.py -p no:django`` works).
"""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from registry.numbers import (
    KIND_LABELS,
    LABEL_TO_KIND,
    SUB_PORT_LABELS,
    NumberError,
    NumberKind,
    ParsedNumber,
    check_sub_port,
    classify,
    kind_from_label,
    parse_number,
    port_prefixes,
)

MOBILE = NumberKind.MOBILE
LANDLINE = NumberKind.LANDLINE
SHORT = NumberKind.SHORT
TOLLFREE = NumberKind.TOLLFREE
PORT = NumberKind.SMS_PORT


def _code(raw: object) -> str:
    with pytest.raises(NumberError) as info:
        parse_number(raw)
    assert info.value.message == str(info.value)
    assert info.value.message  # a Chinese reason, never blank
    return info.value.code


# --------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("13800138000", "13800138000"),
        ("19912345678", "19912345678"),
        ("14700000000", "14700000000"),
        ("16612345678", "16612345678"),
    ],
)
def test_mobile_is_eleven_digits_1_3_to_9(raw, number):
    """domain.md, Numbers: mobile is 11 digits ``1[3-9]xxxxxxxxx``."""
    assert parse_number(raw) == ParsedNumber(number, MOBILE)


@pytest.mark.parametrize(
    ("raw", "length"),
    [("1380013800", 10), ("138001380001", 12), ("13", 2), ("1380013800012345", 16)],
)
def test_mobile_with_wrong_length_names_the_length(raw, length):
    """domain.md, Numbers: a mobile-looking number of the wrong length is bad_mobile."""
    with pytest.raises(NumberError) as info:
        parse_number(raw)
    assert info.value.code == "bad_mobile"
    assert info.value.message == f"手机号码应为 11 位，实际 {length} 位"


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("010-12345678", "01012345678"),
        ("01012345678", "01012345678"),
        ("(0571)87654321", "057187654321"),
        ("（0571）87654321", "057187654321"),
        ("0571-8765 4321", "057187654321"),
        ("0571 87654321", "057187654321"),
        ("021-62345678", "02162345678"),
        ("029 8765432", "0298765432"),
        ("0951-5012345", "09515012345"),
        ("[0571]87654321", "057187654321"),
        ("【0571】87654321", "057187654321"),
        ("0571.8765.4321", "057187654321"),
    ],
)
def test_landline_area_code_plus_7_or_8_digits(raw, number):
    """domain.md, Numbers: fixed line = area code 0xx/0xxx + 7–8 digits, stored as digits."""
    assert parse_number(raw) == ParsedNumber(number, LANDLINE)


@pytest.mark.parametrize(
    "raw",
    [
        "0123456789",  # 012 is not an area code (01x is only 010)
        "057187654",  # 5 digits after the area code
        "0571876543210",  # 9 digits after the area code
        "0571-0876543",  # subscriber starts with 0
        "0",
        "010",
    ],
)
def test_bad_landline(raw):
    """domain.md, Numbers: area code 010/02x/0xxx, subscriber 7–8 digits not starting 0."""
    assert _code(raw) == "bad_landline"


@pytest.mark.parametrize(
    ("raw", "number"),
    [("95588", "95588"), ("955880", "955880"), ("96688", "96688"), ("95588.0", "95588")],
)
def test_short_numbers_95_96(raw, number):
    """domain.md, Numbers: service numbers 95xxx / 96xxx, 5–6 digits."""
    assert parse_number(raw) == ParsedNumber(number, SHORT)


@pytest.mark.parametrize("raw", ["9558", "9558812", "95588123"])
def test_short_numbers_wrong_length(raw):
    """domain.md, Numbers: 95/96 numbers have 5–6 digits."""
    assert _code(raw) == "bad_short"


@pytest.mark.parametrize("raw", ["12345", "12315", "10086", "110", "11111111111"])
def test_other_service_numbers_are_not_financial_numbers(raw):
    """domain.md, Numbers: only 95/96 short numbers are listed; 12xxx / 100xx are not."""
    assert _code(raw) == "unknown_format"


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("4008208820", "4008208820"),
        ("800-820-8820", "8008208820"),
        ("400 820 8820", "4008208820"),
        ("４００－８２０－８８２０", "4008208820"),
        (4008208820, "4008208820"),
    ],
)
def test_tollfree_400_800_plus_7_digits(raw, number):
    """domain.md, Numbers: 400/800 + 7 digits."""
    assert parse_number(raw) == ParsedNumber(number, TOLLFREE)


@pytest.mark.parametrize("raw", ["400820882", "40082088201", "800-820-882"])
def test_tollfree_wrong_length(raw):
    """domain.md, Numbers: 400/800 numbers have exactly 10 digits."""
    assert _code(raw) == "bad_tollfree"


@pytest.mark.parametrize(
    "raw",
    [
        "10690",
        "10690000",
        "1065755512345",
        "1069012345678901234",
        "10690123456789012345",  # 20 digits, the maximum
        "106575551234567890",
    ],
)
def test_sms_ports_start_with_106_up_to_20_digits(raw):
    """domain.md, Numbers: SMS ports are ``106`` + provider code + extension, ≤ 20 digits."""
    assert parse_number(raw) == ParsedNumber(raw, PORT)


def test_sms_port_written_in_groups_is_joined():
    """domain.md, Numbers: a sub-port written as main-extension is one port."""
    assert parse_number("10690000-123") == ParsedNumber("10690000123", PORT)


@pytest.mark.parametrize("raw", ["106", "1069"])
def test_sms_port_too_short(raw):
    """domain.md, Numbers (decision): a port has at least 5 digits; '106' alone is not one."""
    assert _code(raw) == "bad_port"


@pytest.mark.parametrize(
    ("raw", "length"),
    [("10690123456789012345678", 23), ("106901234567890123456", 21), ("9" * 30, 30)],
)
def test_more_than_20_digits_is_too_long(raw, length):
    """domain.md, Numbers: numbers have at most 20 digits."""
    with pytest.raises(NumberError) as info:
        parse_number(raw)
    assert info.value.code == "too_long"
    assert info.value.message == f"号码超过 20 位（实际 {length} 位）"


def test_a_mobile_looking_number_is_never_a_port():
    """domain.md, Numbers: 1[3-9] + 9 digits is a mobile; ports start with 106."""
    assert parse_number("13800138000").kind is MOBILE
    assert port_prefixes("13800138000") == []


# --------------------------------------------------------------------------- cleaning


@pytest.mark.parametrize(
    "raw",
    [
        "１３８００１３８０００",
        "+86 138 0013 8000",
        "＋８６ １３８ ００１３ ８０００",
        "86-13800138000",
        "86 138 0013 8000",
        "0086 13800138000",
        "0086-138-0013-8000",
        "+8613800138000",
        "(+86)13800138000",
        "138-0013-8000",
        "138–0013—8000",
        "138‑0013－8000",
        "138.0013.8000",
        "138 0013 8000",
        "\u00a013800138000\u3000",
        "138\u200b0013\u200c8000\u200d",
        "\ufeff13800138000",
        "1380013\u20608000",
        " 13800138000 \t",
        "13800138000\n",
        "'13800138000",
        '="13800138000"',
        '"13800138000"',
        "“13800138000”",
        "013800138000",  # long-distance prefix 0 before a mobile
    ],
)
def test_ugly_mobile_inputs_are_cleaned(raw):
    """domain.md, Numbers: mobiles arrive as +86 138 0013 8000, 86-…, full-width, etc."""
    assert classify(raw) == ("13800138000", MOBILE, None)


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("+86 10 12345678", "01012345678"),
        ("+86-571-87654321", "057187654321"),
        ("+86 (0)571 87654321", "057187654321"),
        ("0086 21 62345678", "02162345678"),
        ("86-571-87654321", "057187654321"),
        ("+86 010 12345678", "01012345678"),
    ],
)
def test_landline_after_country_code_gets_its_0_back(raw, number):
    """domain.md, Numbers: canonical landlines start with 0; +86 drops it, we add it back."""
    assert parse_number(raw) == ParsedNumber(number, LANDLINE)


def test_plus86_then_10_6_is_beijing_not_a_port():
    """domain.md, Numbers (decision): after +86 the landline reading wins (ports are national)."""
    assert parse_number("+86 10 61234567") == ParsedNumber("01061234567", LANDLINE)
    assert parse_number("1061234567") == ParsedNumber("1061234567", PORT)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8610690000", (None, None, "无法识别的号码格式：8610690000")),
        ("86955880", (None, None, "无法识别的号码格式：86955880")),
        ("861069", (None, None, "无法识别的号码格式：861069")),
        ("+86 400 820 8820", ("4008208820", TOLLFREE, None)),
        ("+86 95588", ("95588", SHORT, None)),
    ],
)
def test_86_is_only_stripped_as_a_country_code(raw, expected):
    """domain.md, Numbers: never strip 86 from numbers that are not prefixed."""
    assert classify(raw) == expected


@pytest.mark.parametrize("raw", ["+1 650 253 0000", "+852 2345 6789", "00852 23456789"])
def test_foreign_numbers_are_rejected(raw):
    """domain.md, Numbers: the portal registers numbers used in the province (China only)."""
    assert _code(raw) == "foreign"


@pytest.mark.parametrize(
    ("raw", "bad"),
    [
        ("abc", "a"),
        ("138****8000", "*"),
        ("4OO8208820", "O"),
        ("1380013800a", "a"),
        ("138_0013_8000", "_"),
        ("nan", "n"),
        ("138+00138000", "+"),
    ],
)
def test_letters_and_symbols_are_named(raw, bad):
    """domain.md, Numbers: a number is digits only; the error names the offending character."""
    with pytest.raises(NumberError) as info:
        parse_number(raw)
    assert info.value.code == "non_digit"
    assert info.value.message == f"号码中含有非数字字符“{bad}”"


@pytest.mark.parametrize("raw", ["", "   ", "\u00a0", "\u200b", "\u3000\n", None, "-", "()"])
def test_empty_values(raw):
    """forms.md: a blank cell is 空值 (the importer decides whether the column is required)."""
    assert classify(raw) == (None, None, "空值")
    assert _code(raw) == "empty"


@pytest.mark.parametrize(
    "raw",
    [
        "010-12345678-801",
        "010-12345678转801",
        "010-12345678 转 801",
        "0571-87654321 分机 12",
        "0571-87654321 ext. 12",
        "0571-87654321 EXT 12",
        "0571-87654321x12",
        "(0571)87654321#12",
        "400-820-8820 转 1",
        "4008208820-1",
        "13800138000-1",
    ],
)
def test_extensions_are_rejected_not_dropped(raw):
    """domain.md, Numbers (decision): an extension is reported, never silently dropped."""
    assert _code(raw) == "has_extension"


def test_extension_message_names_the_main_number():
    """domain.md, Numbers: the reason tells the user what to fill in instead."""
    with pytest.raises(NumberError) as info:
        parse_number("010-12345678-801")
    assert "01012345678" in info.value.message
    assert "801" in info.value.message


def test_trailing_group_that_makes_a_valid_number_is_not_an_extension():
    """domain.md, Numbers (decision): groups joined into a valid number are one number."""
    assert parse_number("021-1234567-8") == ParsedNumber("02112345678", LANDLINE)


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000,13900139000",
        "13800138000，13900139000",
        "13800138000/13900139000",
        "13800138000、13900139000",
        "13800138000;13900139000",
        "13800138000\n13900139000",
        "13800138000\r\n13900139000",
        "13800138000 13900139000",
        "10690001~10690099",
        "10690001至10690099",
    ],
)
def test_one_number_per_cell(raw):
    """forms.md, 号码登记表: one row per number; lists and ranges are rejected."""
    assert _code(raw) == "multiple"


@pytest.mark.parametrize(
    ("raw", "suggested"), [("57187654321", "057187654321"), (1012345678, "01012345678")]
)
def test_lost_leading_zero_is_explained_not_guessed(raw, suggested):
    """forms.md: a spreadsheet number drops the landline's leading 0; we say so, not guess."""
    with pytest.raises(NumberError) as info:
        parse_number(raw)
    assert info.value.code == "zero_lost"
    assert suggested in info.value.message


# --------------------------------------------------------------------------- spreadsheets


@pytest.mark.parametrize(
    ("raw", "number", "kind"),
    [
        ("13800138000.0", "13800138000", MOBILE),
        ("13800138000.00", "13800138000", MOBILE),
        ("１３８００１３８０００．０", "13800138000", MOBILE),
        (13800138000.0, "13800138000", MOBILE),
        (13800138000, "13800138000", MOBILE),
        (4008208820.0, "4008208820", TOLLFREE),
        (95588.0, "95588", SHORT),
        (1069012345678901, "1069012345678901", PORT),
        (1069012345678901.0, "1069012345678901", PORT),
        (106901234567890, "106901234567890", PORT),
        (Decimal("13800138000"), "13800138000", MOBILE),
        (Decimal("13800138000.0"), "13800138000", MOBILE),
        (Decimal("1.3800138000E+10"), "13800138000", MOBILE),
        ("1.3800138000E+10", "13800138000", MOBILE),
        ("1.380013800000e10", "13800138000", MOBILE),
        ("1.069012345678901e+15", "1069012345678901", PORT),  # below 2**53: exact
    ],
)
def test_spreadsheet_numbers_recovered_when_exact(raw, number, kind):
    """forms.md: numbers a spreadsheet turned into floats are recovered when exact."""
    assert parse_number(raw) == ParsedNumber(number, kind)


@pytest.mark.parametrize(
    "raw",
    [
        "1.38001E+10",
        "1.38001e+10",
        "1.38001E10",
        "1.3800138E+10",  # 8 significant digits, the last 3 zeros are not proven
        "１．３８００１Ｅ＋１０",
        "1.06901E+19",
        1.2345678901234567e19,  # 20-digit port as a float
        float(10690123456789012345),
        1069012345678900.0,  # Excel keeps 15 significant digits
        1069012345678900,
        "1069012345678900.0",
        Decimal("1.38001E+10"),
        "1.0690123456789012e+16",  # 17 digits written out, but a double above 2**53
        "10690123456789012.0",
        10690123456789012,
    ],
)
def test_spreadsheet_numbers_rejected_when_digits_were_lost(raw):
    """forms.md: numbers are rejected when digits were lost (e.g. a 20-digit port float)."""
    assert _code(raw) == "digits_lost"


def test_scientific_notation_message_tells_the_user_what_to_do():
    """forms.md: the reason names the value and the fix (format the column as text)."""
    with pytest.raises(NumberError) as info:
        parse_number("1.38001E+10")
    assert info.value.message == (
        "号码被表格软件转成了科学计数法（1.38001E+10），已丢失位数，请将该列设置为文本后重新填写"
    )


def test_digit_text_is_trusted_even_with_trailing_zeros():
    """forms.md: every cell is read as text; digit text has lost nothing."""
    assert parse_number("1069012345678900") == ParsedNumber("1069012345678900", PORT)


@pytest.mark.parametrize("raw", [13800138000.5, "1.38001E+1", Decimal("13800138000.5")])
def test_fractions_are_not_numbers(raw):
    """forms.md: a number with a fractional part is not a phone number."""
    assert _code(raw) == "not_integer"


@pytest.mark.parametrize("raw", [-13800138000, -1.0, float("nan"), float("inf"), 0, 0.0])
def test_negative_and_special_numbers(raw):
    """forms.md: only positive integral numeric cells can be numbers."""
    assert _code(raw) == "unknown_format"


@pytest.mark.parametrize("raw", [True, False, object(), [13800138000], b"13800138000"])
def test_other_types_are_rejected(raw):
    """domain.md, Numbers: input is str, int, float, Decimal or None."""
    assert _code(raw) == "bad_type"


def test_huge_int_is_too_long():
    """domain.md, Numbers: at most 20 digits (also for ints too big to print)."""
    assert _code(10**20) == "too_long"
    assert _code(10**5000) == "too_long"


def test_str_subclass_is_text():
    """domain.md, Numbers: any str is parsed as text."""

    class Cell(str):
        pass

    assert parse_number(Cell("+86 138 0013 8000")) == ParsedNumber("13800138000", MOBILE)


# --------------------------------------------------------------------------- API shape


def test_classify_never_raises_and_returns_the_reason():
    """domain.md, Numbers: bulk loops get (number, kind, error) and keep going."""
    assert classify("13800138000") == ("13800138000", MOBILE, None)
    assert classify("abc") == (None, None, "号码中含有非数字字符“a”")
    assert classify(object())[2]


def test_number_error_has_code_message_and_survives_pickling():
    """domain.md, Numbers: errors carry a stable code and a Chinese reason."""
    with pytest.raises(NumberError) as info:
        parse_number("1380013800")
    error = info.value
    assert isinstance(error, ValueError)
    again = copy.deepcopy(error)  # the reduce protocol that pickling (Celery) uses
    assert (again.code, again.message) == (error.code, error.message)


def test_parsed_number_is_frozen_and_kind_is_a_str():
    """domain.md, Numbers: one canonical digit form with its kind."""
    parsed = parse_number("13800138000")
    with pytest.raises(AttributeError):
        parsed.number = "x"  # type: ignore[misc]
    assert parsed.kind == "mobile"
    assert str(parsed.kind) == "mobile"
    assert isinstance(parsed.kind, str)


def test_kind_labels():
    """forms.md, 号码类型: 手机 / 固话 / 短号码 / 400/800 / 短信端口 / 子端口."""
    assert KIND_LABELS == {
        MOBILE: "手机",
        LANDLINE: "固话",
        SHORT: "短号码",
        TOLLFREE: "400/800",
        PORT: "短信端口",
    }
    assert MOBILE.label == "手机"


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("手机", MOBILE),
        ("移动电话", MOBILE),
        ("固话", LANDLINE),
        ("固定电话", LANDLINE),
        ("座机", LANDLINE),
        ("短号码", SHORT),
        ("短号", SHORT),
        ("400/800", TOLLFREE),
        ("400号码", TOLLFREE),
        ("800号码", TOLLFREE),
        ("短信端口", PORT),
        ("端口", PORT),
        ("子端口", PORT),
        ("mobile", MOBILE),
        ("sms_port", PORT),
    ],
)
def test_label_to_kind(label, kind):
    """forms.md, 号码类型: the listed values map to kinds; 子端口 is an SMS port."""
    assert LABEL_TO_KIND[label] is kind
    assert kind_from_label(label) is kind


@pytest.mark.parametrize(
    ("label", "kind"),
    [(" 手 机 ", MOBILE), ("４００／８００", TOLLFREE), ("Mobile", MOBILE), ("子端口\u200b", PORT)],
)
def test_kind_from_label_folds_spaces_width_and_case(label, kind):
    """forms.md: cells are matched after trimming spaces and full-/half-width folding."""
    assert kind_from_label(label) is kind


@pytest.mark.parametrize("label", [None, "", "传真", "其他"])
def test_kind_from_label_unknown(label):
    """forms.md: an unknown 号码类型 is not guessed."""
    assert kind_from_label(label) is None


def test_sub_port_labels():
    """forms.md: a 子端口 row needs its 所属主端口."""
    assert "子端口" in SUB_PORT_LABELS
    assert "短信端口" not in SUB_PORT_LABELS


# --------------------------------------------------------------------------- port tree


@pytest.mark.parametrize(
    ("sub", "main"),
    [("10690000123", "10690000"), ("106900001", "10690000"), ("10657555123456789012", "10657")],
)
def test_sub_port_extends_its_main_port(sub, main):
    """domain.md, Numbers: sub-ports are longer numbers that start with the main port."""
    check_sub_port(sub, main)  # does not raise


@pytest.mark.parametrize(
    ("sub", "main", "code"),
    [
        ("10690000123", "13800138000", "main_not_port"),  # main is a mobile
        ("10690000123", "1069", "main_not_port"),  # main too short
        ("1069000012", "01012345678", "main_not_port"),
        ("10691111123", "10690000", "not_prefix"),
        ("1069000", "10690000", "not_prefix"),  # shorter than the main port
        ("10690000", "10690000", "same_as_main"),
        ("106900001234567890123", "10690000", "too_long"),
    ],
)
def test_sub_port_errors(sub, main, code):
    """domain.md, Numbers: a sub-port must be strictly longer and start with its main port."""
    with pytest.raises(NumberError) as info:
        check_sub_port(sub, main)
    assert info.value.code == code


def test_port_prefixes_along_the_port_tree():
    """domain.md, Numbers: matching is by prefix along the port tree, not by equality."""
    assert port_prefixes("10690000123") == [
        "10690",
        "106900",
        "1069000",
        "10690000",
        "106900001",
        "1069000012",
        "10690000123",
    ]
    assert port_prefixes("10690") == ["10690"]


@pytest.mark.parametrize(
    "number", ["13800138000", "01012345678", "95588", "4008208820", "1069", "", "１０６９０"]
)
def test_port_prefixes_empty_for_other_kinds(number):
    """domain.md, Numbers: only SMS ports have a port tree."""
    assert port_prefixes(number) == []


def test_registered_main_port_covers_a_sub_port():
    """domain.md, Numbers: a sub-port is covered by its main port's service object."""
    registered = {"10690000"}
    assert any(p in registered for p in port_prefixes("106900001234"))
    assert not any(p in registered for p in port_prefixes("10691234"))
