"""The notice centre (portal/notices.py; issue 11 §3): in-app notices with an unread count
in the top bar, e-mail through Django's backend after the transaction commits (the embedded
default writes files to var/mail/, production uses SMTP from the environment); a notice is
its recipient's alone (another user's is a 404)."""

from __future__ import annotations

import pytest

from portal import notices
from portal.audit import SYSTEM
from portal.models import AuditEvent, Notice, Organisation
from tests.conftest import _user
from tests.portal.test_deploy_settings import PRODUCTION, manage

pytestmark = pytest.mark.django_db


def send(org, capture, **extra):
    with capture(execute=True):
        return notices.notice_send(
            actor=SYSTEM,
            organisation=org,
            kind="test.kind",
            title="【测试】一条通知",
            body="正文",
            url="/reports/",
            **extra,
        )


def test_send_to_an_organisation(
    carrier_carol, inst_alice, mailoutbox, django_capture_on_commit_callbacks
):
    org = carrier_carol.organisation
    colleague = _user(org, "cathy", role="operator")
    Organisation.objects.filter(pk=org.pk).update(contact_email="desk@example.invalid")
    org.refresh_from_db()
    sent = send(org, django_capture_on_commit_callbacks)
    assert {n.recipient for n in sent} == {carrier_carol, colleague}
    assert not Notice.objects.filter(recipient=inst_alice).exists()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [
        "carol@example.invalid",
        "cathy@example.invalid",
        "desk@example.invalid",
    ]
    assert mailoutbox[0].subject == "【测试】一条通知" and "/reports/" in mailoutbox[0].body
    event = AuditEvent.objects.get(action="notice.send")
    assert event.summary == {"kind": "test.kind", "recipients": 2, "emails": 3}


def test_a_rolled_back_notice_sends_no_mail(carrier_carol, mailoutbox):
    """E-mail leaves after the caller's transaction commits: in a test transaction that
    never commits, nothing is sent."""
    notices.notice_send(actor=SYSTEM, users=[carrier_carol], kind="k", title="t")
    assert mailoutbox == []
    with pytest.raises(ValueError):
        notices.notice_send(actor=SYSTEM, kind="k", title="t")


def test_unread_count_page_and_open(
    client_for, carrier_carol, inst_alice, django_capture_on_commit_callbacks
):
    send(carrier_carol.organisation, django_capture_on_commit_callbacks)
    client = client_for(carrier_carol)
    page = client.get("/").content.decode()
    assert 'data-testid="unread-count">1<' in page
    listing = client.get("/notices/").content.decode()
    assert "【测试】一条通知" in listing
    notice = Notice.objects.get(recipient=carrier_carol)
    response = client.post(f"/notices/{notice.pk}/open/")
    assert response.status_code == 302 and response["Location"] == "/reports/"
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert 'data-testid="unread-count"' not in client.get("/").content.decode()


def test_another_users_notice_is_404(
    client_for, carrier_carol, inst_alice, django_capture_on_commit_callbacks
):
    send(carrier_carol.organisation, django_capture_on_commit_callbacks)
    notice = Notice.objects.get(recipient=carrier_carol)
    alice = client_for(inst_alice)
    assert alice.post(f"/notices/{notice.pk}/open/").status_code == 404
    assert "【测试】一条通知" not in alice.get("/notices/").content.decode()
    alice.post("/notices/read-all/")
    notice.refresh_from_db()
    assert notice.read_at is None


def test_anonymous_goes_to_login(client):
    assert client.get("/notices/").status_code == 302


def test_read_all(client_for, carrier_carol, django_capture_on_commit_callbacks):
    send(carrier_carol.organisation, django_capture_on_commit_callbacks)
    send(carrier_carol.organisation, django_capture_on_commit_callbacks)
    client = client_for(carrier_carol)
    assert notices.unread_count(carrier_carol) == 2
    client.post("/notices/read-all/")
    assert notices.unread_count(carrier_carol) == 0


def test_embedded_default_writes_mail_files_and_production_uses_smtp():
    code = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND); print(s.EMAIL_FILE_PATH); print(s.EMAIL_HOST, s.EMAIL_PORT)"
    )
    embedded = manage("shell", "-c", code, EMBEDDED="1")
    assert embedded.returncode == 0, embedded.stderr
    backend, path, _ = embedded.stdout.splitlines()[-3:]
    assert backend == "django.core.mail.backends.filebased.EmailBackend"
    assert path.endswith("var/mail")
    production = manage(
        "shell", "-c", code, **PRODUCTION, EMAIL_HOST="smtp.example", EMAIL_PORT="587"
    )
    assert production.returncode == 0, production.stderr
    backend, _, host = production.stdout.splitlines()[-3:]
    assert backend == "django.core.mail.backends.smtp.EmailBackend"
    assert host == "smtp.example 587"
