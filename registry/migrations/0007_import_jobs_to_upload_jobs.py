"""Issue 9 item 2: the register's import jobs become the engine's upload jobs.

Every ImportJob row is copied into portal.UploadJob under the same id (so the links
/registry/imports/<id>/ and RegisteredNumber.source_job keep pointing at the same job, and
the audit events naming registry.ImportJob #<id> still name it; the audit table is not
touched), with form "registry.numbers" and options {"mode": ...}; then the old table goes.
"""

import django.db.models.deletion
from django.db import migrations, models

FORM = "registry.numbers"
COPIED = (
    "id",
    "created_by_id",
    "file",
    "original_name",
    "size",
    "sha256",
    "status",
    "rows_total",
    "rows_done",
    "created",
    "updated",
    "unchanged",
    "ended",
    "error_count",
    "error_report",
    "message",
    "warnings",
    "attempts",
    "lost_attempts",
    "heartbeat_at",
    "created_at",
    "started_at",
    "finished_at",
    "purged_at",
)


def _reset_sequence(schema_editor, table: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - a model's table
            f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
        )


def to_upload_jobs(apps, schema_editor):
    ImportJob = apps.get_model("registry", "ImportJob")
    UploadJob = apps.get_model("portal", "UploadJob")
    batch = []
    for job in ImportJob.objects.order_by("pk").iterator(chunk_size=2000):
        values = {name: getattr(job, name) for name in COPIED}
        batch.append(
            UploadJob(
                organisation_id=job.institution_id,
                form=FORM,
                options={"mode": job.mode},
                counts={},
                **values,
            )
        )
        if len(batch) >= 2000:
            UploadJob.objects.bulk_create(batch)
            batch = []
    UploadJob.objects.bulk_create(batch)
    _reset_sequence(schema_editor, UploadJob._meta.db_table)


def to_import_jobs(apps, schema_editor):
    ImportJob = apps.get_model("registry", "ImportJob")
    UploadJob = apps.get_model("portal", "UploadJob")
    jobs = UploadJob.objects.filter(form=FORM).order_by("pk")
    ImportJob.objects.bulk_create(
        ImportJob(
            institution_id=job.organisation_id,
            mode=(job.options or {}).get("mode", "merge"),
            **{name: getattr(job, name) for name in COPIED},
        )
        for job in jobs.iterator(chunk_size=2000)
    )
    jobs.delete()
    _reset_sequence(schema_editor, ImportJob._meta.db_table)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0009_uploadjob"),
        ("registry", "0006_import_attempt_cap"),
    ]

    operations = [
        migrations.RunPython(to_upload_jobs, to_import_jobs),
        migrations.AlterField(
            model_name="registerednumber",
            name="source_job",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="portal.uploadjob",
                verbose_name="来源导入",
            ),
        ),
        migrations.DeleteModel(
            name="ImportJob",
        ),
    ]
