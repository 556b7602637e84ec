"""Review, disposal and appeals (issue 14 §1–3): the closed loop of 000 §三(三) — the
administration flags a number, the carrier checks it, suspends or closes it and reports
back — and 002's appeal and relief (申诉救济) for legitimate business disposed of by mistake.
The world is the cross-match's (tests/oversight/test_reconcile.py): one finding per code."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from oversight import casework
from oversight.cases import AppealStatus, CaseStatus, DisposalCase, Review
from oversight.models import Finding, FindingState
from portal.audit import SYSTEM
from portal.errors import Conflict, NotPermitted, PortalError
from portal.models import AuditEvent, Notice, ReminderSent
from registry.models import ServiceReportLine
from tests.oversight.test_reconcile import SHANGHAI, _media, complain, run, world  # noqa: F401

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf(name="停机工单.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def finding(r, code, number=None) -> Finding:
    qs = Finding.objects.filter(run=r, code=code).exclude(state=FindingState.RESOLVED)
    return qs.get(number=number) if number else qs.get()


def confirmed(actor, r, code="UNREGISTERED", number="13900000001") -> Finding:
    f = finding(r, code, number)
    casework.finding_review(actor=actor, findings=[f], decision="confirmed", reason="核实属实")
    f.refresh_from_db()
    return f


def ordered(actor, r, **kw) -> DisposalCase:
    return casework.case_order(actor=actor, finding=confirmed(actor, r, **kw), action="suspend")


# --- review -------------------------------------------------------------------------------


def test_a_review_needs_a_reason_and_is_audited(world, regulator_rita):
    """Issue 14 §1: the regulator confirms or dismisses a finding, with a reason."""
    r = run()
    f = finding(r, "CARRIER_MISMATCH")
    with pytest.raises(PortalError) as exc:
        casework.finding_review(actor=regulator_rita, findings=[f], decision="dismissed", reason="")
    assert exc.value.field == "reason"
    casework.finding_review(
        actor=regulator_rita, findings=[f], decision="dismissed", reason="已携号转网，属实"
    )
    f.refresh_from_db()
    assert f.review == Review.DISMISSED and f.decision.reason == "已携号转网，属实"
    event = AuditEvent.objects.filter(action="finding.review").get()
    assert event.summary["findings"] == [f.pk] and event.summary["decision"] == "dismissed"


def test_only_the_administration_reviews(world, inst_alice, carrier_carol, financial_fiona):
    r = run()
    f = finding(r, "UNREPORTED")
    for actor in (inst_alice, carrier_carol, financial_fiona):
        with pytest.raises(NotPermitted):
            casework.finding_review(actor=actor, findings=[f], decision="confirmed", reason="x")


def test_a_dismissed_finding_stays_dismissed_until_its_evidence_changes(world, regulator_rita):
    """Issue 14 §1: dismissed stays dismissed in later runs until its evidence changes."""
    r1 = run()
    mismatch = finding(r1, "CARRIER_MISMATCH")
    complained = finding(r1, "COMPLAINED_REGISTERED")
    casework.finding_review(
        actor=regulator_rita,
        findings=[mismatch, complained],
        decision="dismissed",
        reason="经核实为正常业务",
    )
    complain("13800000001")  # a fourth complaint: new evidence
    r2 = run()
    assert finding(r2, "CARRIER_MISMATCH").review == Review.DISMISSED
    assert finding(r2, "COMPLAINED_REGISTERED").review == Review.PENDING
    assert finding(r2, "UNREPORTED").review == Review.PENDING


def test_bulk_review_of_a_filtered_list(world, regulator_rita):
    r = run()
    many = list(Finding.objects.filter(run=r, code="UNREGISTERED"))
    assert len(many) == 3
    n = casework.finding_review(
        actor=regulator_rita, findings=many, decision="confirmed", reason="批量确认"
    )
    assert n == 3
    assert set(
        Finding.objects.filter(run=r, code="UNREGISTERED").values_list("review", flat=True)
    ) == {"confirmed"}
    assert AuditEvent.objects.filter(action="finding.review").get().summary["count"] == 3


# --- disposal -----------------------------------------------------------------------------


def test_an_order_needs_a_confirmed_finding(world, regulator_rita):
    r = run()
    with pytest.raises(PortalError) as exc:
        casework.case_order(
            actor=regulator_rita,
            finding=finding(r, "UNREGISTERED", "13900000001"),
            action="suspend",
        )
    assert exc.value.code == "not_confirmed"


def test_the_deadline_is_five_working_days_across_national_day(world, regulator_rita, time_machine):
    """Issue 14 §2: the deadline is in working days from the working-day calendar. Ordered
    on Wed 2026-09-30: 1–7 Oct are holidays, Sat 10 Oct is a 调休 working day, so the
    five working days are 8, 9, 10, 12, 13 Oct."""
    r = run()
    time_machine.move_to(dt.datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI))
    case = ordered(regulator_rita, r)
    assert case.deadline.astimezone(SHANGHAI).date() == dt.date(2026, 10, 13)
    assert case.case_number == f"CZ2026-{case.pk:06d}"


def test_the_deadline_setting_and_an_unknown_year(world, regulator_rita, settings, time_machine):
    r = run()
    settings.DISPOSAL_WORKING_DAYS = 3
    case = ordered(regulator_rita, r)  # Fri 2026-11-20: Mon, Tue, Wed
    assert case.deadline.astimezone(SHANGHAI).date() == dt.date(2026, 11, 25)
    time_machine.move_to(dt.datetime(2026, 12, 29, 10, 0, tzinfo=SHANGHAI))
    f = confirmed(regulator_rita, r, code="UNREGISTERED", number="13800000011")
    with pytest.raises(PortalError) as exc:  # 2027 is not in the calendar: never a guess
        casework.case_order(actor=regulator_rita, finding=f, action="close")
    assert exc.value.code == "calendar_missing" and "2027" in exc.value.message


def test_the_order_notifies_the_carrier_and_the_institution(
    world, regulator_rita, carrier_carol, inst_alice, django_capture_on_commit_callbacks
):
    r = run()
    with django_capture_on_commit_callbacks(execute=True):
        case = ordered(regulator_rita, r)
    assert Notice.objects.filter(recipient=carrier_carol, kind="case.ordered").exists()
    assert Notice.objects.filter(recipient=inst_alice, kind="case.ordered").exists()
    assert any(case.case_number in m.subject for m in mail.outbox)
    with pytest.raises(Conflict):  # one open case per finding
        casework.case_order(actor=regulator_rita, finding=case.finding, action="close")


def test_the_loop_closes_and_the_next_run_shows_the_number_resolved(
    world, regulator_rita, carrier_carol
):
    """000 §三(三): the carrier acts and reports back; the administration verifies; the
    next cross-match shows the finding resolved once the number is gone from the report."""
    r = run()
    case = ordered(regulator_rita, r)
    with pytest.raises(NotPermitted):  # the administration does not report for the carrier
        casework.case_report(
            actor=regulator_rita,
            case=case,
            action_taken="suspend",
            action_date=dt.date(2026, 11, 20),
            note="x",
            evidence=pdf(),
        )
    casework.case_report(
        actor=carrier_carol,
        case=case,
        action_taken="suspend",
        action_date=dt.date(2026, 11, 20),
        note="已于当日暂停该号码",
        evidence=pdf(),
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.REPORTED and case.evidence_name == "停机工单.pdf"
    casework.case_verify(actor=regulator_rita, case=case, accepted=True)
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.verified_by == regulator_rita
    ServiceReportLine.objects.filter(report=world["report"], number="13900000001").delete()
    r2 = run()
    gone = Finding.objects.get(run=r2, identity=case.identity)
    assert gone.state == FindingState.RESOLVED
    assert [e.kind for e in case.events.all()] == ["ordered", "reported", "verified"]


def test_a_report_with_a_disguised_or_macro_file_is_refused(world, regulator_rita, carrier_carol):
    """Issue 14 §2: the evidence passes the engine's file checks."""
    r = run()
    case = ordered(regulator_rita, r)
    fake = SimpleUploadedFile("截图.pdf", b"MZ\x90\x00 not a pdf")
    macro = SimpleUploadedFile("整改.xlsm", b"PK\x03\x04")
    for bad, code in ((fake, "document_content"), (macro, "document_type")):
        with pytest.raises(PortalError) as exc:
            casework.case_report(
                actor=carrier_carol,
                case=case,
                action_taken="suspend",
                action_date=dt.date(2026, 11, 20),
                note="已暂停",
                evidence=bad,
            )
        assert exc.value.code == code
    case.refresh_from_db()
    assert case.status == CaseStatus.ORDERED and not case.evidence


def test_a_verification_can_send_the_case_back(world, regulator_rita, carrier_carol):
    r = run()
    case = ordered(regulator_rita, r)
    casework.case_report(
        actor=carrier_carol,
        case=case,
        action_taken="rectify",
        action_date=dt.date(2026, 11, 20),
        note="已核实",
        evidence=pdf(),
    )
    with pytest.raises(PortalError):  # returning needs the reason
        casework.case_verify(actor=regulator_rita, case=case, accepted=False, note="")
    casework.case_verify(actor=regulator_rita, case=case, accepted=False, note="凭证不清晰")
    case.refresh_from_db()
    assert case.status == CaseStatus.ORDERED


def test_a_dispute_is_answered(world, regulator_rita, carrier_carol):
    r = run()
    case = ordered(regulator_rita, r)
    casework.case_dispute(actor=carrier_carol, case=case, reason="该号码已于上月销户")
    case.refresh_from_db()
    assert case.status == CaseStatus.DISPUTED
    casework.case_answer_dispute(actor=regulator_rita, case=case, maintain=False, note="采纳")
    case.refresh_from_db()
    assert case.status == CaseStatus.REVERSED
    assert Finding.objects.get(pk=case.finding_id).review == Review.DISMISSED


# --- overdue ------------------------------------------------------------------------------


def test_overdue_cases_are_flagged_and_reminded_once_a_day(
    world, regulator_rita, carrier_carol, time_machine
):
    """Issue 14 §2: overdue cases are flagged, listed, and reminded once a day."""
    r = run()
    case = ordered(regulator_rita, r)  # deadline Fri 2026-11-27
    assert casework.overdue_remind() == {"flagged": 0, "reminded": 0, "overdue": 0}
    time_machine.move_to(dt.datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI))
    assert casework.overdue_remind() == {"flagged": 1, "reminded": 1, "overdue": 1}
    time_machine.move_to(dt.datetime(2026, 11, 30, 15, 0, tzinfo=SHANGHAI))
    assert casework.overdue_remind() == {"flagged": 0, "reminded": 0, "overdue": 1}
    case.refresh_from_db()
    assert case.overdue_since is not None and case.is_overdue
    reminders = Notice.objects.filter(recipient=carrier_carol, kind="case.overdue")
    assert reminders.count() == 1 and "逾期 1 个工作日" in reminders.get().title
    assert Notice.objects.filter(recipient=regulator_rita, kind="case.overdue").count() == 1
    time_machine.move_to(dt.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI))
    assert casework.overdue_remind()["reminded"] == 1
    assert ReminderSent.objects.filter(key__startswith=f"case-{case.pk}-").count() == 2


# --- appeals (002) ------------------------------------------------------------------------


def test_an_upheld_appeal_reverses_the_case_and_restores_the_number(
    world, regulator_rita, carrier_carol, inst_alice
):
    """002: appeal and relief for legitimate business disposed of by mistake. Upheld: the
    finding is dismissed, the case closed as reversed, the carrier told to restore."""
    r = run()
    case = ordered(regulator_rita, r)
    casework.case_report(
        actor=carrier_carol,
        case=case,
        action_taken="suspend",
        action_date=dt.date(2026, 11, 20),
        note="已暂停",
        evidence=pdf(),
    )
    appeal = casework.appeal_lodge(
        actor=inst_alice,
        finding=case.finding,
        reasons="该号码为本行客服热线，登记遗漏",
        document=pdf("登记证明.pdf"),
    )
    assert appeal.case == case and appeal.appellant == inst_alice.organisation
    with pytest.raises(Conflict):  # one pending appeal per party
        casework.appeal_lodge(actor=inst_alice, finding=case.finding, reasons="再次申诉")
    casework.appeal_decide(actor=regulator_rita, appeal=appeal, upheld=True, reason="材料属实")
    case.refresh_from_db()
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.UPHELD
    assert case.status == CaseStatus.REVERSED and case.restore_pending
    assert case.restore_deadline.astimezone(SHANGHAI).date() == dt.date(2026, 11, 25)
    assert Finding.objects.get(pk=case.finding_id).review == Review.DISMISSED
    assert Notice.objects.filter(recipient=carrier_carol, kind="case.reversed").exists()
    casework.case_restore(
        actor=carrier_carol, case=case, restored_on=dt.date(2026, 11, 20), note="已恢复"
    )
    case.refresh_from_db()
    assert not case.restore_pending
    r2 = run()  # the dismissal carries (same evidence)
    assert Finding.objects.get(run=r2, identity=case.identity).review == Review.DISMISSED


def test_a_rejected_appeal_leaves_the_case(world, regulator_rita, inst_alice):
    r = run()
    case = ordered(regulator_rita, r)
    appeal = casework.appeal_lodge(actor=inst_alice, finding=case.finding, reasons="不服")
    with pytest.raises(PortalError):
        casework.appeal_decide(actor=regulator_rita, appeal=appeal, upheld=False, reason="")
    casework.appeal_decide(actor=regulator_rita, appeal=appeal, upheld=False, reason="无证据")
    case.refresh_from_db()
    assert case.status == CaseStatus.ORDERED
    assert appeal.events.last().label == "申诉驳回"


def test_an_appeal_out_of_time_is_refused(world, regulator_rita, inst_alice, time_machine):
    """Issue 14 §3: within 15 working days of the order (a setting). Ordered Fri 2026-11-20:
    the 15th working day is Fri 2026-12-11."""
    r = run()
    case = ordered(regulator_rita, r)
    time_machine.move_to(dt.datetime(2026, 12, 12, 9, 0, tzinfo=SHANGHAI))
    with pytest.raises(PortalError) as exc:
        casework.appeal_lodge(actor=inst_alice, finding=case.finding, reasons="迟到的申诉")
    assert exc.value.code == "out_of_time" and "2026 年 12 月 11 日" in exc.value.message
    time_machine.move_to(dt.datetime(2026, 12, 11, 20, 0, tzinfo=SHANGHAI))
    assert casework.appeal_lodge(actor=inst_alice, finding=case.finding, reasons="按时").pk


def test_only_the_parties_appeal(world, regulator_rita, inst_bob, carrier_carol):
    r = run()
    case = ordered(regulator_rita, r)
    with pytest.raises(NotPermitted):
        casework.appeal_lodge(actor=inst_bob, finding=case.finding, reasons="不是我的")
    appeal = casework.appeal_lodge(actor=carrier_carol, finding=case.finding, reasons="号码已转网")
    assert appeal.appellant == carrier_carol.organisation


# --- tenancy ------------------------------------------------------------------------------


def test_each_party_sees_only_its_cases_and_appeals(
    world,
    regulator_rita,
    inst_alice,
    inst_bob,
    carrier_carol,
    financial_fiona,
    client_for,
    org_financial,
):
    """Issue 14 §6: carriers their own cases; institutions those about their numbers; a
    financial regulator those about the institutions it supervises."""
    from oversight.cases import Appeal

    r = run()
    case = ordered(regulator_rita, r)
    appeal = casework.appeal_lodge(actor=inst_alice, finding=case.finding, reasons="申诉")
    for user, sees in (
        (regulator_rita, True),
        (inst_alice, True),
        (carrier_carol, True),
        (financial_fiona, True),
        (inst_bob, False),
    ):
        assert DisposalCase.objects.visible_to(user).filter(pk=case.pk).exists() is sees
        assert Appeal.objects.visible_to(user).filter(pk=appeal.pk).exists() is sees
        client = client_for(user)
        for url in (
            reverse("case_detail", args=[case.pk]),
            reverse("appeal_detail", args=[appeal.pk]),
            reverse("oversight-case-detail", args=[case.pk]),
            reverse("oversight-appeal-detail", args=[appeal.pk]),
        ):
            assert client.get(url).status_code == (200 if sees else 404), (user, url)
    # Out of the financial regulator's scope: it supervises banks and consumer finance only.
    from portal.accounts import services as accounts

    accounts.organisation_set_scope(
        actor=SYSTEM, organisation=org_financial, categories=["bank"], institutions=[]
    )
    assert DisposalCase.objects.visible_to(financial_fiona).filter(pk=case.pk).exists()
    accounts.organisation_set_scope(
        actor=SYSTEM, organisation=org_financial, categories=["small_loan"]
    )
    financial_fiona.organisation.refresh_from_db()
    assert not DisposalCase.objects.visible_to(financial_fiona).exists()
    assert (
        client_for(financial_fiona).get(reverse("case_detail", args=[case.pk])).status_code == 404
    )
