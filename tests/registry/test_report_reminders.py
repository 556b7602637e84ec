"""The deadline reminders (domain.md, "Working days": "remind by e-mail/in-app 3 working days
before"; 000 §三(一)2: carriers report 5 working days before each quarter ends; issue 11 §3:
3 working days before the deadline and again on the day, each once, only to carriers that
have not submitted).

Q2 2026 is due Tuesday 2026-06-23. Counting 3 working days back: Mon 22, (Fri 19 is 端午,
20–21 the weekend) Thu 18, Wed 17 -> the reminder window opens on Wed 2026-06-17.
"""

from __future__ import annotations

import datetime as dt

import pytest

from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.models import AuditEvent, Notice, Organisation, ReminderSent
from portal.workdays import SHANGHAI
from registry import tasks
from tests.reports import submitted_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def send_report_reminders(django_capture_on_commit_callbacks):
    """The beat task, with the e-mails it sends after its transactions commit."""

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return tasks.send_report_reminders()

    return run


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


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


def test_reminds_each_carrier_once_before_and_once_on_the_day(
    send_report_reminders, carriers, carrier_carol, inst_alice, mailoutbox, time_machine
):
    """Issue 11 §3: 3 working days before the deadline and again on the day, each reminder
    once only; the beat task runs every hour."""
    time_machine.move_to(at(2026, 6, 17, 9, 0), tick=False)
    assert send_report_reminders() == 2
    assert len(mailoutbox) == 2
    by_recipients = {tuple(m.to): m for m in mailoutbox}
    assert set(by_recipients) == {("carol@example.invalid",), ("report@unicom.example.invalid",)}
    mail = by_recipients[("carol@example.invalid",)]
    assert mail.subject == "【提醒】2026 年第 2 季度服务对象报送截止：2026-06-23"
    assert "2026 年 06 月 23 日 24 时前" in mail.body
    assert "季度末前 5 个工作日" in mail.body
    assert "/reports/" in mail.body
    assert set(ReminderSent.objects.values_list("key", flat=True)) == {"quarterly-2026Q2"}
    notice = Notice.objects.get(recipient=carrier_carol)
    assert notice.kind == "report.reminder" and notice.url == "/reports/"
    assert not Notice.objects.filter(recipient=inst_alice).exists()

    for moment in (at(2026, 6, 17, 15, 0), at(2026, 6, 22, 9, 0)):
        time_machine.move_to(moment, tick=False)
        assert send_report_reminders() == 0
    time_machine.move_to(at(2026, 6, 23, 8, 0), tick=False)
    assert send_report_reminders() == 2
    assert mailoutbox[-1].subject.startswith("【今日截止】2026 年第 2 季度")
    time_machine.move_to(at(2026, 6, 23, 20, 0), tick=False)
    assert send_report_reminders() == 0
    assert len(mailoutbox) == 4
    assert Notice.objects.filter(recipient=carrier_carol).count() == 2


def test_a_carrier_that_submitted_is_not_reminded(
    send_report_reminders, carriers, carrier_carol, mailoutbox, time_machine, tmp_path
):
    time_machine.move_to(at(2026, 6, 16, 9, 0), tick=False)
    submitted_report(carrier_carol, tmp_path, ["13800138000"])
    time_machine.move_to(at(2026, 6, 17, 9, 0), tick=False)
    assert send_report_reminders() == 1
    assert [m.to for m in mailoutbox] == [["report@unicom.example.invalid"]]


def test_each_reminder_is_audited_recipients_counted(send_report_reminders, carriers, time_machine):
    """The reminder and its audit event are written by the service, recipients counted,
    never listed."""
    carol_org, *_ = carriers
    time_machine.move_to(at(2026, 6, 17, 9, 0), tick=False)
    send_report_reminders()
    event = AuditEvent.objects.get(action="notice.reminder", organisation=carol_org)
    assert event.summary == {"key": "quarterly-2026Q2", "due": "2026-06-23", "recipients": 1}
    assert "@" not in str(event.summary)


def test_carrier_with_users_and_contact_gets_one_mail_to_both(
    send_report_reminders, carrier_carol, mailoutbox, time_machine
):
    org = carrier_carol.organisation
    Organisation.objects.filter(pk=org.pk).update(contact_email="desk@example.invalid")
    time_machine.move_to(at(2026, 6, 22, 9, 0), tick=False)
    assert send_report_reminders() == 1
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
def test_outside_the_window_sends_nothing(
    send_report_reminders, carriers, mailoutbox, time_machine, moment
):
    """domain.md: the reminder comes in the last 3 working days before the deadline, not
    earlier and not for a deadline already past."""
    time_machine.move_to(moment, tick=False)
    assert send_report_reminders() == 0
    assert mailoutbox == []
    assert not ReminderSent.objects.exists()


def test_window_opening_is_read_in_shanghai_time(
    send_report_reminders, carriers, mailoutbox, time_machine
):
    """2026-06-16 16:30 UTC is already Wednesday 2026-06-17 00:30 in Shanghai."""
    time_machine.move_to(dt.datetime(2026, 6, 16, 16, 30, tzinfo=dt.UTC), tick=False)
    assert send_report_reminders() == 2


def test_q3_window_opens_on_the_make_up_friday(
    send_report_reminders, carriers, mailoutbox, time_machine
):
    """Q3 2026 is due Tue Sep 22; 3 working days back: Mon 21, Sun 20 (国庆调休上班), Fri 18."""
    time_machine.move_to(at(2026, 9, 18, 9, 0), tick=False)
    assert send_report_reminders() == 2
    assert "2026 年第 3 季度" in mailoutbox[0].subject
    assert "2026-09-22" in mailoutbox[0].subject


def test_missing_next_year_skips_quietly(
    send_report_reminders, carriers, mailoutbox, time_machine, caplog
):
    """After Q4's deadline the next one is in 2027, which is not loaded: no mail, a warning
    that names the year, no crash of the beat."""
    time_machine.move_to(at(2026, 12, 28, 9, 0), tick=False)
    assert send_report_reminders() == 0
    assert mailoutbox == []
    assert "2027" in caplog.text
