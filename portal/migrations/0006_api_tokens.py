"""API tokens of the portal's own (issue 16 item 6), and what becomes of the old ones.

rest_framework.authtoken kept each key in plain text, issued in the admin without an audit
event, with no expiry. Its tokens are carried over, hashed, with an expiry of
``API_TOKEN_DAYS`` from this migration, so an institution's integration keeps running while
its 管理员 issues a new token on /tokens/. Revoked instead (kept as a record, so the
管理员 sees who had one): tokens of regulator accounts (the token was their way around the
second factor), of users outside every organisation, and of inactive users. Then the
plain-text table is dropped: from here on no key can be read back from the database.
"""

import datetime as dt
import hashlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

OLD_TABLE = "authtoken_token"


def _aware(value):
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return timezone.now()
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    return value


def carry_over_authtoken(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("portal", "ApiToken")
    User = apps.get_model("portal", "User")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, created, user_id FROM {OLD_TABLE}")  # noqa: S608
        rows = cursor.fetchall()
    now = timezone.now()
    expires = now + dt.timedelta(days=settings.API_TOKEN_DAYS)
    users = User.objects.select_related("organisation").in_bulk([row[2] for row in rows])
    for key, created, user_id in rows:
        user = users.get(user_id)
        if user is None:
            continue
        keep = (
            user.is_active
            and user.organisation_id is not None
            and user.organisation.kind != "regulator"
        )
        ApiToken.objects.create(
            user=user,
            name="旧令牌（系统迁移）",
            prefix=key[:8],
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            created_at=min(_aware(created), now),
            created_by=None,
            expires_at=expires,
            revoked_at=None if keep else now,
            revoked_reason="" if keep else "migration",
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {OLD_TABLE}")
        cursor.execute("DELETE FROM django_migrations WHERE app = %s", ["authtoken"])


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0005_audit_hmac"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, verbose_name="用途")),
                ("prefix", models.CharField(max_length=12, verbose_name="令牌开头")),
                ("key_hash", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField(verbose_name="签发时间")),
                ("expires_at", models.DateTimeField(verbose_name="到期时间")),
                (
                    "last_used_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="最近使用"),
                ),
                (
                    "revoked_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="撤销时间"),
                ),
                (
                    "revoked_reason",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("manual", "管理员撤销"),
                            ("password_change", "密码已修改"),
                            ("password_reset", "密码已重置"),
                            ("deactivated", "账号已停用"),
                            ("migration", "迁移时撤销"),
                        ],
                        max_length=24,
                        verbose_name="撤销原因",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="签发人",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="用户",
                    ),
                ),
            ],
            options={
                "verbose_name": "API 令牌",
                "verbose_name_plural": "API 令牌",
                "ordering": ["-created_at", "-id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("expires_at__gt", models.F("created_at"))),
                        name="apitoken_expires_after_issue",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("revoked_at__isnull", True), ("revoked_reason", "")),
                            models.Q(
                                ("revoked_at__isnull", False),
                                models.Q(("revoked_reason", ""), _negated=True),
                            ),
                            _connector="OR",
                        ),
                        name="apitoken_revoked_with_reason",
                    ),
                ],
            },
        ),
        # Irreversible in substance: the plain-text keys are gone; going back leaves the new
        # table to be dropped by the reverse of CreateModel.
        migrations.RunPython(carry_over_authtoken, migrations.RunPython.noop),
    ]
