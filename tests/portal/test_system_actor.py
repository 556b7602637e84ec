"""An explicit system actor (issue 10 §2): ``actor=None`` used to mean "the system" and
skipped every permission check, so a forgotten argument acted as root. Now the system is
``portal.audit.SYSTEM``, audited as 系统, and ``None`` is refused."""

from __future__ import annotations

import pytest

from portal import audit
from portal import services as calendar_services
from portal.accounts import services as accounts
from portal.models import AuditEvent
from registry import services as registry_services
from tests.conftest import CODES

pytestmark = pytest.mark.django_db


def test_none_is_no_actor(inst_alice, regulator_rita):
    import datetime as dt

    calls = [
        lambda: accounts.organisation_create(
            actor=None, kind="carrier", name="x", credit_code=CODES["carrier"]
        ),
        lambda: accounts.user_reset_password(actor=None, user=inst_alice),
        lambda: accounts.user_update(actor=None, user=inst_alice, role="viewer"),
        lambda: registry_services.number_register(
            actor=None, institution=inst_alice.organisation, fields={"号码": "13800138000"}
        ),
        lambda: calendar_services.workday_set(
            actor=None, day=dt.date(2026, 3, 2), is_workday=False
        ),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="audit.SYSTEM"):
            call()
    inst_alice.refresh_from_db()
    assert inst_alice.role == "admin"


def test_the_system_acts_and_is_audited_as_such(db):
    org, created = accounts.organisation_create(
        actor=audit.SYSTEM, kind="carrier", name="某广电公司", credit_code="91330000MA2GD0001L"
    )
    assert created
    event = AuditEvent.objects.get(action="organisation.create", object_id=str(org.pk))
    assert (event.actor, event.actor_label) == (None, "系统")
