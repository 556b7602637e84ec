"""The database itself refuses UPDATE and DELETE on the audit trail (insert-only)."""

from django.db import migrations

SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON portal_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are insert-only'); END;""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON portal_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are insert-only'); END;""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_no_update;",
    "DROP TRIGGER IF EXISTS audit_no_delete;",
]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION portal_audit_insert_only() RETURNS trigger AS $$
       BEGIN
         IF current_setting('portal.audit_purge', true) = 'on' AND TG_OP = 'DELETE' THEN
           RETURN OLD;
         END IF;
         RAISE EXCEPTION 'audit events are insert-only';
       END; $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER audit_insert_only BEFORE UPDATE OR DELETE ON portal_auditevent
       FOR EACH ROW EXECUTE FUNCTION portal_audit_insert_only();""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_insert_only ON portal_auditevent;",
    "DROP FUNCTION IF EXISTS portal_audit_insert_only();",
]


def forwards(apps, schema_editor):
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    statements = (
        POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    )
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
