"""The hand-written TOTP columns and the LoginAttempt table, carried over by 0005."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("portal", "0007_otp_axes")]

    operations = [
        migrations.DeleteModel(name="LoginAttempt"),
        migrations.RemoveField(model_name="user", name="totp_enabled"),
        migrations.RemoveField(model_name="user", name="totp_last_step"),
        migrations.RemoveField(model_name="user", name="totp_secret"),
    ]
