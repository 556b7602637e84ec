"""The Django admin writes nothing around the audit trail (issue 10 §1): every model is
read-only there (organisations, users, passwords, groups, tokens, the calendar, lockouts),
and the one write it keeps, lifting a lockout early, is an audited service."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from portal.models import AuditEvent, CalendarYear, Organisation, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client_for, superuser):
    return client_for(superuser)


def test_organisations_users_and_the_calendar_cannot_be_changed(root, inst_alice):
    org = inst_alice.organisation
    year = CalendarYear.objects.first()
    for path in (
        "/admin/portal/organisation/add/",
        "/admin/portal/user/add/",
        f"/admin/portal/user/{inst_alice.pk}/password/",
        f"/admin/portal/organisation/{org.pk}/delete/",
        f"/admin/portal/calendaryear/{year.pk}/delete/",
    ):
        assert root.get(path).status_code == 403, path
    # A detail page is a view, and posting to it changes nothing.
    assert root.get(f"/admin/portal/organisation/{org.pk}/change/").status_code == 200
    response = root.post(f"/admin/portal/user/{inst_alice.pk}/change/", {"role": "viewer"})
    assert response.status_code == 403
    assert User.objects.get(pk=inst_alice.pk).role == "admin"
    assert Organisation.objects.get(pk=org.pk).name == org.name


def test_groups_and_devices_are_not_in_the_admin(root):
    assert root.get("/admin/auth/group/").status_code == 404
    assert root.get("/admin/otp_totp/totpdevice/").status_code == 404


def test_lifting_a_lockout_is_audited(root, superuser):
    attempt = AccessAttempt.objects.create(
        username="alice",
        ip_address="192.0.2.7",
        user_agent="x",
        failures_since_start=5,
        attempt_time=timezone.now(),
        get_data="",
        post_data="",
        http_accept="",
        path_info="/accounts/login/",
    )
    response = root.post(
        "/admin/axes/accessattempt/",
        {"action": "release", "_selected_action": [attempt.pk]},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    event = AuditEvent.objects.get(action="auth.unlock")
    assert (event.actor, event.object_repr) == (superuser, "alice")
    assert event.summary == {"address": "192.0.2.7", "failures": 5}


def test_lockouts_cannot_be_deleted_around_the_service(root):
    assert root.get("/admin/axes/accessattempt/1/delete/").status_code in (403, 404)
