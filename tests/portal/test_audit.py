"""The audit trail: insert-only, hash-chained, regulator-only (domain.md, "Personal info:
... access control and audit"; 000 §二(一)5; 001 第十九–二十一条; house style: every change
of regulatory state writes its AuditEvent inside the service's transaction)."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from portal import audit
from portal.logs import JsonFormatter
from portal.models import AuditEvent
from portal.services import workday_set
from portal.workdays import SHANGHAI

pytestmark = pytest.mark.django_db
DEV_KEY = "dev-only-insecure-audit-key-do-not-use-in-production-0123456789"


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
    trigger is what stops it; the signed checkpoints below are the external anchor that
    catches it.)"""
    *_, third = three_events()
    audit_tamper.delete(third.pk)
    assert audit.verify_chain(checkpoints=[]).ok


# --- the keyed chain and its checkpoints (issue 16 item 7) -----------------------------------


def test_recomputing_every_hash_with_plain_sha256_is_detected(audit_tamper):
    """Issue 16 item 7, repro: with the triggers dropped, anyone who can write the database
    edited a row and recomputed every hash from it on with ``hashlib.sha256`` (the old
    ``compute_hash`` needed no secret), and the chain verified. The chain is an HMAC now,
    keyed with ``AUDIT_HMAC_KEY`` from the environment: without the key the hashes do not
    verify."""
    first, second, third = three_events()
    audit_tamper.set_summary(second.pk, json.dumps({"n": 200}))
    audit_tamper.rehash_from(second.pk)
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_id == second.pk
    assert report.reason == "记录内容与哈希不一致（记录被修改）"


def test_recomputing_every_hash_as_unkeyed_legacy_rows_is_detected(audit_tamper):
    """Issue 16 item 7: the attacker also marks the rewritten rows as legacy (unkeyed)
    SHA-256 rows. A keyed chain never turns unkeyed again, and its newest event is always
    keyed, so this is found too: here at the first downgraded row."""
    first, second, third = three_events()
    audit_tamper.set_summary(second.pk, json.dumps({"n": 200}))
    audit_tamper.rehash_from(second.pk, downgrade=True)
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_id == second.pk
    assert "未加密钥" in report.reason


def test_rewriting_the_whole_trail_as_legacy_rows_is_detected(audit_tamper):
    """Issue 16 item 7: every row rewritten as an unkeyed SHA-256 row, from the first: no
    downgrade to see, but the newest event of the trail is not keyed (every event this
    release writes is)."""
    three_events()
    first = AuditEvent.objects.order_by("id").first()
    audit_tamper.rehash_from(first.pk, downgrade=True)
    report = audit.verify_chain(checkpoints=[])
    assert not report.ok
    assert "最新一条记录未加密钥" in report.reason


def test_events_are_keyed_with_the_current_key(settings):
    """Issue 16 item 7: each event names its scheme and key (the key itself stays in the
    environment), and its hash is an HMAC, not a plain SHA-256."""
    event = three_events()[0]
    assert event.hash_scheme == audit.HMAC_SCHEME
    assert event.key_id == settings.AUDIT_HMAC_KEY_ID
    assert event.hash != hashlib.sha256(audit._canonical(event)).hexdigest()
    assert settings.AUDIT_HMAC_KEYS[event.key_id] not in json.dumps(
        list(AuditEvent.objects.values()), default=str
    )


def test_events_under_a_rotated_key_still_verify(settings):
    """README "Audit trail": rotation keeps the old key for verification
    (``AUDIT_HMAC_OLD_KEYS``); new events are keyed with the new one."""
    old = three_events()[0]
    settings.AUDIT_HMAC_KEYS = {**settings.AUDIT_HMAC_KEYS, "k2": "second-key-" + "x" * 40}
    settings.AUDIT_HMAC_KEY_ID = "k2"
    new = three_events()[0]
    assert (old.key_id, new.key_id) == ("dev", "k2")
    assert audit.verify_chain().ok

    settings.AUDIT_HMAC_KEYS = {"k2": settings.AUDIT_HMAC_KEYS["k2"]}
    report = audit.verify_chain()
    assert not report.ok
    assert "密钥“dev”未配置" in report.reason


def test_an_event_under_a_retired_key_after_a_newer_one_is_reported(settings, audit_tamper):
    """A retired key may sign only events older than the first event of its successor: a
    leaked old key cannot add events to the end of the trail."""
    old_key = settings.AUDIT_HMAC_KEYS["dev"]
    settings.AUDIT_HMAC_KEYS = {"dev": old_key, "k2": "second-key-" + "x" * 40}
    settings.AUDIT_HMAC_KEY_ID = "k2"
    three_events()
    settings.AUDIT_HMAC_KEY_ID = "dev"  # someone holding only the old key appends one
    forged = three_events()[0]
    settings.AUDIT_HMAC_KEY_ID = "k2"
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_id == forged.pk
    assert "已被更新的密钥取代" in report.reason


def legacy_trail(audit_tamper, count: int = 3) -> list[AuditEvent]:
    """A trail as an older release left it: unkeyed SHA-256 rows from the genesis."""
    audit_tamper.delete_newest()
    with transaction.atomic():
        events = [audit.record(f"test.legacy{n}", summary={"n": n}) for n in range(count)]
    audit_tamper.rehash_from(events[0].pk, downgrade=True)
    return list(AuditEvent.objects.order_by("id"))


def test_legacy_sha256_rows_verify_as_before_under_the_first_keyed_event(audit_tamper):
    """Issue 16 item 7: history is never rewritten. Rows an older release hashed with plain
    SHA-256 verify as before; the first keyed event MACs the legacy head (its ``prev_hash``
    is inside the HMAC), so the legacy part is under the key too."""
    legacy = legacy_trail(audit_tamper)
    assert {e.hash_scheme for e in legacy} == {audit.LEGACY_SCHEME}
    assert legacy[1].hash == hashlib.sha256(audit._canonical(legacy[1])).hexdigest()
    with transaction.atomic():
        keyed = audit.record("test.keyed")
    assert keyed.prev_hash == legacy[-1].hash
    assert audit.verify_chain().ok

    # Edit a legacy row and recompute the legacy part: the first keyed event no longer
    # links, and its MAC cannot be recomputed without the key.
    audit_tamper.set_summary(legacy[1].pk, json.dumps({"n": 100}))
    audit_tamper.rehash_from(legacy[1].pk, only_legacy=True)
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_id == keyed.pk


def test_the_migration_seals_a_legacy_trail_with_a_keyed_event(audit_tamper):
    """Migration 0005: a database whose trail an older release wrote gets one keyed event
    (``audit.keyed``) at once, so the legacy head is MACed before anyone can touch it; an
    empty trail (a new installation) gets none."""
    from django.apps import apps

    migration = importlib.import_module("portal.migrations.0005_audit_hmac")
    legacy = legacy_trail(audit_tamper)
    assert not audit.verify_chain(checkpoints=[]).ok  # newest event unkeyed
    migration.seal_legacy_trail(apps, None)
    seal = AuditEvent.objects.order_by("-id").first()
    assert seal.action == "audit.keyed"
    assert seal.prev_hash == legacy[-1].hash
    assert seal.summary == {"legacy_events": 3, "legacy_head": legacy[-1].hash}
    assert audit.verify_chain(checkpoints=[]).ok

    audit_tamper.delete_newest()
    migration.seal_legacy_trail(apps, None)
    assert not AuditEvent.objects.exists()


def test_migrating_a_sqlite_database_keeps_its_insert_only_triggers(tmp_path):
    """Migration 0005 rebuilds the SQLite table (a NOT NULL column), which drops its
    triggers; it creates them again. (The test database cannot show it: tests/conftest.py
    recreates the triggers before every test.)"""
    database = tmp_path / "migrated.sqlite3"
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["DATABASE_URL"] = f"sqlite:///{database}"
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "migrate", "-v0", "portal"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(database)
    try:
        triggers = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
    finally:
        db.close()
    assert {"audit_no_update", "audit_no_delete"} <= triggers


def test_a_checkpoint_is_signed_count_and_head(settings):
    """Issue 16 item 7: a checkpoint is the trail's length and newest hash, signed with the
    key (as a Certificate Transparency log signs its tree heads)."""
    *_, third = three_events()
    checkpoint = audit.write_checkpoint(reason="manual")
    assert checkpoint["count"] == AuditEvent.objects.count()
    assert (checkpoint["head_id"], checkpoint["head"]) == (third.pk, third.hash)
    assert checkpoint["key"] == settings.AUDIT_HMAC_KEY_ID
    assert re.fullmatch(r"[0-9a-f]{64}", checkpoint["mac"])
    assert audit.checkpoint_problem(checkpoint) is None
    lines = settings.AUDIT_CHECKPOINT_FILE.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [checkpoint]
    assert audit.read_checkpoints() == [checkpoint]


def test_deleting_the_newest_50_rows_is_shorter_than_the_checkpoint(audit_tamper):
    """Issue 16 item 7, repro: deleting the newest 50 rows still verified "OK". The trail
    is now shorter than its last checkpoint, and that is reported."""
    with transaction.atomic():
        for n in range(60):
            audit.record("test.many", summary={"n": n})
    checkpoint = audit.write_checkpoint()
    audit_tamper.delete_newest(50)
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_id is None
    assert report.checked == checkpoint["count"] - 50
    assert report.reason == (
        f"审计日志只有 {checkpoint['count'] - 50} 条，少于 {checkpoint['created_at']} 的检查点"
        f"记录的 {checkpoint['count']} 条（记录被删除）"
    )


def test_deleting_every_row_is_shorter_than_the_checkpoint(audit_tamper):
    """Issue 16 item 7, repro: deleting every row still verified "OK" (an empty trail)."""
    three_events()
    checkpoint = audit.write_checkpoint()
    audit_tamper.delete_newest()
    report = audit.verify_chain()
    assert not report.ok
    assert report.checked == 0
    assert f"少于 {checkpoint['created_at']} 的检查点记录的 {checkpoint['count']} 条" in (
        report.reason
    )


def test_a_checkpoint_head_that_is_no_longer_in_the_chain_is_reported(audit_tamper):
    """Issue 16 item 7: the newest rows replaced by as many new ones (the trail is as long
    as the checkpoint says, the chain links): the checkpoint's head is not in the chain."""
    three_events()
    checkpoint = audit.write_checkpoint()
    audit_tamper.delete_newest(2)
    three_events()
    report = audit.verify_chain()
    assert not report.ok
    assert report.reason == (
        f"{checkpoint['created_at']} 的检查点记录的第 {checkpoint['count']} 条的哈希不在"
        "链中（记录被改写）"
    )


@pytest.mark.parametrize("field", ["count", "head", "created_at", "key", "mac"])
def test_a_forged_checkpoint_is_reported(settings, field):
    """Issue 16 item 7: a checkpoint is signed, so one written or altered without the key
    is found (and never accepted as the trail's length)."""
    three_events()
    checkpoint = audit.write_checkpoint()
    forged = dict(checkpoint)
    forged[field] = {
        "count": checkpoint["count"] - 1,
        "head": "f" * 64,
        "created_at": "2030-01-01T00:00:00Z",
        "key": "other",
        "mac": "0" * 64,
    }[field]
    report = audit.verify_chain(checkpoints=[forged])
    assert not report.ok
    assert "检查点" in report.reason
    assert ("签名不符" in report.reason) or ("密钥“other”未配置" in report.reason)


def test_a_checkpoint_signed_with_another_key_is_reported(settings):
    three_events()
    settings.AUDIT_HMAC_KEYS = {**settings.AUDIT_HMAC_KEYS, "dev": "not-the-real-key-" + "y" * 40}
    forged = audit.write_checkpoint()
    settings.AUDIT_HMAC_KEYS = {**settings.AUDIT_HMAC_KEYS, "dev": DEV_KEY}
    assert audit.read_checkpoints() == [forged]
    report = audit.verify_chain()
    assert not report.ok
    assert "签名不符" in report.reason


def test_checkpoints_from_the_file_are_all_checked(audit_tamper, settings):
    """verify_audit reads the checkpoint file (``AUDIT_CHECKPOINT_FILE``): an older
    checkpoint still catches a tail cut before a newer one was written."""
    with transaction.atomic():
        for n in range(5):
            audit.record("test.many", summary={"n": n})
    older = audit.write_checkpoint()
    audit_tamper.delete_newest(3)
    newer = audit.write_checkpoint()
    assert newer["count"] == older["count"] - 3
    report = audit.verify_chain()
    assert not report.ok
    assert f"少于 {older['created_at']} 的检查点" in report.reason


def test_a_damaged_checkpoint_file_line_is_reported(settings):
    three_events()
    audit.write_checkpoint()
    with open(settings.AUDIT_CHECKPOINT_FILE, "a") as fh:
        fh.write("{not json\n")
    report = audit.verify_chain()
    assert not report.ok
    assert "第 2 行" in report.reason


def test_a_checkpoint_is_logged_as_one_json_line(caplog):
    """Issue 16 item 7: every checkpoint goes to the log (logger
    ``portal.audit.checkpoint``), which leaves the machine with the rest of the JSON log;
    the message is the checkpoint itself, ready for ``verify_audit --checkpoint``."""
    three_events()
    with caplog.at_level(logging.INFO, logger="portal.audit.checkpoint"):
        checkpoint = audit.write_checkpoint()
    (entry,) = [r for r in caplog.records if r.name == "portal.audit.checkpoint"]
    line = json.loads(JsonFormatter().format(entry))
    assert line["logger"] == "portal.audit.checkpoint"
    assert line["level"] == "INFO"
    assert json.loads(line["message"]) == checkpoint


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
    for name in ("audit_edit", "audit_delete", "audit_update"):
        with pytest.raises(NoReverseMatch):
            reverse(name, args=[event.pk])
    for path in (f"/audit/{event.pk}/edit/", f"/audit/{event.pk}/delete/"):
        assert client.get(path).status_code == 404
        assert client.post(path).status_code == 404
    # The event's own page (issue 10 §7: the raw JSON) only reads.
    detail = reverse("audit_detail", args=[event.pk])
    assert client.get(detail).status_code == 200
    assert client.post(detail).status_code == 405
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
