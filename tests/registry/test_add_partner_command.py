"""``python manage.py add_partner --institution CODE --name NAME --credit-code CODE --kind K
--valid-from DATE [--valid-to DATE] [--document-number N]``
(registry/management/commands/add_partner.py).

000 §一(一) and 001 第十条: an institution's partners act under its written entrustment;
the command registers one through ``partner_save`` like the partners page. One JSON line;
the same arguments again change nothing (no ``partner.update`` event); bad input is one
Chinese line on stderr and exit 1; audited as 系统.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from portal.audit import SYSTEM_ACTOR
from portal.models import AuditEvent
from registry.models import Partner
from tests.commands import command_args, run, run_failing
from tests.conftest import CODES
from tests.registry.conftest import PARTNER_CODE, save_partner

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _today(time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI))


def add_partner(**overrides) -> list[str]:
    values = {
        "institution": CODES["alice"],
        "name": "杭州某催收服务有限公司",
        "credit-code": PARTNER_CODE,
        "kind": "催收",
        "valid-from": "2026-01-01",
        "valid-to": "2027-06-30",
        "document-number": "WT-2026-001",
    } | overrides
    return command_args("add_partner", values)


def partners() -> list[dict]:
    return list(Partner.objects.order_by("pk").values())


def test_registers_the_partner_and_is_audited_as_the_system(org_alice):
    result = run(*add_partner())
    partner = Partner.objects.get()
    assert result == {"id": partner.pk, "created": True}
    assert partner.institution == org_alice
    assert (partner.name, partner.credit_code, partner.kind) == (
        "杭州某催收服务有限公司",
        PARTNER_CODE,
        "collection",
    )
    assert (partner.valid_from, partner.valid_to) == (dt.date(2026, 1, 1), dt.date(2027, 6, 30))
    assert partner.document_number == "WT-2026-001"
    assert partner.created_by is None
    event = AuditEvent.objects.get(action="partner.create")
    assert (event.actor, event.actor_label) == (None, SYSTEM_ACTOR)
    assert event.organisation == org_alice
    assert event.object_id == str(partner.pk)


def test_the_same_arguments_twice_change_nothing(org_alice):
    first = run(*add_partner())
    rows, events = partners(), AuditEvent.objects.count()
    second = run(*add_partner())
    assert second == {"id": first["id"], "created": False}
    assert partners() == rows
    assert AuditEvent.objects.count() == events
    assert not AuditEvent.objects.filter(action="partner.update").exists()


def test_other_values_for_the_same_credit_code_update_the_partner(org_alice):
    """As on the partners page: the credit code identifies the partner; the update is
    audited with before and after."""
    first = run(*add_partner())
    second = run(*add_partner(kind="营销及催收", **{"valid-to": None}))
    assert second == {"id": first["id"], "created": False}
    partner = Partner.objects.get()
    assert (partner.kind, partner.valid_to) == ("both", None)
    event = AuditEvent.objects.get(action="partner.update")
    assert event.actor_label == SYSTEM_ACTOR
    assert event.summary["before"]["kind"] == "collection"
    assert event.summary["after"]["kind"] == "both"


def test_a_partner_registered_on_the_page_with_its_document_is_left_alone(inst_alice):
    """The command carries no document; the same values do not drop the page's upload."""
    partner = save_partner(inst_alice)
    rows, events = partners(), AuditEvent.objects.count()
    assert run(*add_partner()) == {"id": partner.pk, "created": False}
    assert partners() == rows
    assert Partner.objects.get().document_name == "委托书.pdf"
    assert AuditEvent.objects.count() == events


def test_marketing_kind(org_alice):
    run(*add_partner(kind="营销"))
    assert Partner.objects.get().kind == "marketing"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"valid-from": "2026/01/01"},
            "委托起始日期“2026/01/01”格式应为 YYYY-MM-DD，例如 2026-01-01",
        ),
        (
            {"valid-from": "2026-02-30"},
            "委托起始日期“2026-02-30”格式应为 YYYY-MM-DD，例如 2026-01-01",
        ),
        (
            {"valid-to": "next year"},
            "委托截止日期“next year”格式应为 YYYY-MM-DD，例如 2026-01-01",
        ),
        (
            {"valid-from": "2026-06-01", "valid-to": "2026-05-31"},
            "委托截止日期不能早于起始日期",
        ),
        (
            {"credit-code": PARTNER_CODE[:17] + "X"},
            "统一社会信用代码第 18 位校验码错误：应为“W”，实际为“X”",
        ),
        ({"credit-code": CODES["alice"]}, "合作单位不能是本机构自己"),
        ({"name": " "}, "合作单位名称不能为空"),
        (
            {"institution": CODES["alice"][:17] + "C"},
            "委托机构统一社会信用代码第 18 位校验码错误：应为“B”，实际为“C”",
        ),
        ({"institution": CODES["bob"]}, f"未找到统一社会信用代码为 {CODES['bob']} 的单位"),
    ],
    ids=[
        "slashes",
        "no-such-day",
        "bad-valid-to",
        "period",
        "partner-check-char",
        "self",
        "name",
        "institution-check-char",
        "unknown-institution",
    ],
)
def test_bad_input_exits_1_with_a_chinese_message(org_alice, overrides, message):
    assert run_failing(*add_partner(**overrides)) == message
    assert not Partner.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="partner.").exists()


def test_only_a_financial_institution_has_partners(org_carrier):
    message = run_failing(*add_partner(institution=CODES["carrier"]))
    assert message == "某移动公司（电信运营商）不是金融机构，不能登记合作单位"
    assert not Partner.objects.exists()


def test_an_unknown_kind_is_refused_in_chinese(org_alice):
    assert run_failing(*add_partner(kind="notice")) == (
        "委托类型“notice”无效，可选：marketing（营销）、collection（催收）、both（营销及催收）"
    )


@pytest.mark.parametrize("kind", ["collection", "催收"])
def test_the_kind_by_code_or_chinese_label(org_alice, kind):
    """Issue 10 §12: the command line takes codes and labels alike."""
    partner_id = run(*add_partner(kind=kind))["id"]
    assert Partner.objects.get(pk=partner_id).kind == "collection"
