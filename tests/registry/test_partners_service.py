"""Entrusted partners (委托合作单位) and the rules their numbers obey
(registry/services.py: partner_save, partners_end_expired; importers/register.py).

000 §一(一) and 001 第十条: nobody markets or collects for an institution without its written
entrustment; forms.md §1: 使用单位统一社会信用代码 and 委托书编号 identify a partner's
rows; domain.md: an institution names its partners with their 委托书 and cooperation period.
Issue item 10: an expired entrustment ends the partner's numbers, with a reason naming the
date; bob's institution can neither see nor touch alice's partners.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.files import File
from django.core.files.base import ContentFile

from portal.errors import Conflict, NotPermitted, PortalError
from portal.models import AuditEvent
from registry import services
from registry.models import (
    ImportStatus,
    Partner,
    RegisteredNumber,
    Status,
    UserType,
)
from tests.conftest import CODES, _user

pytestmark = pytest.mark.usefixtures("fixed_day")

SHANGHAI = ZoneInfo("Asia/Shanghai")
PARTNER_CODE = "91330100MA2PART01W"
OTHER_CODE = "91330100MA2PART020"
BRANCH_CODE = "91330100MA2BRAN01Y"
HEADER = [
    "号码",
    "用途",
    "使用单位",
    "使用单位统一社会信用代码",
    "电信运营商",
    "委托书编号",
    "合作起始日期",
    "合作截止日期",
]


def save(actor, *, institution=None, **fields) -> tuple[Partner, bool]:
    values = {
        "name": "杭州某催收服务有限公司",
        "credit_code": PARTNER_CODE,
        "kind": "collection",
        "valid_from": dt.date(2026, 1, 1),
        "valid_to": dt.date(2026, 6, 30),
        "document_number": "WT-2026-001",
        **fields,
    }
    return services.partner_save(
        actor=actor, institution=institution or actor.organisation, **values
    )


@pytest.fixture
def partner(inst_alice) -> Partner:
    return save(inst_alice)[0]


def row(number, **fields) -> dict:
    return {
        "号码": number,
        "用途": "催收",
        "使用单位": "杭州某催收服务有限公司",
        "使用单位统一社会信用代码": PARTNER_CODE,
        "电信运营商": "中国移动",
        "委托书编号": "WT-2026-001",
        "合作起始日期": "2026-02-01",
        "合作截止日期": "",
        **fields,
    }


def import_rows(actor, tmp_path: Path, rows, *, name="p.xlsx"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append([r.get(h, "") for h in HEADER])
    path = tmp_path / name
    wb.save(path)
    with open(path, "rb") as fh:
        job, _ = services.import_job_create(
            actor=actor,
            institution=actor.organisation,
            upload=File(fh, name=name),
            original_name=name,
            enqueue=False,
        )
    job = services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def errors_of(job) -> list[tuple[str, str, str]]:
    """(原行号, 错误列, 错误原因) of the error workbook."""
    wb = openpyxl.load_workbook(job.error_report.path, read_only=True)
    rows = list(wb["错误明细"].iter_rows(values_only=True))[1:]
    return [(str(r[0]), r[-2], r[-1]) for r in rows]  # 原行号 is a number in the workbook


# -- partner_save -----------------------------------------------------------------------


def test_partner_is_registered_with_its_entrustment_document(inst_alice):
    """000 §一(一): a partner acts only under written entrustment; the document is kept
    under a server-made name (the user's file name only displayed); audited."""
    pdf = ContentFile(b"%PDF-1.4\n%%EOF\n", name="委托书（2026）.pdf")
    partner, created = save(inst_alice, credit_code=PARTNER_CODE.lower(), document=pdf)
    assert created
    assert partner.credit_code == PARTNER_CODE
    assert partner.institution == inst_alice.organisation
    assert partner.document_name == "委托书（2026）.pdf"
    assert re.fullmatch(r"partners/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", partner.document.name)
    event = AuditEvent.objects.get(action="partner.create")
    assert event.organisation == inst_alice.organisation
    assert event.summary["after"]["credit_code"] == PARTNER_CODE


def test_same_credit_code_updates_the_partner(inst_alice, partner):
    """forms.md §1 / services: the credit code identifies a partner within an institution;
    saving it again updates the entrustment (audited with before and after)."""
    again, created = save(inst_alice, kind="both", document_number="WT-2026-002")
    assert (again.pk, created) == (partner.pk, False)
    assert (again.kind, again.document_number) == ("both", "WT-2026-002")
    assert Partner.objects.count() == 1
    event = AuditEvent.objects.get(action="partner.update")
    assert event.summary["before"]["kind"] == "collection"
    assert event.summary["after"]["kind"] == "both"


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"credit_code": "91330100MA2PART01X"}, "credit_code", "校验码错误"),
        ({"credit_code": CODES["alice"]}, "self_partner", "合作单位不能是本机构自己"),
        ({"kind": "notice"}, "kind", "委托类型“notice”无效，可选：marketing（营销）"),
        ({"name": "  "}, "name", "合作单位名称不能为空"),
        (
            {"valid_from": dt.date(2026, 6, 1), "valid_to": dt.date(2026, 5, 31)},
            "period",
            "委托截止日期不能早于起始日期",
        ),
    ],
    ids=["bad-code", "self", "kind", "name", "period"],
)
def test_partner_validation(inst_alice, fields, code, message):
    """GB 32100-2015 check character; a partner is another organisation; its kind is
    营销/催收/营销及催收; the entrustment period is ordered. Messages in Chinese."""
    with pytest.raises(PortalError) as info:
        save(inst_alice, **fields)
    assert info.value.code == code
    assert message in info.value.message
    assert Partner.objects.count() == 0


def test_bob_cannot_save_or_change_alices_partners(inst_alice, inst_bob, org_alice, partner):
    """Tenancy (architecture; 000 §二(一)5): bob's institution cannot register a partner
    for alice, nor change alice's partner through his own; a viewer writes nothing."""
    with pytest.raises(NotPermitted):
        save(inst_bob, institution=org_alice, credit_code=OTHER_CODE)
    with pytest.raises(NotPermitted) as info:
        services.partner_save(
            actor=inst_bob,
            institution=inst_bob.organisation,
            partner=partner,
            name="改名",
            credit_code=PARTNER_CODE,
            kind="both",
            valid_from=dt.date(2026, 1, 1),
        )
    assert info.value.message == "不能修改其他机构的合作单位"
    viewer = _user(org_alice, "vera", role="viewer")
    with pytest.raises(NotPermitted):
        save(viewer, credit_code=OTHER_CODE)
    partner.refresh_from_db()
    assert (partner.name, partner.kind) == ("杭州某催收服务有限公司", "collection")
    assert Partner.objects.visible_to(inst_bob).count() == 0
    assert list(Partner.objects.visible_to(inst_alice)) == [partner]


def test_changing_a_partners_code_to_another_registered_code_is_a_conflict(inst_alice, partner):
    """domain.md (partners named by their 统一社会信用代码): one partner per credit code per
    institution (partner_unique_per_institution)."""
    save(inst_alice, credit_code=OTHER_CODE, name="另一家公司")
    with pytest.raises(Conflict):
        services.partner_save(
            actor=inst_alice,
            institution=inst_alice.organisation,
            partner=partner,
            name=partner.name,
            credit_code=OTHER_CODE,
            kind="collection",
            valid_from=dt.date(2026, 1, 1),
        )


def test_two_institutions_may_entrust_the_same_partner(inst_alice, inst_bob, partner):
    """001 第十条: each institution entrusts its agencies itself; the same agency under
    two institutions is two separate entrustments."""
    bobs, created = save(inst_bob, kind="marketing", document_number="B-1")
    assert created and bobs.pk != partner.pk
    assert Partner.objects.filter(credit_code=PARTNER_CODE).count() == 2


# -- partner rules on register rows ------------------------------------------------------


def test_a_registered_partners_numbers_are_imported_under_the_entrustment(
    inst_alice, partner, tmp_path
):
    """forms.md §1: a row whose 使用单位统一社会信用代码 is a registered partner is the
    partner's number; a blank 委托书编号 takes the registered one; an open end is capped by
    the entrustment (effective_valid_to)."""
    job = import_rows(
        inst_alice,
        tmp_path,
        [row("13800138000"), row("13800138001", 委托书编号="", 合作截止日期="2026-05-31")],
    )
    assert job.status == ImportStatus.DONE, job.message
    first, second = RegisteredNumber.objects.order_by("number")
    assert (first.user_type, first.partner, first.user_credit_code) == (
        UserType.PARTNER,
        partner,
        PARTNER_CODE,
    )
    assert second.document_number == "WT-2026-001"
    assert first.valid_to is None and first.effective_valid_to == dt.date(2026, 6, 30)
    assert second.effective_valid_to == dt.date(2026, 5, 31)


PARTNER_ERRORS = [
    pytest.param(
        {"用途": "营销"}, "用途", "委托类型为“催收”，不能用于“营销”", id="kind-not-covering"
    ),
    pytest.param({"用途": "营销及催收"}, "用途", "不能用于“营销及催收”", id="both-needs-both"),
    pytest.param(
        {"合作起始日期": "2025-12-31"},
        "合作起始日期",
        "合作起始日期早于委托书起始日期 2026-01-01",
        id="starts-before-entrustment",
    ),
    pytest.param(
        {"合作截止日期": "2026-07-01"},
        "合作截止日期",
        "合作截止日期晚于委托书截止日期 2026-06-30",
        id="ends-after-entrustment",
    ),
    pytest.param(
        {"合作起始日期": "2026-07-01"},
        "合作起始日期",
        "合作起始日期晚于委托书截止日期 2026-06-30",
        id="starts-after-entrustment-open-end",
    ),
    pytest.param(
        {"委托书编号": "WT-2025-999"},
        "委托书编号",
        "委托书编号“WT-2025-999”与登记的委托书编号“WT-2026-001”不一致",
        id="document-mismatch",
    ),
    pytest.param(
        {"使用单位统一社会信用代码": OTHER_CODE},
        "使用单位统一社会信用代码",
        f"（{OTHER_CODE}）尚未登记为委托合作单位",
        id="unregistered-partner-with-document",
    ),
]


@pytest.mark.parametrize(("fields", "column", "reason"), PARTNER_ERRORS)
def test_partner_rules(inst_alice, partner, tmp_path, fields, column, reason):
    """000 §一(一); 001 第十条; forms.md §1: the partner's kind must cover the purpose, the
    row's period lies within the entrustment, the 委托书编号 matches the registered one; a
    partner with a 委托书编号 that is not registered is an error."""
    job = import_rows(inst_alice, tmp_path, [row("13800138000", **fields)])
    assert job.status == ImportStatus.REJECTED
    [(number, columns, reasons)] = errors_of(job)
    assert number == "2"
    assert column in columns.split("、")
    assert reason in reasons
    assert RegisteredNumber.objects.count() == 0


def test_a_both_kind_entrustment_covers_every_purpose(inst_alice, tmp_path):
    """000 §一(一) / models.purpose_covers: an entrustment for 营销及催收 covers either use."""
    save(inst_alice, kind="both")
    rows = [row("13800138000", 用途=p) for p in ("营销",)]
    rows += [row("13800138001", 用途="催收"), row("13800138002", 用途="营销及催收")]
    assert import_rows(inst_alice, tmp_path, rows).status == ImportStatus.DONE


def test_expired_entrustment_rejects_new_rows(inst_alice, partner, tmp_path, time_machine):
    """000 §一(一): once the entrustment has run out, the partner's numbers cannot be
    registered (the row is an error naming the date)."""
    time_machine.move_to(dt.datetime(2026, 7, 2, 10, 0, tzinfo=SHANGHAI))
    job = import_rows(inst_alice, tmp_path, [row("13800138000", 合作截止日期="2026-06-30")])
    [(_, columns, reasons)] = errors_of(job)
    assert columns == "使用单位"
    assert reasons == "合作单位“杭州某催收服务有限公司”的委托书已于 2026-06-30 到期"


def test_a_code_that_is_no_partner_and_has_no_document_is_a_branch(inst_alice, tmp_path):
    """forms.md §1 (使用单位: a branch's name): a non-partner code without 委托书编号 is the
    institution's branch (分支机构); the institution's own code means 本机构."""
    rows = [
        row(
            "13800138000",
            使用单位="甲银行杭州分行",
            使用单位统一社会信用代码=BRANCH_CODE,
            委托书编号="",
        ),
        row(
            "13800138001",
            使用单位="总行营业部",
            使用单位统一社会信用代码=CODES["alice"],
            委托书编号="",
        ),
    ]
    job = import_rows(inst_alice, tmp_path, rows)
    assert job.status == ImportStatus.DONE, job.message
    branch, own = RegisteredNumber.objects.order_by("number")
    assert (branch.user_type, branch.user_name) == ("branch", "甲银行杭州分行")
    assert branch.partner is None
    assert (own.user_type, own.user_name, own.user_credit_code) == ("self", "本机构", "")


@pytest.mark.parametrize(
    "name", ["杭州某催收服务有限公司", "某某科技有限公司杭州分公司", "乙消费金融杭州分公司"]
)
def test_an_unknown_code_that_is_no_branch_is_a_partner_row(inst_alice, tmp_path, name):
    """Issue 16 item 8 (entrustment check skipped); 000 §一(一), 001 第十条: anyone but the
    institution and its branches acts only under a written entrustment. A row whose 使用单位
    is not declared a branch (by the institution's name before the branch's) is a
    partner row, and a partner that is not registered with its entrustment is an error."""
    rows = [row("13800138000", 使用单位=name, 使用单位统一社会信用代码=BRANCH_CODE, 委托书编号="")]
    job = import_rows(inst_alice, tmp_path, rows)
    assert job.status == ImportStatus.REJECTED
    [(_, columns, reasons)] = errors_of(job)
    assert columns == "使用单位统一社会信用代码"
    assert "尚未登记为委托合作单位" in reasons
    assert RegisteredNumber.objects.count() == 0


@pytest.mark.parametrize("name", ["甲银行杭州分行", "甲银行股份有限公司宁波分行", "本行营业部"])
def test_a_branch_is_declared_by_its_name(inst_alice, tmp_path, name):
    """Issue 16 item 8: a 分支机构 is declared as such, by the institution's name followed by
    the branch's own name, or by 本行/本机构 and the branch's name."""
    rows = [row("13800138000", 使用单位=name, 使用单位统一社会信用代码=BRANCH_CODE, 委托书编号="")]
    job = import_rows(inst_alice, tmp_path, rows)
    assert job.status == ImportStatus.DONE, job.message
    assert RegisteredNumber.objects.get().user_type == "branch"


def test_bobs_partner_is_not_alices(inst_alice, inst_bob, tmp_path):
    """Issue item 10 (tenancy; 000 §二(一)5): the entrustment bob registered does not authorise
    alice's rows; alice's import sees only her own partners."""
    save(inst_bob)
    job = import_rows(inst_alice, tmp_path, [row("13800138000")])
    [(_, columns, reasons)] = errors_of(job)
    assert columns == "使用单位统一社会信用代码"
    assert "尚未登记" in reasons


def test_online_registration_obeys_the_same_partner_rules(inst_alice, partner):
    """forms.md §1 / 000 §一(一): services.number_register uses the 号码登记表 validation: a
    collection-only entrustment cannot cover a marketing number."""
    fields = {k: v for k, v in row("13800138000", 用途="营销").items() if v}
    with pytest.raises(PortalError) as info:
        services.number_register(
            actor=inst_alice, institution=inst_alice.organisation, fields=fields
        )
    assert info.value.field == "用途"
    assert "不能用于“营销”" in info.value.message


# -- expired entrustments end the partner's numbers ------------------------------------


@pytest.fixture
def partner_numbers(inst_alice, partner, tmp_path):
    rows = [
        row("13800138000"),
        row("13800138001", 合作截止日期="2026-05-31"),
        row("13800138002", 合作起始日期="2026-03-01"),
    ]
    job = import_rows(inst_alice, tmp_path, rows)
    assert job.status == ImportStatus.DONE, job.message
    other = services.number_register(
        actor=inst_alice,
        institution=inst_alice.organisation,
        fields={
            "号码": "95588",
            "用途": "营销",
            "使用单位": "本机构",
            "电信运营商": "中国电信",
            "合作起始日期": "2026-01-01",
        },
    )
    return other


def test_partners_end_expired_ends_their_numbers_with_the_date(
    inst_alice, inst_bob, partner, partner_numbers, time_machine
):
    """Issue item 10 / 000 §一(一): once an entrustment runs out, the partner's numbers
    are ended automatically (daily task), the reason naming the date; nothing deleted; the
    end date never after the entrustment's; the institution's own numbers and other
    partners' untouched; audited; running it again changes nothing."""
    bobs, _ = save(inst_bob, valid_to=dt.date(2026, 12, 31))
    assert services.partners_end_expired() == 0  # 2026-03-10: nothing expired yet
    time_machine.move_to(dt.datetime(2026, 7, 1, 3, 0, tzinfo=SHANGHAI))
    assert services.partners_end_expired() == 3
    ended = RegisteredNumber.objects.filter(partner=partner).order_by("number")
    assert [(n.status, n.valid_to) for n in ended] == [
        (Status.ENDED, dt.date(2026, 6, 30)),
        (Status.ENDED, dt.date(2026, 5, 31)),  # already ended earlier: kept
        (Status.ENDED, dt.date(2026, 6, 30)),
    ]
    assert {n.end_reason for n in ended} == {"委托书已于 2026-06-30 到期"}
    assert all(n.closed_at for n in ended)
    assert RegisteredNumber.objects.get(number="95588").status == Status.ACTIVE
    assert RegisteredNumber.objects.count() == 4
    event = AuditEvent.objects.get(action="number.end_expired_partner")
    assert event.summary == {"ended": 3, "reason": "委托书已于 2026-06-30 到期"}
    assert event.organisation == inst_alice.organisation
    assert services.partners_end_expired() == 0
    assert bobs.numbers.count() == 0


def test_an_expired_partners_numbers_end_in_one_update(partner, partner_numbers):
    """Issue 10 §16 (style.md: set-based, no per-row save()): one UPDATE, one audit event."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert services.partners_end_expired(today=dt.date(2026, 7, 1)) == 3
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1 and "registry_registerednumber" in updates[0]
    assert AuditEvent.objects.filter(action="number.end_expired_partner").count() == 1


def test_partners_end_expired_takes_the_day_as_an_argument(partner, partner_numbers):
    """Issue item 10 / tasks.end_expired_partner_numbers: the day is today by default, or given."""
    assert services.partners_end_expired(today=dt.date(2026, 6, 30)) == 0
    assert services.partners_end_expired(today=dt.date(2026, 7, 1)) == 3


def test_saving_a_partner_with_a_past_end_ends_its_numbers_at_once(
    inst_alice, partner, partner_numbers
):
    """Issue item 10: partner_save with a valid_to in the past ends the partner's numbers
    at once, with the reason naming the date (e.g. an entrustment withdrawn early)."""
    save(inst_alice, valid_to=dt.date(2026, 3, 5))
    numbers = RegisteredNumber.objects.filter(partner=partner).order_by("number")
    assert [(n.status, n.valid_to) for n in numbers] == [
        (Status.ENDED, dt.date(2026, 3, 5)),
        (Status.ENDED, dt.date(2026, 3, 5)),
        (Status.ENDED, dt.date(2026, 3, 5)),  # started 03-01: within the period
    ]
    assert {n.end_reason for n in numbers} == {"委托书已于 2026-03-05 到期"}
    assert RegisteredNumber.objects.get(number="95588").status == Status.ACTIVE


def test_ending_keeps_the_period_ordered_when_the_number_started_after_the_end(
    inst_alice, partner, tmp_path
):
    """Issue item 10 (end >= start, regnum_period_order): a number that started after the
    entrustment's new end is ended on its own start day, not before it."""
    job = import_rows(inst_alice, tmp_path, [row("13800138000", 合作起始日期="2026-03-08")])
    assert job.status == ImportStatus.DONE, job.message
    save(inst_alice, valid_to=dt.date(2026, 3, 5))
    number = RegisteredNumber.objects.get(number="13800138000")
    assert (number.status, number.valid_from, number.valid_to) == (
        Status.ENDED,
        dt.date(2026, 3, 8),
        dt.date(2026, 3, 8),
    )
