"""The audit chain is keyed (issue 16 item 7): each event names its hash scheme and key.

History is not rewritten (the table is insert-only): the existing rows are marked
``sha256`` (their unkeyed hashes verify as before), and a trail that already has events is
sealed at once by one keyed event, ``audit.keyed``, whose HMAC covers the legacy head (its
``prev_hash``): from here on no one without the key can rewrite the legacy part unseen.

SQLite rebuilds the table to add a NOT NULL column, and the rebuild drops its triggers:
they are created again (0002's statements). PostgreSQL adds the columns in place (a
constant default is metadata only: no row is updated, so the triggers stay quiet).
"""

import importlib

from django.db import migrations, models
from django.utils import timezone


def recreate_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        insert_only = importlib.import_module("portal.migrations.0002_audit_insert_only")
        for sql in insert_only.SQLITE:
            schema_editor.execute(sql)


def seal_legacy_trail(apps, schema_editor):
    from portal import audit

    AuditEvent = apps.get_model("portal", "AuditEvent")
    newest = AuditEvent.objects.order_by("-id").first()
    if newest is None or newest.hash_scheme != audit.LEGACY_SCHEME:
        return
    from django.conf import settings

    event = AuditEvent(
        created_at=timezone.now(),
        actor=None,
        actor_label=audit.SYSTEM_ACTOR,
        organisation=None,
        action="audit.keyed",
        object_type="",
        object_id="",
        object_repr="",
        summary={"legacy_events": AuditEvent.objects.count(), "legacy_head": newest.hash},
        ip=None,
        prev_hash=newest.hash,
        hash_scheme=audit.HMAC_SCHEME,
        key_id=settings.AUDIT_HMAC_KEY_ID,
    )
    event.hash = audit.compute_hash(event)
    event.save()


class Migration(migrations.Migration):
    dependencies = [("portal", "0004_audit_no_truncate")]

    operations = [
        # Unapplying rebuilds the SQLite table again: its triggers come back last.
        migrations.RunPython(migrations.RunPython.noop, recreate_sqlite_triggers),
        migrations.AddField(
            model_name="auditevent",
            name="hash_scheme",
            field=models.CharField(
                choices=[
                    ("sha256", "SHA-256（早期记录，未加密钥）"),
                    ("hmac-sha256", "HMAC-SHA256"),
                ],
                default="sha256",
                max_length=16,
                verbose_name="哈希算法",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16, verbose_name="密钥编号"),
            preserve_default=False,
        ),
        migrations.RunPython(recreate_sqlite_triggers, recreate_sqlite_triggers),
        migrations.RunPython(seal_legacy_trail, migrations.RunPython.noop),
    ]
