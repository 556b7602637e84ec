"""Issue 16 item 1: portal 0007/0008 carry the hand-written TOTP secrets into django-otp
devices and the login attempts into django-axes, and drop the old columns and table."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from portal.accounts import totp
from tests.migrations import latest, migrate

BEFORE = [("portal", "0006_api_tokens")]


@pytest.mark.django_db(transaction=True)
def test_secrets_and_attempts_are_carried_over():
    """Secret -> confirmed TOTPDevice (key = hex of the base32 secret, last_t = last step);
    LoginAttempt history -> axes AccessLog/AccessFailureLog; failures of the last 15
    minutes since the last success -> axes AccessAttempt (the lock in force stays)."""
    old = migrate(BEFORE)
    User = old.get_model("portal", "User")
    LoginAttempt = old.get_model("portal", "LoginAttempt")
    secret = totp.new_secret()
    rita = User.objects.create(
        username="rita", password="!", totp_secret=secret, totp_enabled=True, totp_last_step=123
    )
    User.objects.create(username="alice", password="!")
    now = timezone.now()
    rows = [
        ("alice", True, now - dt.timedelta(days=3)),
        ("alice", False, now - dt.timedelta(days=2)),
        ("rita", False, now - dt.timedelta(minutes=20)),  # outside the window
        ("rita", True, now - dt.timedelta(minutes=12)),
        ("rita", False, now - dt.timedelta(minutes=13)),  # before her last success
        ("rita", False, now - dt.timedelta(minutes=5)),
        ("rita", False, now - dt.timedelta(minutes=4)),
    ]
    for username, succeeded, at in rows:
        row = LoginAttempt.objects.create(username=username, ip="192.0.2.1", succeeded=succeeded)
        LoginAttempt.objects.filter(pk=row.pk).update(at=at)

    new = migrate(latest())
    TOTPDevice = new.get_model("otp_totp", "TOTPDevice")
    device = TOTPDevice.objects.get(user_id=rita.pk)
    assert device.confirmed
    assert device.key == totp.base32_to_hex(secret)
    assert device.last_t == 123
    assert (device.step, device.digits, device.tolerance) == (30, 6, 1)
    assert not TOTPDevice.objects.exclude(user_id=rita.pk).exists()

    AccessLog = new.get_model("axes", "AccessLog")
    AccessFailureLog = new.get_model("axes", "AccessFailureLog")
    AccessAttempt = new.get_model("axes", "AccessAttempt")
    assert AccessLog.objects.count() == 2
    assert AccessFailureLog.objects.count() == 5
    oldest = AccessFailureLog.objects.filter(username="alice").get()
    assert abs(oldest.attempt_time - (now - dt.timedelta(days=2))) < dt.timedelta(seconds=1)
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.failures_since_start) == ("rita", 2)

    user_columns = {
        c.name
        for c in connection.introspection.get_table_description(connection.cursor(), "portal_user")
    }
    assert not user_columns & {"totp_secret", "totp_enabled", "totp_last_step"}
    assert "portal_loginattempt" not in connection.introspection.table_names()

    # and back: the device returns to the user's columns
    old = migrate([("portal", "0006_api_tokens")])
    User = old.get_model("portal", "User")
    back = User.objects.get(pk=rita.pk)
    assert (back.totp_secret, back.totp_enabled, back.totp_last_step) == (secret, True, 123)
    migrate(latest())
