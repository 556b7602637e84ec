"""``load_demo``: the demo organisations and logins, safe to run again."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from oversight.management.commands.load_demo import DEMO_PASSWORD, DEMO_TOTP_SECRET
from portal.accounts import totp
from portal.accounts.services import totp_device
from portal.models import AuditEvent, Organisation, User

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int]:
    return Organisation.objects.count(), User.objects.count(), AuditEvent.objects.count()


def test_load_demo_twice_is_idempotent(fixed_day):
    from filings.models import SmsFiling

    before = counts()
    call_command("load_demo", "--force", "--json", stdout=StringIO())
    after_first = counts()
    assert after_first[0] == before[0] + 5
    assert after_first[1] == before[1] + 5
    # Every demo write went through a service and its audit event (each app's demo data
    # adds its own: organisations, users, partners, numbers, complaints...).
    assert after_first[2] >= before[2] + 10 + 1 + 2 + 11
    statuses = sorted(SmsFiling.objects.values_list("status", flat=True))
    assert statuses == ["sent", "submitted", "submitted"]
    assert sorted(len(f.checks) for f in SmsFiling.objects.all()) == [0, 0, 2]

    call_command("load_demo", "--force", "--json", stdout=StringIO())
    assert counts() == after_first


def test_demo_logins_work(client):
    call_command("load_demo", "--force", stdout=StringIO())
    for username in ("alice", "bob", "carol", "fiona", "rita"):
        user = User.objects.get(username=username)
        assert user.check_password(DEMO_PASSWORD)
        assert not user.must_change_password
    rita = User.objects.get(username="rita")
    assert rita.is_regulator
    assert rita.totp_enabled
    # django-otp keeps the key as hex; the authenticator's secret is its base32
    assert totp.hex_to_base32(totp_device(rita).key) == DEMO_TOTP_SECRET
    assert User.objects.get(username="alice").organisation.licence_category == "bank"

    response = client.post("/accounts/login/", {"username": "alice", "password": DEMO_PASSWORD})
    assert response["Location"] == "/"


def test_demo_has_both_sides_of_the_quarterly_report(client):
    """Issue 11: carol's carrier has the previous quarter's accepted report (after a
    returned first version) and nothing yet for the current quarter."""
    from django.utils import timezone

    from portal.workdays import quarter_of
    from registry.models import ServiceReport

    call_command("load_demo", "--force", stdout=StringIO())
    carol = User.objects.get(username="carol")
    reports = ServiceReport.objects.filter(carrier=carol.organisation).order_by("version")
    assert [r.status for r in reports] == ["returned", "accepted"]
    assert reports[1].line_count == 6 and reports[1].flagged_count == 1
    year, quarter = quarter_of(timezone.localdate())
    assert not reports.filter(year=year, quarter=quarter).exists()


def test_refuses_without_debug_or_force(settings):
    settings.DEBUG = settings.DEMO = False
    with pytest.raises(CommandError, match="演示数据只用于演示环境"):
        call_command("load_demo", stdout=StringIO())
    assert not User.objects.filter(username="rita").exists()
