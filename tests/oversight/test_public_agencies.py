"""Agency disclosure (issue 15 §3; 001 第十三条): institutions publish the collection and
marketing agencies they entrust, with a contact they choose and the entrustment period;
searchable; only valid entrustments."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from portal.errors import NotPermitted, PortalError
from portal.models import AuditEvent
from registry import services as registry

SHANGHAI = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.usefixtures("public")


@pytest.fixture(autouse=True)
def _today(time_machine, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    time_machine.move_to(dt.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI))


def partner(user, name, code, *, kind="collection", start=dt.date(2026, 1, 1), end=None):
    row, _ = registry.partner_save(
        actor=user,
        institution=user.organisation,
        name=name,
        credit_code=code,
        kind=kind,
        valid_from=start,
        valid_to=end,
        contact="王经理 13800000000",
    )
    return row


@pytest.fixture
def agencies(inst_alice, inst_bob):
    valid = partner(inst_alice, "某催收公司", "91330100MA2PART01W")
    partner(inst_alice, "过期催收公司", "91330100MA2PART020", end=dt.date(2026, 3, 1))
    partner(
        inst_alice,
        "未来营销公司",
        "91330100MA2PART033",
        kind="marketing",
        start=dt.date(2026, 4, 1),
    )
    bobs = partner(inst_bob, "乙的营销公司", "91330100MA2PART046", kind="marketing")
    return valid, bobs


def test_lists_only_valid_entrustments_by_institution(client, agencies, inst_alice):
    valid, bobs = agencies
    registry.partner_set_public_contact(actor=inst_alice, partner=valid, contact="0571-8888 1234")
    text = client.get(reverse("public_agencies")).content.decode()
    assert "某催收公司" in text and "乙的营销公司" in text
    assert "过期催收公司" not in text and "未来营销公司" not in text
    assert "057188881234" in text
    assert "王经理" not in text and "13800000000" not in text  # the internal contact stays in
    assert "91330100MA2PART01W" not in text  # no credit codes, no ids
    assert "机构未公布" in text  # bob chose none


def test_searchable_by_institution_or_agency(client, agencies):
    text = client.get(reverse("public_agencies"), {"q": "乙消费"}).content.decode()
    assert "乙的营销公司" in text and "某催收公司" not in text
    text = client.get(reverse("public_agencies"), {"q": "催收公司"}).content.decode()
    assert "某催收公司" in text and "乙的营销公司" not in text
    text = client.get(reverse("public_agencies"), {"q": "没有这家"}).content.decode()
    assert "没有找到" in text


def test_institution_sets_the_contact_on_its_partner_page_audited(client_for, agencies, inst_alice):
    valid, _ = agencies
    alice = client_for(inst_alice)
    page = alice.get(reverse("registry_partner_list")).content.decode()
    assert reverse("registry_partner_public_contact", args=[valid.pk]) in page
    response = alice.post(
        reverse("registry_partner_public_contact", args=[valid.pk]), {"public_contact": "95588"}
    )
    assert response.status_code == 302
    valid.refresh_from_db()
    assert valid.public_contact == "95588"
    event = AuditEvent.objects.get(action="partner.public_contact")
    assert event.summary == {"before": "", "after": "95588"}
    assert event.organisation == inst_alice.organisation
    alice.post(
        reverse("registry_partner_public_contact", args=[valid.pk]), {"public_contact": "95588"}
    )
    assert AuditEvent.objects.filter(action="partner.public_contact").count() == 1  # no-op
    with pytest.raises(PortalError):
        registry.partner_set_public_contact(actor=inst_alice, partner=valid, contact="abc")


@pytest.mark.parametrize("who", ["inst_bob", "carrier_carol", "regulator_rita", "financial_fiona"])
def test_another_organisation_cannot_set_it(client_for, agencies, request, who):
    valid, _ = agencies
    user = request.getfixturevalue(who)
    response = client_for(user).post(
        reverse("registry_partner_public_contact", args=[valid.pk]), {"public_contact": "95588"}
    )
    assert response.status_code == 404
    valid.refresh_from_db()
    assert valid.public_contact == ""
    if who == "inst_bob":
        with pytest.raises(NotPermitted):
            registry.partner_set_public_contact(actor=user, partner=valid, contact="95588")


def test_viewer_cannot_set_it(client_for, agencies, viewer_viola):
    valid, _ = agencies
    response = client_for(viewer_viola).post(
        reverse("registry_partner_public_contact", args=[valid.pk]), {"public_contact": "95588"}
    )
    assert response.status_code in (403, 404)
    valid.refresh_from_db()
    assert valid.public_contact == ""
