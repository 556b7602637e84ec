"""Single registrations online (registry/services.py: number_register, number_update,
number_end) and the database's own guarantees (registry/models.py constraints).

000 §三(一)1 and 002: the institution keeps its number library complete and current;
domain.md / models: nothing is deleted — a change leaves a 'superseded' row and a new
'active' one, ending sets the end date; one active registration per (institution, number),
enforced by the database; end >= start. Issue 16 item 8: the same number active for two
institutions carries the 多机构登记 mark, never overwritten, nobody named; bob cannot
update or end alice's numbers; a viewer cannot write.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from portal.errors import Conflict, NotPermitted, PortalError
from portal.models import AuditEvent
from registry import services
from registry.models import RegisteredNumber, Status
from tests.conftest import _user
from tests.registry.conftest import PARTNER_CODE, save_partner

pytestmark = pytest.mark.usefixtures("fixed_day")

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 3, 10)


def fields(number="13800138000", **extra) -> dict:
    return {
        "号码": number,
        "用途": "营销",
        "使用单位": "本机构",
        "电信运营商": "中国移动",
        "合作起始日期": "2026-01-01",
        **extra,
    }


def register(user, number="13800138000", **extra) -> RegisteredNumber:
    return services.number_register(
        actor=user, institution=user.organisation, fields=fields(number, **extra)
    )


@pytest.fixture
def alice_number(inst_alice):
    return register(inst_alice)


@pytest.fixture
def viewer(org_alice):
    return _user(org_alice, "vera", role="viewer")


def rows(**filters) -> list[tuple]:
    return list(
        RegisteredNumber.objects.filter(**filters)
        .order_by("pk")
        .values_list("pk", "number", "status", "valid_to", "end_reason", "carrier")
    )


# -- number_register --------------------------------------------------------------------


def test_register_normalises_and_audits(inst_alice):
    """domain.md Numbers: canonical digits and kind, raw input kept; style.md: audited."""
    number = register(inst_alice, "＋86 138-0013-8000", 电信运营商="移动", 备注="客服外呼")
    assert (number.number, number.kind, number.raw) == (
        "13800138000",
        "mobile",
        "＋86 138-0013-8000",
    )
    assert (number.status, number.carrier, number.remark) == ("active", "中国移动", "客服外呼")
    assert number.created_by == inst_alice
    event = AuditEvent.objects.get(action="number.create")
    assert event.summary["after"]["number"] == "13800138000"


@pytest.mark.parametrize(
    ("extra", "field", "fragment"),
    [
        ({"号码": ""}, "号码", "号码不能为空"),
        ({"用途": "通知"}, "用途", "可选：营销、催收、营销及催收"),
        ({"合作截止日期": "2025-12-31"}, "合作截止日期", "早于起始日期"),
        ({"号码类型": "固话"}, "号码类型", "号码识别为“手机”"),
        ({"使用单位": "某分行"}, "使用单位统一社会信用代码", "必须填写"),
    ],
    ids=["empty", "purpose", "period", "kind", "branch-code"],
)
def test_register_validates_like_the_form(inst_alice, extra, field, fragment):
    """forms.md §1: the online form applies the same rules as the 号码登记表; the error
    names the column, in Chinese."""
    data = fields(**extra)
    with pytest.raises(PortalError) as info:
        services.number_register(actor=inst_alice, institution=inst_alice.organisation, fields=data)
    assert info.value.code == "invalid_row"
    assert info.value.field == field
    assert fragment in info.value.message
    assert RegisteredNumber.objects.count() == 0


def test_a_number_another_institution_holds_is_registered_with_the_shared_mark(
    inst_alice, inst_bob, alice_number
):
    """Issue 16 item 8 (other institutions named) / issue 9 §6; 000 §三(三): a collection
    agency may rightly serve two banks with one line, so bob's registration is not refused
    and alice's is untouched; both carry the 多机构登记 mark for the administration to
    verify, and nothing tells bob who else holds the number."""
    before = rows()
    row = register(inst_bob, "138 0013 8000")
    assert rows()[:-1] == before
    assert (row.institution_id, row.number) == (inst_bob.organisation_id, "13800138000")
    marked = RegisteredNumber.objects.with_shared_mark()
    assert marked.get(pk=row.pk).shared is True
    assert marked.get(pk=alice_number.pk).shared is True
    event = AuditEvent.objects.filter(action="number.create").latest("id")
    assert event.summary["shared"] is True
    assert "甲银行" not in str(event.summary)


def test_one_partner_serving_two_institutions_is_not_marked(inst_alice, inst_bob):
    """Issue 9 §6: a number both institutions register for the same partner (the same
    使用单位 credit code) is one agency's line serving two banks: no mark."""
    for user in (inst_alice, inst_bob):
        save_partner(user)
    partner_row = {
        "用途": "催收",
        "使用单位": "某催收公司",
        "使用单位统一社会信用代码": PARTNER_CODE,
    }
    a = register(inst_alice, "13800138000", **partner_row)
    b = register(inst_bob, "13800138000", **partner_row)
    marked = RegisteredNumber.objects.with_shared_mark()
    assert (marked.get(pk=a.pk).shared, marked.get(pk=b.pk).shared) == (False, False)


def test_an_ended_registration_neither_carries_nor_causes_the_mark(inst_alice, inst_bob):
    alice = register(inst_alice, "13800138000")
    services.number_end(actor=inst_alice, number=alice, end_date=dt.date(2026, 3, 1), reason="转网")
    bob = register(inst_bob, "13800138000")
    marked = RegisteredNumber.objects.with_shared_mark()
    assert (marked.get(pk=alice.pk).shared, marked.get(pk=bob.pk).shared) == (False, False)


def test_registering_an_active_number_twice_is_a_conflict(inst_alice, alice_number):
    """models regnum_one_active_per_institution: change the registration instead."""
    with pytest.raises(Conflict) as info:
        register(inst_alice, "13800138000", 用途="催收")
    assert "请修改原登记" in info.value.message
    assert RegisteredNumber.objects.count() == 1


def test_an_ended_number_may_be_registered_again(inst_alice, inst_bob, alice_number):
    """Nothing deleted: the ended registration stays as history next to the new one, at
    the same institution or (a number handed over) at another."""
    services.number_end(actor=inst_alice, number=alice_number, end_date=TODAY, reason="停用")
    again = register(inst_bob, "13800138000")
    assert again.institution == inst_bob.organisation
    assert [r[2] for r in rows(number="13800138000")] == [Status.ENDED, Status.ACTIVE]


# -- number_update ----------------------------------------------------------------------


def test_update_leaves_a_superseded_row_and_a_new_active_one(inst_alice, alice_number):
    """domain.md / models: nothing is deleted; a changed number leaves a 'superseded' row
    (the history) and a new 'active' one; audited with before and after."""
    new = services.number_update(
        actor=inst_alice, number=alice_number, fields=fields(电信运营商="中国联通")
    )
    assert new.pk != alice_number.pk
    assert rows(number="13800138000") == [
        (alice_number.pk, "13800138000", Status.SUPERSEDED, None, "", "中国移动"),
        (new.pk, "13800138000", Status.ACTIVE, None, "", "中国联通"),
    ]
    old = RegisteredNumber.objects.get(pk=alice_number.pk)
    assert old.closed_at is not None
    event = AuditEvent.objects.get(action="number.update")
    assert (event.summary["before"]["carrier"], event.summary["after"]["carrier"]) == (
        "中国移动",
        "中国联通",
    )


def test_update_without_a_change_keeps_the_row(inst_alice, alice_number):
    """domain.md / models: an update that changes nothing (same fingerprint) makes no new
    version and no history row."""
    same = services.number_update(actor=inst_alice, number=alice_number, fields=fields())
    assert same.pk == alice_number.pk
    assert RegisteredNumber.objects.count() == 1


def test_update_cannot_change_the_number_itself(inst_alice, alice_number):
    """forms.md §1 (one row per number): a registration is of one number: another number is a new
    registration."""
    with pytest.raises(PortalError) as info:
        services.number_update(actor=inst_alice, number=alice_number, fields=fields("13900139000"))
    assert info.value.code == "number_changed"


def test_update_of_a_stale_version_is_refused(inst_alice, alice_number):
    """Issue item 10 (history kept): only the active version changes; an old copy (someone else
    changed it meanwhile) is refused instead of forking the history."""
    stale = RegisteredNumber.objects.get(pk=alice_number.pk)
    services.number_update(actor=inst_alice, number=alice_number, fields=fields(备注="v2"))
    with pytest.raises(Conflict):
        services.number_update(actor=inst_alice, number=stale, fields=fields(备注="v3"))
    superseded = RegisteredNumber.objects.get(pk=alice_number.pk)
    with pytest.raises(PortalError) as info:
        services.number_update(actor=inst_alice, number=superseded, fields=fields(备注="v3"))
    assert info.value.code == "not_active"
    assert RegisteredNumber.objects.filter(status=Status.ACTIVE).count() == 1


# -- number_end -------------------------------------------------------------------------


def test_end_sets_the_end_date_and_keeps_the_row(inst_alice, alice_number):
    """forms.md §1 / domain.md: taking a number out of use sets its end date and reason;
    nothing is deleted; audited."""
    ended = services.number_end(
        actor=inst_alice, number=alice_number, end_date=TODAY, reason="  号码停用  "
    )
    assert ended.pk == alice_number.pk
    assert (ended.status, ended.valid_to, ended.end_reason) == (Status.ENDED, TODAY, "号码停用")
    assert ended.closed_at is not None
    assert RegisteredNumber.objects.count() == 1
    assert AuditEvent.objects.get(action="number.end").summary["reason"] == "号码停用"
    with pytest.raises(Conflict):
        services.number_end(actor=inst_alice, number=ended, end_date=TODAY, reason="again")


def test_end_needs_a_reason_and_a_date_not_before_the_start(inst_alice, alice_number):
    """End >= start (regnum_period_order); the reason is required (the register shows why
    a number left)."""
    with pytest.raises(PortalError) as info:
        services.number_end(actor=inst_alice, number=alice_number, end_date=TODAY, reason=" ")
    assert info.value.code == "reason"
    with pytest.raises(PortalError) as info:
        services.number_end(
            actor=inst_alice, number=alice_number, end_date=dt.date(2025, 12, 31), reason="x"
        )
    assert info.value.code == "period"
    assert "2026-01-01" in info.value.message
    assert RegisteredNumber.objects.get().status == Status.ACTIVE


# -- tenancy ----------------------------------------------------------------------------


def test_bob_cannot_register_update_or_end_alices_numbers(
    inst_alice, inst_bob, org_alice, alice_number
):
    """Tenancy (architecture; 000 §二(一)5 data of different institutions isolated): bob's
    institution cannot write into alice's register, change or end her numbers, nor see
    them."""
    before = rows()
    with pytest.raises(NotPermitted):
        services.number_register(
            actor=inst_bob, institution=org_alice, fields=fields("13900139000")
        )
    with pytest.raises(NotPermitted):
        services.number_update(actor=inst_bob, number=alice_number, fields=fields(备注="bob"))
    with pytest.raises(NotPermitted):
        services.number_end(actor=inst_bob, number=alice_number, end_date=TODAY, reason="bob")
    assert rows() == before
    assert RegisteredNumber.objects.visible_to(inst_bob).count() == 0
    assert list(RegisteredNumber.objects.visible_to(inst_alice)) == [alice_number]


def test_a_viewer_cannot_write(viewer, alice_number):
    """Issue item 10 (a viewer cannot write): 查看 reads the register and changes nothing."""
    before = rows()
    with pytest.raises(NotPermitted):
        register(viewer, "13900139000")
    with pytest.raises(NotPermitted):
        services.number_update(actor=viewer, number=alice_number, fields=fields(备注="x"))
    with pytest.raises(NotPermitted):
        services.number_end(actor=viewer, number=alice_number, end_date=TODAY, reason="x")
    assert rows() == before
    assert RegisteredNumber.objects.visible_to(viewer).count() == 1


def test_an_operator_writes(org_alice):
    """000 §三(一)1: the institution's 经办人 (operator) may register its numbers."""
    operator = _user(org_alice, "otto", role="operator")
    assert register(operator).created_by == operator


def test_only_institutions_register_numbers(carrier_carol, regulator_rita, org_alice):
    """domain.md (who uses the portal): carriers report, regulators review; neither has a
    register of its own, nor writes into an institution's."""
    with pytest.raises(PortalError) as info:
        register(carrier_carol)
    assert info.value.code == "not_institution"
    with pytest.raises(NotPermitted):
        services.number_register(actor=regulator_rita, institution=org_alice, fields=fields())


# -- the database's own guarantees ------------------------------------------------------


def _copy(row: RegisteredNumber, **changes) -> RegisteredNumber:
    data = {
        f.name: getattr(row, f.name)
        for f in RegisteredNumber._meta.concrete_fields
        if f.name not in ("id",)
    }
    data.update(changes)
    return RegisteredNumber(**data)


def test_database_allows_one_active_row_per_institution_and_number(inst_alice, alice_number):
    """Issue item 10: unique active (institution, number) is enforced by the database, not
    only by the services; history rows of the same number are allowed."""
    with pytest.raises(IntegrityError), transaction.atomic():
        _copy(alice_number).save()
    _copy(alice_number, status=Status.SUPERSEDED).save()
    _copy(alice_number, status=Status.ENDED, valid_to=TODAY).save()
    assert RegisteredNumber.objects.filter(number="13800138000").count() == 3


def test_database_refuses_an_end_before_the_start(alice_number):
    """Issue item 10: end >= start is a database constraint (regnum_period_order)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        RegisteredNumber.objects.filter(pk=alice_number.pk).update(valid_to=dt.date(2025, 12, 31))
    RegisteredNumber.objects.filter(pk=alice_number.pk).update(valid_to=dt.date(2026, 1, 1))


def test_database_refuses_a_partner_row_without_a_partner(alice_number):
    """000 §一(一) / issue item 10: a partner's number always names the entrustment it is used under
    (regnum_partner_has_partner; 000 §一(一))."""
    with pytest.raises(IntegrityError), transaction.atomic():
        RegisteredNumber.objects.filter(pk=alice_number.pk).update(user_type="partner")
