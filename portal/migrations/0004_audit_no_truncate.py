"""PostgreSQL row triggers do not see TRUNCATE, which would empty the audit trail in one
statement (and an empty trail verifies). A statement trigger refuses it too. SQLite has no
TRUNCATE (its DELETE is refused by 0002)."""

from django.db import migrations

CREATE = """CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON portal_auditevent
   FOR EACH STATEMENT EXECUTE FUNCTION portal_audit_insert_only();"""
DROP = "DROP TRIGGER IF EXISTS audit_no_truncate ON portal_auditevent;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("portal", "0003_audit_no_purge_switch")]

    operations = [migrations.RunPython(forwards, backwards)]
