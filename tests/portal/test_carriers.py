"""Which carrier is which (issue 11 item 1; architecture.md "Carriers"): a carrier
organisation records its network or, as an SMS service provider, the names it trades
under; a line's 电信运营商 is matched through that record, never by equality with the
organisation's full name (000 §三(一)2: carriers report the numbers they serve)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal import carriers
from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.errors import PortalError
from portal.models import AuditEvent, CarrierName, Organisation
from tests.commands import command_args, run, run_failing
from tests.migrations import latest, migrate

pytestmark = pytest.mark.django_db

PROVIDER_CODE = "91330100MA2PR0001Q"


def make(kind="carrier", name="中国移动通信集团浙江有限公司", code="91330000MA2CAR0L09", **kw):
    org, _ = accounts.organisation_create(
        actor=SYSTEM, kind=kind, name=name, credit_code=code, **kw
    )
    return org


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("中国移动", "中国移动"),
        ("移动", "中国移动"),
        ("中 移 动", "中国移动"),
        ("ＣＭＣＣ", "中国移动"),
        ("联通", "中国联通"),
        ("电信", "中国电信"),
        ("广电", "中国广电"),
        (" 某某短信服务 ", "某某短信服务"),
    ],
)
def test_carrier_texts_take_one_spelling(text, expected):
    assert carriers.carrier_name(text) == expected


@pytest.mark.parametrize(
    ("name", "network"),
    [
        ("中国移动通信集团浙江有限公司", "cmcc"),
        ("中国联合网络通信有限公司浙江省分公司（联通）", "unicom"),
        ("中国电信股份有限公司浙江分公司", "telecom"),
        ("中国广电浙江网络有限公司", "cbn"),
        ("杭州某某信息技术有限公司", "provider"),
    ],
)
def test_a_network_is_guessed_from_the_name_only_when_none_is_given(name, network):
    assert carriers.guess_network(name) == network


def test_a_basic_carrier_answers_to_its_network_not_to_its_full_name(db):
    """The register writes 中国移动 or 移动; the organisation is 中国移动通信集团浙江有限公司."""
    org = make(network="cmcc")
    assert org.network == "cmcc"
    assert list(org.carrier_names.values_list("name", flat=True)) == ["中国移动"]
    assert carriers.serves(org, "移动")
    assert carriers.serves(org, "中国移动")
    assert not carriers.serves(org, "中国联通")
    assert not carriers.serves(org, "中国移动通信集团浙江有限公司")
    assert org.carrier_display == "中国移动"


def test_an_sms_provider_answers_to_its_trade_names(db):
    org = make(
        name="杭州某某信息技术有限公司",
        code=PROVIDER_CODE,
        network="provider",
        trade_names="某某短信\n某某云通信、 某某短信 ",
    )
    names = set(org.carrier_names.values_list("name", flat=True))
    assert names == {"某某短信", "某某云通信", "杭州某某信息技术有限公司"}
    assert carriers.serves(org, "某某云通信")
    assert carriers.serves(org, "某某 短信")
    assert not carriers.serves(org, "中国移动")
    assert org.carrier_display == "短信服务商（某某短信、某某云通信、杭州某某信息技术有限公司）"


def test_only_carriers_have_a_network(db):
    with pytest.raises(PortalError) as exc:
        make(kind="regulator", name="某省通信管理局", code="11330000MB1REG0008", network="cmcc")
    assert exc.value.code == "network"
    regulator = make(kind="regulator", name="某省通信管理局", code="11330000MB1REG0008")
    assert regulator.network == "" and not regulator.carrier_names.exists()
    assert not carriers.serves(regulator, "中国移动")


def test_changing_the_trade_names_rebuilds_the_names_and_is_audited(db):
    org = make(name="杭州某某信息技术有限公司", code=PROVIDER_CODE, network="provider")
    accounts.organisation_update(actor=SYSTEM, organisation=org, trade_names="某某短信")
    assert set(CarrierName.objects.filter(organisation=org).values_list("name", flat=True)) == {
        "某某短信",
        "杭州某某信息技术有限公司",
    }
    event = AuditEvent.objects.filter(action="organisation.update").latest("pk")
    assert event.summary["after"] == {"trade_names": "某某短信"}
    accounts.organisation_update(actor=SYSTEM, organisation=org, network="unicom")
    assert list(org.carrier_names.values_list("name", flat=True)) == ["中国联通", "某某短信"]


def test_create_organisation_takes_a_network():
    """``create_organisation --kind carrier --network NAME`` (issue 11 item 1)."""
    result = run(
        *command_args(
            "create_organisation",
            {
                "kind": "carrier",
                "name": "中国联合网络通信有限公司浙江省分公司",
                "credit-code": "91330000MA2CAR0L2F",
                "network": "联通",
            },
        )
    )
    assert Organisation.objects.get(pk=result["id"]).network == "unicom"
    result = run(
        *command_args(
            "create_organisation",
            {
                "kind": "电信运营商",
                "name": "杭州某某信息技术有限公司",
                "credit-code": PROVIDER_CODE,
                "network": "某某短信",
            },
        )
    )
    org = Organisation.objects.get(pk=result["id"])
    assert (org.network, org.trade_names) == ("provider", "某某短信")


def test_create_organisation_refuses_a_network_for_an_institution():
    message = run_failing(
        *command_args(
            "create_organisation",
            {
                "kind": "institution",
                "name": "丙小额贷款有限公司",
                "credit-code": "91330000MA2D0000XY",
                "licence": "small_loan",
                "network": "中国移动",
            },
        )
    )
    assert message == "只有电信运营商填写所属网络和对外名称"


def test_the_organisation_page_sets_the_network(client_for, regulator_rita):
    client = client_for(regulator_rita)
    form = {
        "kind": "carrier",
        "name": "杭州某某信息技术有限公司",
        "credit_code": PROVIDER_CODE,
        "licence_category": "",
        "province": "",
        "contact_email": "",
        "network": "",
        "trade_names": "",
    }
    response = client.post(reverse("organisation_create"), form)
    assert "电信运营商必须选择所属网络" in response.content.decode()
    response = client.post(
        reverse("organisation_create"), form | {"network": "provider", "trade_names": "某某短信"}
    )
    org = Organisation.objects.get(credit_code=PROVIDER_CODE)
    assert response.status_code == 302
    assert carriers.serves(org, "某某短信")
    page = client.get(reverse("organisation_detail", args=[org.pk])).content.decode()
    assert "短信服务商（某某短信、杭州某某信息技术有限公司）" in page
    edit = reverse("organisation_edit", args=[org.pk])
    assert "对外名称" in client.get(edit).content.decode()
    client.post(
        edit,
        {
            "name": org.name,
            "province": "",
            "contact_email": "",
            "network": "provider",
            "trade_names": "某某云通信",
        },
    )
    assert carriers.serves(Organisation.objects.get(pk=org.pk), "某某云通信")


@pytest.mark.django_db(transaction=True)
def test_the_migration_records_the_network_of_existing_carriers():
    old = migrate([("portal", "0009_uploadjob")])
    Org = old.get_model("portal", "Organisation")
    Org.objects.create(kind="carrier", name="某移动公司", credit_code="91330000MA2CAR0L09")
    Org.objects.create(kind="carrier", name="某某短信服务公司", credit_code=PROVIDER_CODE)
    Org.objects.create(kind="regulator", name="某省通信管理局", credit_code="11330000MB1REG0008")
    new = migrate(latest())
    Org = new.get_model("portal", "Organisation")
    Name = new.get_model("portal", "CarrierName")
    assert dict(Org.objects.values_list("name", "network")) == {
        "某移动公司": "cmcc",
        "某某短信服务公司": "provider",
        "某省通信管理局": "",
    }
    assert set(Name.objects.values_list("name", flat=True)) == {"中国移动", "某某短信服务公司"}
