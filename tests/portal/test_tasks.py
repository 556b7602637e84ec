"""The deadline reminder (domain.md, "Working days": "remind by e-mail/in-app 3 working days
before"; 000 §三(一)2: carriers report 5 working days before each quarter ends).

Q2 2026 is due Tuesday 2026-06-23. Counting 3 working days back: Mon 22, (Fri 19 is 端午,
20–21 the weekend) Thu 18, Wed 17 -> the reminder window opens on Wed 2026-06-17.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.models import Organisation, ReminderSent
from portal.tasks import send_deadline_reminders
from portal.workdays import SHANGHAI

pytestmark = pytest.mark.django_db


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def carriers(carrier_carol):
    """carol's company (a user with e-mail), a second carrier reachable only through its
    contact address, a carrier with nobody to write to, and a closed carrier."""
    second, _ = accounts.organisation_create(
        actor=SYSTEM,
        kind="carrier",
        name="某联通公司",
        credit_code="91330000MA2CAR0L1C",
        contact_email="report@unicom.example.invalid",
    )
    silent, _ = accounts.organisation_create(
        actor=SYSTEM, kind="carrier", name="某电信公司", credit_code="91330000MA2CAR0L2F"
    )
    closed, _ = accounts.organisation_create(
        actor=SYSTEM,
        kind="carrier",
        name="已注销运营商",
        credit_code="91330000MA2CAR0L3J",
        contact_email="old@example.invalid",
    )
    Organisation.objects.filter(pk=closed.pk).update(is_active=False)
    return carrier_carol.organisation, second, silent, closed


def test_reminds_each_carrier_once_inside_the_window(
    carriers, inst_alice, mailoutbox, time_machine
):
    """domain.md: remind 3 working days before the deadline; the beat task runs every 6 hours
    and must not send the same reminder twice."""
    carol_org, second, silent, closed = carriers
    time_machine.move_to(at(2026, 6, 17, 9, 0), tick=False)

    assert send_deadline_reminders() == 2
    assert len(mailoutbox) == 2
    by_recipients = {tuple(m.to): m for m in mailoutbox}
    assert set(by_recipients) == {("carol@example.invalid",), ("report@unicom.example.invalid",)}
    mail = by_recipients[("carol@example.invalid",)]
    assert mail.subject == "【提醒】2026 年第 2 季度服务对象报送截止：2026-06-23"
    assert "2026 年 06 月 23 日 24 时前" in mail.body
    assert "季度末前 5 个工作日" in mail.body
    assert set(ReminderSent.objects.values_list("key", flat=True)) == {"quarterly-2026Q2"}

    time_machine.move_to(at(2026, 6, 17, 15, 0), tick=False)
    assert send_deadline_reminders() == 0
    time_machine.move_to(at(2026, 6, 23, 9, 0), tick=False)
    assert send_deadline_reminders() == 0
    assert len(mailoutbox) == 2


def test_each_reminder_goes_through_the_service_and_is_audited(carriers, time_machine):
    """Issue 10 §1: the task wrote models directly; now services.deadline_reminders_send
    records the reminder and its audit event (recipients counted, never listed)."""
    from portal.models import AuditEvent

    carol_org, *_ = carriers
    time_machine.move_to(at(2026, 6, 17, 9, 0), tick=False)
    send_deadline_reminders()
    event = AuditEvent.objects.get(action="notice.reminder", organisation=carol_org)
    assert event.summary == {"key": "quarterly-2026Q2", "due": "2026-06-23", "recipients": 1}
    assert "@" not in str(event.summary)


def test_carrier_with_users_and_contact_gets_one_mail_to_both(
    carrier_carol, mailoutbox, time_machine
):
    org = carrier_carol.organisation
    Organisation.objects.filter(pk=org.pk).update(contact_email="desk@example.invalid")
    time_machine.move_to(at(2026, 6, 22, 9, 0), tick=False)
    assert send_deadline_reminders() == 1
    assert mailoutbox[0].to == ["carol@example.invalid", "desk@example.invalid"]


@pytest.mark.parametrize(
    "moment",
    [
        at(2026, 6, 16, 23, 59),  # the evening before the window opens
        at(2026, 6, 1, 9, 0),
        at(2026, 6, 24, 9, 0),  # Q2 is past; Q3's window opens on Sep 18
        at(2026, 9, 17, 9, 0),
    ],
)
def test_outside_the_window_sends_nothing(carriers, mailoutbox, time_machine, moment):
    """domain.md: the reminder comes in the last 3 working days before the deadline, not
    earlier and not for a deadline already past."""
    time_machine.move_to(moment, tick=False)
    assert send_deadline_reminders() == 0
    assert mailoutbox == []
    assert not ReminderSent.objects.exists()


def test_window_opening_is_read_in_shanghai_time(carriers, mailoutbox, time_machine):
    """2026-06-16 16:30 UTC is already Wednesday 2026-06-17 00:30 in Shanghai."""
    time_machine.move_to(dt.datetime(2026, 6, 16, 16, 30, tzinfo=dt.UTC), tick=False)
    assert send_deadline_reminders() == 2


def test_q3_window_opens_on_the_make_up_friday(carriers, mailoutbox, time_machine):
    """Q3 2026 is due Tue Sep 22; 3 working days back: Mon 21, Sun 20 (国庆调休上班), Fri 18."""
    time_machine.move_to(at(2026, 9, 18, 9, 0), tick=False)
    assert send_deadline_reminders() == 2
    assert "2026 年第 3 季度" in mailoutbox[0].subject
    assert "2026-09-22" in mailoutbox[0].subject


def test_missing_next_year_skips_quietly(carriers, mailoutbox, time_machine, caplog):
    """After Q4's deadline the next one is in 2027, which is not loaded: no mail, a warning
    that names the year, no crash of the beat."""
    time_machine.move_to(at(2026, 12, 28, 9, 0), tick=False)
    assert send_deadline_reminders() == 0
    assert mailoutbox == []
    assert "2027" in caplog.text


# --- the daily audit checkpoint (issue 16 item 7) ------------------------------------------


def test_the_daily_task_writes_a_signed_checkpoint(settings, caplog):
    """Issue 16 item 7: beat writes a checkpoint every day, to the checkpoint file and the
    JSON log (logger ``portal.audit.checkpoint``), after checking the trail."""
    from portal import audit
    from portal.models import AuditEvent
    from portal.tasks import write_audit_checkpoint

    schedule = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert schedule == {"task": "portal.tasks.write_audit_checkpoint", "schedule": 24 * 3600}
    with caplog.at_level("INFO", logger="portal.audit.checkpoint"):
        checkpoint = write_audit_checkpoint()
    assert checkpoint["reason"] == "daily"
    assert checkpoint["count"] == AuditEvent.objects.count() > 0
    assert audit.read_checkpoints() == [checkpoint]
    logged = [r.getMessage() for r in caplog.records if r.name == "portal.audit.checkpoint"]
    assert [json.loads(m) for m in logged] == [checkpoint]
    assert audit.checkpoint_problem(checkpoint) is None


def test_the_daily_task_logs_an_error_when_the_trail_is_broken(audit_tamper, caplog):
    """A broken trail is reported the day it is found, not only when someone runs
    ``verify_audit``."""
    from portal import audit
    from portal.tasks import write_audit_checkpoint

    first = audit.write_checkpoint()
    audit_tamper.delete_newest(1)
    with caplog.at_level("INFO"):
        second = write_audit_checkpoint()
    assert second["count"] == first["count"] - 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "审计日志校验未通过" in errors[0].getMessage()
