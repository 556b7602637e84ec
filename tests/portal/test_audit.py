"""The audit trail: insert-only, hash-chained, regulator-only (domain.md, "Personal info:
... access control and audit"; 000 §二(一)5; 001 第十九–二十一条; house style: every change
of regulatory state writes its AuditEvent inside the service's transaction)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from portal import audit
from portal.models import AuditEvent
from portal.services import workday_set
from portal.workdays import SHANGHAI

pytestmark = pytest.mark.django_db


def three_events() -> list[AuditEvent]:
    with transaction.atomic():
        return [audit.record(f"test.event{n}", summary={"n": n}) for n in (1, 2, 3)]


# --- the chain --------------------------------------------------------------------------------


def test_events_are_chained():
    first, second, third = three_events()
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert first.hash == audit.compute_hash(first)
    assert len({first.hash, second.hash, third.hash}) == 3
    report = audit.verify_chain()
    assert report.ok
    assert report.checked == AuditEvent.objects.count()


def test_the_very_first_event_links_to_genesis():
    first = AuditEvent.objects.order_by("id").first()
    assert first.prev_hash == audit.GENESIS


def test_record_fills_actor_organisation_object_and_ip(inst_alice):
    with transaction.atomic():
        event = audit.record("test.obj", actor=inst_alice, obj=inst_alice, ip="10.0.0.1")
    event.refresh_from_db()
    assert event.actor_label == "alice"
    assert event.organisation == inst_alice.organisation
    assert (event.object_type, event.object_id, event.object_repr) == (
        "portal.User",
        str(inst_alice.pk),
        "alice",
    )
    assert event.ip == "10.0.0.1"


def test_system_actor_is_named():
    with transaction.atomic():
        event = audit.record("test.system")
    assert event.actor is None
    assert event.actor_label == audit.SYSTEM_ACTOR


def test_a_request_records_the_client_ip(client_for, regulator_rita):
    """Services do not thread the IP through; the middleware sets it for the request."""
    client = client_for(regulator_rita)
    client.post(
        reverse("calendar_day", args=["2026-03-13"]), {"name": "临时"}, REMOTE_ADDR="192.0.2.7"
    )
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "calendar.set_day"
    assert event.ip == "192.0.2.7"


def test_editing_a_row_behind_the_triggers_is_detected_at_that_row(audit_tamper):
    """Even with direct SQL past the database triggers, a changed row breaks the chain."""
    first, second, third = three_events()
    audit_tamper.set_summary(second.pk, json.dumps({"n": 200}))
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_id == second.pk
    assert report.reason == "记录内容与哈希不一致（记录被修改）"
    assert report.checked == AuditEvent.objects.filter(id__lt=second.pk).count()


def test_deleting_a_middle_row_is_detected_at_the_following_row(audit_tamper):
    first, second, third = three_events()
    audit_tamper.delete(second.pk)
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_id == third.pk
    assert report.reason == "前一条记录的哈希不匹配（记录被删除或插入）"


def test_deleting_the_last_row_is_not_detectable_by_the_chain_alone(audit_tamper):
    """A hash chain cannot see its own tail cut off: documented limit, not a bug. (The
    trigger is what stops it; an external anchor of the latest hash would catch it.)"""
    *_, third = three_events()
    audit_tamper.delete(third.pk)
    assert audit.verify_chain().ok


# --- insert-only ------------------------------------------------------------------------------


def test_orm_refuses_to_save_an_existing_event():
    event = three_events()[0]
    event.action = "test.changed"
    with pytest.raises(ValidationError) as exc:
        event.save()
    assert exc.value.messages == ["审计日志不可修改"]


def test_orm_refuses_to_delete_an_event():
    event = three_events()[0]
    with pytest.raises(ValidationError) as exc:
        event.delete()
    assert exc.value.messages == ["审计日志不可删除"]
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_database_refuses_update_and_delete():
    """The database itself refuses UPDATE and DELETE (triggers), so code that forgets the
    model's guard (QuerySet.update/delete, raw SQL) cannot change the trail either."""
    event = three_events()[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="test.changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE portal_auditevent SET summary = '{}' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM portal_auditevent WHERE id = %s", [event.pk])
    event.refresh_from_db()
    assert event.action == "test.event1"
    assert audit.verify_chain().ok


def test_no_session_setting_lets_a_delete_through():
    """Nobody can delete an audit event (issue 3 §5): no switch a database session could
    set (the old ``portal.audit_purge``) opens the trigger."""
    if connection.vendor != "postgresql":
        pytest.skip("the session setting is a PostgreSQL feature")
    event = three_events()[0]
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL portal.audit_purge = 'on'")
        cursor.execute("DELETE FROM portal_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_database_refuses_truncate():
    """Nobody can delete the audit trail (issue 3 §5): not even in one TRUNCATE, which
    PostgreSQL's row triggers do not see (a statement trigger refuses it)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE is refused")
    three_events()
    before = AuditEvent.objects.count()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE portal_auditevent")
    assert AuditEvent.objects.count() == before > 0
    assert audit.verify_chain().ok


def test_record_outside_a_transaction_is_refused(monkeypatch):
    """House style: the audit row is written inside the service's own transaction. pytest's
    ``db`` wraps every test in one, and a transactional test would flush the session-wide
    calendar; so the test shows the guard by making the connection report autocommit."""
    monkeypatch.setattr(connection, "in_atomic_block", False)
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        audit.record("test.outside")


# --- the audit list page ------------------------------------------------------------------------


def test_regulator_sees_the_audit_list(client_for, regulator_rita):
    response = client_for(regulator_rita).get(reverse("audit_list"))
    assert response.status_code == 200
    assert "审计日志" in response.content.decode()


@pytest.mark.parametrize("who", ["inst_alice", "carrier_carol", "financial_fiona", "inst_bob"])
def test_other_roles_get_404(request, client_for, who):
    """Audit data is for the communications administration only (000 §二(一)5)."""
    user = request.getfixturevalue(who)
    assert client_for(user).get(reverse("audit_list")).status_code == 404


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(reverse("audit_list"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def listed(client, **params) -> list[str]:
    response = client.get(reverse("audit_list"), params)
    assert response.status_code == 200
    return [e.action for e in response.context["page"].object_list]


def test_filters(client_for, regulator_rita, inst_alice, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI), tick=False)
    workday_set(actor=regulator_rita, day=dt.date(2026, 3, 13), is_workday=False)
    time_machine.move_to(dt.datetime(2026, 3, 5, 10, 0, tzinfo=SHANGHAI), tick=False)
    with transaction.atomic():
        audit.record("test.alice", actor=inst_alice)
    client = client_for(regulator_rita)

    assert listed(client, action="calendar.set") == ["calendar.set_day"]
    assert "calendar.set_day" in listed(client, actor="rita")
    assert "test.alice" not in listed(client, actor="rita")
    assert listed(client, org="甲银行")[0] == "test.alice"
    assert set(listed(client, org="甲银行")) == {"test.alice", "organisation.create", "user.create"}
    assert listed(client, action="test.", since="2026-03-03") == ["test.alice"]
    assert listed(client, action="calendar.set", since="2026-03-03") == []
    assert listed(client, since="2026-03-01", until="2026-03-04") == ["calendar.set_day"]


def test_bad_date_filter_says_so(client_for, regulator_rita):
    response = client_for(regulator_rita).get(reverse("audit_list"), {"since": "2026-13-01"})
    assert response.status_code == 200
    assert "日期“2026-13-01”格式应为 2026-03-01" in response.content.decode()


def test_no_edit_or_delete_urls_exist(client_for, regulator_rita):
    event = three_events()[0]
    client = client_for(regulator_rita)
    for name in ("audit_edit", "audit_delete", "audit_detail", "audit_update"):
        with pytest.raises(NoReverseMatch):
            reverse(name, args=[event.pk])
    for path in (f"/audit/{event.pk}/", f"/audit/{event.pk}/edit/", f"/audit/{event.pk}/delete/"):
        assert client.get(path).status_code == 404
        assert client.post(path).status_code == 404
    page = client.get(reverse("audit_list")).content.decode()
    assert f"/audit/{event.pk}/" not in page
    count = AuditEvent.objects.count()
    client.post(reverse("audit_list"), {"action": "x"})
    assert AuditEvent.objects.count() == count


# --- the admin ------------------------------------------------------------------------------


def test_admin_cannot_change_or_delete_even_for_a_superuser(client_for, superuser):
    """House style / model docstring: nobody edits or deletes the audit trail, superusers
    included."""
    event = three_events()[0]
    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/")
    request.user = superuser
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)

    client = client_for(superuser)  # OTP-verified: the admin wants it (issue 16 item 4)
    changelist = client.get(reverse("admin:portal_auditevent_changelist"))
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    change_url = reverse("admin:portal_auditevent_change", args=[event.pk])
    assert client.get(change_url).status_code == 200  # view-only
    assert client.post(change_url, {"action": "test.changed"}).status_code == 403
    delete_url = reverse("admin:portal_auditevent_delete", args=[event.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:portal_auditevent_add")).status_code == 403
    event.refresh_from_db()
    assert event.action == "test.event1"
