"""The public number check (issue 15 §1; 003 电话营销人员双向核查): page and API, mobiles,
landlines, 95/96 numbers, SMS ports and sub-ports under their main port, ended and future
registrations; a fixed list of fields in every answer; counted per client per day."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from oversight.models import PublicCheckCount
from oversight.public.check import FIELDS, REGISTERED_ONLY, check_number
from registry import services as registry
from registry.models import RegisteredNumber

SHANGHAI = ZoneInfo("Asia/Shanghai")
API = "/api/public/number-check/"

pytestmark = pytest.mark.usefixtures("public")


@pytest.fixture(autouse=True)
def _today(time_machine, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    time_machine.move_to(dt.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI))


def register(user, number, **fields):
    values = {
        "号码": number,
        "用途": "催收",
        "使用单位": "本机构",
        "电信运营商": "中国移动",
        "合作起始日期": "2026-01-01",
    } | fields
    return registry.number_register(
        actor=user, institution=user.organisation, fields={k: v for k, v in values.items() if v}
    )


@pytest.fixture
def register_a(inst_alice):
    register(inst_alice, "13800138000")
    register(inst_alice, "0571-87654321", 用途="营销")
    register(inst_alice, "95588", 用途="营销及催收", 电信运营商="中国电信")
    register(inst_alice, "1069012345", 用途="营销", 号码类型="短信端口")
    return inst_alice


def scan(body: dict) -> None:
    """No leakage: nothing beyond the fixed list, and the registered-only fields only for a
    registered number (issue 15 §1: no other numbers, ids, counts, nothing about people)."""
    assert set(body) <= set(FIELDS), set(body) - set(FIELDS)
    if body.get("registered"):
        assert set(body) == set(FIELDS)
    else:
        assert set(body) == {"number", "registered", "message"}
    # No id or count can hide in a value: only text, booleans and null, and the only
    # number in the answer is the one asked.
    for value in body.values():
        assert value is None or isinstance(value, (str, bool))
    digits = "".join(ch for ch in json.dumps(body, ensure_ascii=False) if ch.isdigit())
    expected = body["number"] + "".join(
        ch for k in ("valid_from", "valid_to") for ch in (body.get(k) or "") if ch.isdigit()
    )
    assert sorted(digits) == sorted(expected)


def api(client, number):
    response = client.get(API, {"number": number})
    body = response.json()
    if response.status_code == 200:
        scan(body)
    else:
        assert set(body) == {"code", "detail"}
    return response, body


@pytest.mark.parametrize(
    ("typed", "canonical", "purpose"),
    [
        ("+86 138 0013 8000", "13800138000", "催收"),
        ("(0571)87654321", "057187654321", "营销"),
        ("95588", "95588", "营销及催收"),
        ("1069012345", "1069012345", "营销"),
    ],
)
def test_registered_numbers_of_every_kind(client, register_a, typed, canonical, purpose):
    """003 双向核查: a registered, active number names the institution, the purpose, the
    user and the validity period; any format registry.numbers accepts."""
    response, body = api(client, typed)
    assert response.status_code == 200
    assert body["number"] == canonical
    assert body["registered"] is True
    assert body["institution"] == "甲银行"
    assert body["purpose"] == purpose
    assert body["user"] == "甲银行"
    assert body["valid_from"] == "2026-01-01"
    assert body["valid_to"] is None


def test_sub_port_is_answered_through_its_main_port(client, register_a):
    """domain.md: a sub-port is covered by its main port's registration (prefix match)."""
    response, body = api(client, "106901234567")
    assert body["registered"] is True
    assert body["number"] == "106901234567"
    assert body["institution"] == "甲银行"
    response, body = api(client, "1069099")  # another port, no registered prefix
    assert body["registered"] is False


def test_registered_sub_port_is_answered_by_its_own_registration(client, inst_alice, inst_bob):
    register(inst_alice, "10690555", 用途="营销", 号码类型="短信端口")
    register(inst_bob, "1069055501", 用途="催收", 号码类型="子端口", 所属主端口="10690555")
    _, body = api(client, "106905550199")
    assert (body["institution"], body["purpose"]) == ("乙消费金融", "催收")
    _, body = api(client, "1069055599")
    assert (body["institution"], body["purpose"]) == ("甲银行", "营销")


def test_ended_and_future_registrations_are_not_registered(client, inst_alice):
    """Only a registration active on the day counts; the answer is the same as for a
    number never registered (it tells nothing about the past)."""
    ended = register(inst_alice, "13800138009")
    registry.number_end(
        actor=inst_alice, number=ended, end_date=dt.date(2026, 3, 1), reason="停止使用"
    )
    register(inst_alice, "13800138010", 合作起始日期="2026-04-01")
    register(inst_alice, "13800138011", 合作截止日期="2026-03-09")
    answers = [api(client, n)[1] for n in ("13800138009", "13800138010", "13800138011")]
    never = api(client, "13900000000")[1]
    for body in answers:
        assert body["registered"] is False
        assert {k: v for k, v in body.items() if k != "number"} == {
            k: v for k, v in never.items() if k != "number"
        }


def test_partner_entrustment_lapsed_is_not_registered(client, inst_alice):
    partner, _ = registry.partner_save(
        actor=inst_alice,
        institution=inst_alice.organisation,
        name="某催收公司",
        credit_code="91330100MA2PART01W",
        kind="collection",
        valid_from=dt.date(2026, 1, 1),
    )
    register(
        inst_alice,
        "13800138020",
        使用单位="某催收公司",
        使用单位统一社会信用代码="91330100MA2PART01W",
        委托书编号="WT-1",
    )
    _, body = api(client, "13800138020")
    assert body["registered"] is True
    assert body["user"] == "某催收公司"
    # The entrustment is cut short (the registration itself stays active until the task).
    from registry.models import Partner

    Partner.objects.filter(pk=partner.pk).update(valid_to=dt.date(2026, 3, 9))
    assert api(client, "13800138020")[1]["registered"] is False


def test_two_institutions_are_both_named(client, inst_alice, inst_bob):
    register(inst_alice, "13800138030")
    register(inst_bob, "13800138030", 用途="营销")
    body = api(client, "13800138030")[1]
    assert (
        body["institution"] == "乙消费金融、甲银行" or body["institution"] == "甲银行、乙消费金融"
    )
    assert body["purpose"] == "营销及催收"


@pytest.mark.parametrize("typed", ["abc", "12345", "", "138001380001234567890", "' OR 1=1 --"])
def test_malformed_input_is_a_400_with_code_and_detail(client, typed):
    response, body = api(client, typed)
    assert response.status_code == 400
    assert body["code"] == "invalid_number"
    assert body["detail"]


def test_malformed_and_unknown_run_the_same_query(client, db, django_assert_num_queries):
    """Anti-enumeration: the same work (one lookup) for malformed and unknown input, so
    timing does not tell them apart."""
    check_number("13900000000")
    with django_assert_num_queries(1):
        check_number("13900000001")
    with django_assert_num_queries(1), pytest.raises(ValueError):
        check_number("not a number")


def test_api_ignores_sessions_and_tokens(client_for, inst_alice, register_a):
    """Anonymous endpoint: a logged-in caller gets exactly the same fields."""
    logged_in = client_for(inst_alice)
    response, body = api(logged_in, "13800138000")
    assert response.status_code == 200
    assert body["registered"] is True
    assert response["Cache-Control"] == "no-store"


def test_page_answers_in_chinese_with_a_complaint_link(client, register_a):
    page = client.get(reverse("public_check"), {"number": "13800138000"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "已备案" in text and "甲银行" in text
    page = client.get(reverse("public_check"), {"number": "13912345678"})
    text = page.content.decode()
    assert "未备案" in text
    assert reverse("public_complaint") + "?number=13912345678" in text
    assert "主菜单" not in text  # the public layout has no portal menu
    # Nothing internal on the page: no register ids, no other numbers.
    for row in RegisteredNumber.objects.all():
        assert f"/registry/numbers/{row.pk}/" not in text
    assert (
        "95588"
        not in client.get(reverse("public_check"), {"number": "13800138000"}).content.decode()
    )


def test_every_check_is_counted_per_client_per_day_never_the_number(client, register_a):
    """Issue 15 §1: every check counted per day; heavy callers as counts per address."""
    for number in ("13800138000", "13900000000", "bad"):
        client.get(API, {"number": number})
    client.get(reverse("public_check"), {"number": "95588"})
    [row] = PublicCheckCount.objects.all()
    assert (row.day, row.client, row.checks) == (dt.date(2026, 3, 10), "127.0.0.1", 4)
    assert {f.name for f in PublicCheckCount._meta.fields} == {
        "id",
        "day",
        "client",
        "checks",
        "limited",
    }


def test_schema_declares_the_endpoint_anonymous(client_for, inst_alice):
    schema = client_for(inst_alice).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"][API]["get"]
    assert operation["security"] == [{}] or operation.get("security") == []
    answer = schema["components"]["schemas"]["NumberCheck"]
    assert set(answer["properties"]) == set(FIELDS)
    assert set(answer["required"]) == {"number", "registered", "message"}
    assert answer["properties"]["valid_to"]["nullable"] is True
    assert set(REGISTERED_ONLY) <= set(answer["properties"])


def test_lookup_is_one_prepared_statement_per_connection(db):
    """PostgreSQL plans the check once per connection, not per request (issue 15 §5: the
    planning cost more than the lookup); the answers stay those of the plain query."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    first = check_number("13900000000")
    second = check_number("+86 139-0000-0001")
    assert not first.registered and not second.registered
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%FROM registry_registerednumber r JOIN%"],
        )
        assert cursor.fetchone()[0] == 1


@pytest.mark.parametrize("number", ["13800138000", "13912345678", "not a number"])
def test_get_answers_as_drf_would(client, register_a, number):
    """The GET fast path (NumberCheckView.dispatch) writes what DRF's JSONRenderer would:
    compact UTF-8 JSON, application/json, the same status and Cache-Control."""
    from rest_framework.renderers import JSONRenderer

    response = client.get(API, {"number": number})
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.content == JSONRenderer().render(response.json())
    assert response.status_code == (400 if number == "not a number" else 200)


@pytest.mark.django_db(transaction=True)
def test_lookup_survives_a_connection_the_server_closed(register_a):
    """The prepared lookup bypasses Django's health check: a connection the server ended
    between two requests is replaced and the check still answers (once, outside a
    transaction)."""
    from django.db import connection
    from django.db.utils import OperationalError

    if connection.vendor != "postgresql":
        pytest.skip("the prepared path is PostgreSQL's")
    assert check_number("13800138000").registered
    with pytest.raises(OperationalError), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    assert check_number("13800138000").registered
