"""Issue 16 item 1: TOTP moves to django-otp, lockout to django-axes; password history.

Data carried over (the old columns and table go in 0006, a migration of their own: on
PostgreSQL a table with rows just written under deferred foreign keys cannot be altered in
the same transaction):

- every enabled secret becomes a confirmed ``otp_totp.TOTPDevice`` of its user: ``key`` is
  the hex of the base32 secret, ``last_t`` the last used time step (a code already used
  stays used), 30 s steps, 6 digits, one step of drift either way (as before);
- every ``LoginAttempt`` row is kept in axes' logs: a success as an ``AccessLog``, a
  failure as an ``AccessFailureLog`` (same username, address and time; the user agent says
  where it came from), so the history shows in the admin under 访问日志 / 访问失败;
- the lockout in force: each username's failures in the last 15 minutes since its last
  success become axes ``AccessAttempt`` rows, so an account locked before the upgrade stays
  locked for the rest of its 15 minutes.

Backwards: devices go back into the user's columns; the attempt history stays in axes (the
old table comes back empty).
"""

import base64
import binascii
import datetime as dt

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

MIGRATED_AGENT = "（迁移自 portal.LoginAttempt）"
BATCH = 1000


def _hex(secret: str) -> str:
    cleaned = "".join(secret.split()).upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8)).hex()


def secrets_to_devices(apps, schema_editor):
    User = apps.get_model("portal", "User")
    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    for user in User.objects.filter(totp_enabled=True).exclude(totp_secret="").iterator():
        TOTPDevice.objects.create(
            user_id=user.pk,
            name="验证器",
            key=_hex(user.totp_secret),
            step=30,
            t0=0,
            digits=6,
            tolerance=1,
            drift=0,
            last_t=user.totp_last_step or -1,
            confirmed=True,
        )


def devices_to_secrets(apps, schema_editor):
    User = apps.get_model("portal", "User")
    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    for device in TOTPDevice.objects.filter(confirmed=True).order_by("pk").iterator():
        secret = base64.b32encode(binascii.unhexlify(device.key)).decode().rstrip("=")
        User.objects.filter(pk=device.user_id).update(
            totp_secret=secret[:64], totp_enabled=True, totp_last_step=max(device.last_t, 0)
        )
    TOTPDevice.objects.all().delete()


def _keep_times(*models_):
    """axes' ``attempt_time`` is ``auto_now_add``: these rows keep their own time."""
    for model in models_:
        model._meta.get_field("attempt_time").auto_now_add = False


def attempts_to_axes(apps, schema_editor):
    LoginAttempt = apps.get_model("portal", "LoginAttempt")
    AccessLog = apps.get_model("axes", "AccessLog")
    AccessFailureLog = apps.get_model("axes", "AccessFailureLog")
    AccessAttempt = apps.get_model("axes", "AccessAttempt")
    _keep_times(AccessLog, AccessFailureLog, AccessAttempt)

    common = {"user_agent": MIGRATED_AGENT, "http_accept": "", "path_info": "/accounts/login/"}
    successes, failures = [], []
    for row in LoginAttempt.objects.order_by("pk").iterator(chunk_size=BATCH):
        fields = {"username": row.username, "ip_address": row.ip, "attempt_time": row.at}
        if row.succeeded:
            successes.append(AccessLog(**fields, **common))
        else:
            failures.append(AccessFailureLog(**fields, **common, locked_out=False))
        if len(successes) >= BATCH:
            AccessLog.objects.bulk_create(successes)
            successes = []
        if len(failures) >= BATCH:
            AccessFailureLog.objects.bulk_create(failures)
            failures = []
    AccessLog.objects.bulk_create(successes)
    AccessFailureLog.objects.bulk_create(failures)

    since = timezone.now() - dt.timedelta(
        seconds=getattr(settings, "LOGIN_LOCKOUT_WINDOW_SECONDS", 900)
    )
    recent = LoginAttempt.objects.filter(at__gte=since).order_by("at")
    last_success: dict[str, dt.datetime] = {}
    for row in recent.filter(succeeded=True):
        last_success[row.username.strip().lower()] = row.at
    counts: dict[tuple[str, str | None], list] = {}
    for row in recent.filter(succeeded=False):
        name = row.username.strip().lower()
        if name in last_success and row.at <= last_success[name]:
            continue
        entry = counts.setdefault((name, row.ip), [0, row.at])
        entry[0] += 1
        entry[1] = max(entry[1], row.at)
    AccessAttempt.objects.bulk_create(
        AccessAttempt(
            username=name,
            ip_address=ip,
            get_data="",
            post_data="",
            failures_since_start=n,
            attempt_time=at,
            **common,
        )
        for (name, ip), (n, at) in counts.items()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0006_api_tokens"),
        ("otp_totp", "0003_add_timestamps"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [
        migrations.CreateModel(
            name="PasswordHistory",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("password", models.CharField(max_length=128, verbose_name="密码哈希")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="设置时间")),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="password_history",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "历史密码",
                "verbose_name_plural": "历史密码",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["user", "-created_at"], name="portal_pass_user_id_a3e76b_idx"
                    )
                ],
            },
        ),
        migrations.AlterField(
            model_name="user",
            name="username",
            field=models.CharField(
                error_messages={"unique": "该用户名不可用，请换一个"},
                help_text="150 个字符以内，只能包含英文字母、数字和 . _ - 符号。",
                max_length=150,
                unique=True,
                validators=[
                    django.core.validators.RegexValidator(
                        "^[A-Za-z0-9._-]+\\Z",
                        code="username_invalid",
                        message="用户名只能包含英文字母、数字和 . _ - 符号",
                    )
                ],
                verbose_name="用户名",
            ),
        ),
        migrations.RunPython(secrets_to_devices, devices_to_secrets),
        migrations.RunPython(attempts_to_axes, migrations.RunPython.noop),
    ]
