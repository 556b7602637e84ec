"""Fixtures shared by the portal shell's tests, on top of the named users in tests/conftest.py."""

from __future__ import annotations

import hashlib
import importlib
from contextlib import contextmanager

import pytest
from django.db import connection

from tests.conftest import PASSWORD, _user


@pytest.fixture
def operator_rob(org_regulator):
    """A regulator's operator (经办人): may edit the calendar, may not manage organisations."""
    from tests.conftest import with_totp

    return with_totp(_user(org_regulator, "rob", role="operator"))


@pytest.fixture
def superuser(db):
    from portal.models import User
    from tests.conftest import with_totp

    user = User.objects.create_superuser("root", "root@example.invalid", PASSWORD)
    User.objects.filter(pk=user.pk).update(must_change_password=False)
    user.refresh_from_db()
    return with_totp(user)  # superusers need the second factor (issue 16 item 3)


@contextmanager
def _audit_triggers_off():
    """Switch off the insert-only triggers, as an attacker with database access would.

    SQLite: drop them (tests/conftest.py puts them back before the next test; the test's
    transaction also rolls the DROP back). PostgreSQL: disable the trigger for the table;
    ALTER TABLE refuses while deferred foreign-key checks of new audit rows are pending, so
    those are run first.
    """
    migration = importlib.import_module("portal.migrations.0002_audit_insert_only")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER audit_insert_only")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE portal_auditevent ENABLE TRIGGER audit_insert_only")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            else:
                for sql in migration.SQLITE:
                    cursor.execute(sql)


class AuditTamper:
    """Edits and deletes audit rows behind the application's back (raw SQL, triggers off)."""

    def set_summary(self, pk: int, summary_json: str) -> None:
        with _audit_triggers_off(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE portal_auditevent SET summary = %s WHERE id = %s", [summary_json, pk]
            )

    def delete(self, pk: int) -> None:
        with _audit_triggers_off(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM portal_auditevent WHERE id = %s", [pk])

    def delete_newest(self, count: int | None = None) -> None:
        """Cut the trail's tail: the newest ``count`` rows, or every row (``None``)."""
        from portal.models import AuditEvent

        ids = list(AuditEvent.objects.order_by("-id").values_list("id", flat=True))
        doomed = ids if count is None else ids[:count]
        with _audit_triggers_off(), connection.cursor() as cursor:
            for pk in doomed:
                cursor.execute("DELETE FROM portal_auditevent WHERE id = %s", [pk])

    def rehash_from(self, pk: int, *, downgrade: bool = False, only_legacy: bool = False) -> None:
        """Recompute every hash from event ``pk`` on, with plain SHA-256 as the old
        ``compute_hash`` did: what anyone with the code but without the key can do.
        ``downgrade`` also marks the rows as unkeyed legacy rows; ``only_legacy`` stops at
        the first keyed row (whose MAC the attacker cannot make)."""
        from portal import audit
        from portal.models import AuditEvent

        previous = (
            AuditEvent.objects.filter(id__lt=pk).order_by("-id").values_list("hash", flat=True)
        ).first() or audit.GENESIS
        with _audit_triggers_off(), connection.cursor() as cursor:
            for event in AuditEvent.objects.filter(id__gte=pk).order_by("id"):
                if only_legacy and event.hash_scheme != audit.LEGACY_SCHEME:
                    break
                if downgrade:
                    event.hash_scheme, event.key_id = audit.LEGACY_SCHEME, ""
                event.prev_hash = previous
                event.hash = hashlib.sha256(audit._canonical(event)).hexdigest()
                cursor.execute(
                    "UPDATE portal_auditevent SET prev_hash = %s, hash = %s, hash_scheme = %s,"
                    " key_id = %s WHERE id = %s",
                    [event.prev_hash, event.hash, event.hash_scheme, event.key_id, event.pk],
                )
                previous = event.hash


@pytest.fixture
def audit_tamper(db) -> AuditTamper:
    return AuditTamper()
