"""Fixtures shared by the portal shell's tests, on top of the named users in tests/conftest.py."""

from __future__ import annotations

import importlib
from contextlib import contextmanager

import pytest
from django.db import connection

from tests.conftest import PASSWORD, _user


@pytest.fixture
def viewer_viola(org_alice):
    """A viewer (查看) in alice's institution: sees her organisation, manages nobody."""
    return _user(org_alice, "viola", role="viewer")


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


@pytest.fixture
def audit_tamper(db) -> AuditTamper:
    return AuditTamper()
