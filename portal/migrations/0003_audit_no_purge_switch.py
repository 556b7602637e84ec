"""The audit trail's PostgreSQL trigger loses its purge switch: 0002 let a DELETE through
when a session set ``portal.audit_purge = 'on'``, which any database session could do and
nothing uses (audit events are never purged: retention is a minimum, and the hash chain
must stay verifiable from its first event)."""

from django.db import migrations

NO_SWITCH = """CREATE OR REPLACE FUNCTION portal_audit_insert_only() RETURNS trigger AS $$
   BEGIN
     RAISE EXCEPTION 'audit events are insert-only';
   END; $$ LANGUAGE plpgsql;"""

WITH_SWITCH = """CREATE OR REPLACE FUNCTION portal_audit_insert_only() RETURNS trigger AS $$
   BEGIN
     IF current_setting('portal.audit_purge', true) = 'on' AND TG_OP = 'DELETE' THEN
       RETURN OLD;
     END IF;
     RAISE EXCEPTION 'audit events are insert-only';
   END; $$ LANGUAGE plpgsql;"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NO_SWITCH)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(WITH_SWITCH)


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_audit_insert_only")]

    operations = [migrations.RunPython(forwards, backwards)]
