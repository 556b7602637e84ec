"""The public complaint form and its tracking (issue 15 §2; 000 §三(四)): number, time,
category, what happened, optional contact; a honeypot; channel 本平台; an unguessable
tracking code; 已受理 → 核查中 → 已处理 with the regulator's outcome; the contact masked in
pages, the API, exports and logs, its full read audited."""

from __future__ import annotations

import datetime as dt
import logging
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from oversight import services
from oversight.models import (
    TRACKING_ALPHABET,
    TRACKING_LENGTH,
    Complaint,
    ComplaintStatus,
    new_tracking_code,
)
from portal.audit import SYSTEM
from portal.errors import NotPermitted, PortalError
from portal.models import AuditEvent
from registry import services as registry

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONTACT = "13912345678"

pytestmark = pytest.mark.usefixtures("public")


@pytest.fixture(autouse=True)
def _today(time_machine, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    time_machine.move_to(dt.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI))


def form(**kw) -> dict:
    return {
        "number": "137 0013 7000",
        "received_at": "2026-03-09T21:30",
        "category": "collection",
        "content": "晚上十点后还在催收，说要告诉我单位领导",
        "contact": CONTACT,
        "homepage": "",
    } | kw


def submit(client, **kw):
    return client.post(reverse("public_complaint"), form(**kw))


def test_public_complaint_is_recorded_with_channel_portal_and_a_tracking_code(client, caplog):
    caplog.set_level(logging.DEBUG)
    response = submit(client)
    assert response.status_code == 200
    complaint = Complaint.objects.get()
    assert complaint.channel == "portal"
    assert complaint.get_channel_display() == "本平台"
    assert complaint.number == "13700137000"
    assert complaint.status == ComplaintStatus.RECEIVED
    assert complaint.received_at == dt.datetime(2026, 3, 9, 21, 30, tzinfo=SHANGHAI)
    text = response.content.decode()
    assert complaint.tracking_code_display in text
    assert CONTACT not in text
    assert complaint.source and "127.0.0.1" not in complaint.source  # a keyed hash
    event = AuditEvent.objects.get(action="complaint.submit")
    assert CONTACT not in str(event.summary) and "催收" not in str(event.summary)
    assert event.ip == "127.0.0.1"
    assert CONTACT not in caplog.text  # masking in logs: the contact is never logged


def test_registered_number_links_the_institution(client, inst_alice):
    registry.number_register(
        actor=inst_alice,
        institution=inst_alice.organisation,
        fields={
            "号码": "13800138000",
            "用途": "催收",
            "使用单位": "本机构",
            "电信运营商": "中国移动",
            "合作起始日期": "2026-01-01",
        },
    )
    submit(client, number="13800138000")
    complaint = Complaint.objects.get()
    assert complaint.institution == inst_alice.organisation
    assert complaint.institution_name == "甲银行"


def test_honeypot_filled_in_saves_nothing(client):
    response = submit(client, homepage="http://spam.example")
    assert response.status_code == 200
    assert Complaint.objects.count() == 0
    assert "提交未成功" in response.content.decode()


def test_the_honeypot_is_hidden_from_people(client):
    text = client.get(reverse("public_complaint")).content.decode()
    match = re.search(r'<div class="hp-field" aria-hidden="true">.*?</div>', text, re.S)
    assert match
    assert 'tabindex="-1"' in match.group(0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("number", "abc", "号码"),
        ("content", "催收", "至少 5 个字"),
        ("received_at", "2026-03-12T10:00", "不能晚于现在"),
        ("category", "", "必填"),
    ],
)
def test_bad_input_is_shown_on_the_form(client, field, value, message):
    response = submit(client, **{field: value})
    assert Complaint.objects.count() == 0
    text = response.content.decode()
    assert message in text or "这个字段是必填项" in text


def test_tracking_codes_are_random_not_sequential():
    """Issue 15 §7: tracking codes that cannot be guessed (no sequential ids): 16 symbols
    of 31 (about 79 bits) from ``secrets``, nothing derived from the id or the time."""
    codes = [new_tracking_code() for _ in range(2000)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == TRACKING_LENGTH and set(c) <= set(TRACKING_ALPHABET) for c in codes)
    assert not any(ch in TRACKING_ALPHABET for ch in "01OIL")
    # Two in a row share no prefix beyond chance and do not count up.
    assert sum(a[:4] == b[:4] for a, b in zip(codes, codes[1:], strict=False)) < 5
    assert codes != sorted(codes)


def test_tracking_codes_of_complaints_do_not_follow_their_ids(client):
    for n in range(3):
        submit(client, number=f"1370013700{n}")
    rows = list(Complaint.objects.order_by("pk").values_list("pk", "tracking_code"))
    codes = [code for _, code in rows]
    assert len(set(codes)) == 3
    # Nothing shared between neighbours beyond chance (a sequence would share a prefix).
    assert len({code[:6] for code in codes}) == 3


def track(client, code):
    return client.post(reverse("public_track"), {"code": code})


def status_of(page) -> str:
    return re.search(r'data-testid="track-status">([^<]+)<', page.content.decode()).group(1)


def test_track_shows_status_then_outcome_after_the_regulator_processes(client, regulator_rita):
    submit(client)
    complaint = Complaint.objects.get()
    page = track(client, complaint.tracking_code_display.lower())
    text = page.content.decode()
    assert status_of(page) == "已受理" and "13700137000" in text
    assert CONTACT not in text and "单位领导" not in text  # neither contact nor text shown
    services.complaint_set_status(actor=regulator_rita, complaint=complaint, status="checking")
    assert status_of(track(client, complaint.tracking_code)) == "核查中"
    services.complaint_set_status(
        actor=regulator_rita,
        complaint=complaint,
        status="processed",
        outcome="已责令该号码所属机构停止夜间催收。",
    )
    page = track(client, complaint.tracking_code)
    text = page.content.decode()
    assert status_of(page) == "已处理" and "已责令该号码所属机构停止夜间催收。" in text
    actions = list(
        AuditEvent.objects.filter(action="complaint.status")
        .order_by("pk")
        .values_list("summary", flat=True)
    )
    assert [(s["before"], s["after"]) for s in actions] == [
        ("received", "checking"),
        ("checking", "processed"),
    ]
    assert all("停止" not in str(s) for s in actions)


def test_unknown_code_says_not_found_and_nothing_else(client):
    submit(client)
    text = track(client, "ABCD-EFGH-JKMN-PQRS").content.decode()
    assert "没有找到" in text and "13700137000" not in text


def test_status_never_goes_back_and_processed_needs_an_outcome(client, regulator_rita):
    submit(client)
    complaint = Complaint.objects.get()
    with pytest.raises(PortalError, match="处理结果"):
        services.complaint_set_status(actor=regulator_rita, complaint=complaint, status="processed")
    services.complaint_set_status(actor=regulator_rita, complaint=complaint, status="checking")
    with pytest.raises(PortalError, match="不能退回"):
        services.complaint_set_status(actor=regulator_rita, complaint=complaint, status="received")
    assert not services.complaint_set_status(
        actor=regulator_rita, complaint=complaint, status="checking"
    )


def test_only_the_administration_writers_process(client, financial_fiona, inst_alice):
    complaint = services.complaint_submit_public(
        actor=SYSTEM,
        number="13700137000",
        received_at=dt.datetime(2026, 3, 9, 9, 0, tzinfo=SHANGHAI),
        category="marketing",
        content="天天推销贷款，退订无效",
    )
    for actor in (financial_fiona, inst_alice):
        with pytest.raises(NotPermitted):
            services.complaint_set_status(actor=actor, complaint=complaint, status="checking")
    with pytest.raises(NotPermitted):
        services.complaint_submit_public(
            actor=inst_alice,
            number="13700137000",
            received_at=dt.datetime(2026, 3, 9, 9, 0, tzinfo=SHANGHAI),
            category="marketing",
            content="天天推销贷款，退订无效",
        )


def test_regulator_processes_on_the_complaint_page(client, client_for, regulator_rita):
    submit(client)
    complaint = Complaint.objects.get()
    rita = client_for(regulator_rita)
    page = rita.get(reverse("complaint_detail", args=[complaint.pk])).content.decode()
    assert complaint.tracking_code_display in page
    assert "139****5678" in page and CONTACT not in page
    response = rita.post(
        reverse("complaint_status", args=[complaint.pk]),
        {"status": "processed", "outcome": "已核实并处理"},
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert (complaint.status, complaint.outcome) == ("processed", "已核实并处理")
    bad = rita.post(
        reverse("complaint_status", args=[complaint.pk]), {"status": "checking", "outcome": ""}
    )
    assert bad.status_code == 400 and "不能退回" in bad.content.decode()


def test_contact_masked_in_the_api_and_list(client, client_for, regulator_rita):
    submit(client)
    rita = client_for(regulator_rita)
    body = rita.get("/api/oversight/complaints/").json()
    assert body["results"][0]["contact"] == "139****5678"
    assert CONTACT not in str(body)
    assert CONTACT not in rita.get(reverse("complaint_list")).content.decode()


@pytest.mark.parametrize("who", ["inst_alice", "carrier_carol", "financial_fiona"])
def test_processing_and_new_pages_are_404_for_others(client, client_for, request, who):
    submit(client)
    complaint = Complaint.objects.get()
    other = client_for(request.getfixturevalue(who))
    response = other.post(reverse("complaint_status", args=[complaint.pk]), {"status": "checking"})
    assert response.status_code == 404
    for name in ("public_checks", "abnormal_list"):
        assert other.get(reverse(name)).status_code == 404
    complaint.refresh_from_db()
    assert complaint.status == "received"


def test_anonymous_reaches_no_regulator_page(client):
    for name in ("public_checks", "abnormal_list"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_public_pages_link_to_each_other_and_explain(client):
    for name in ("public_check", "public_complaint", "public_track", "public_agencies"):
        text = client.get(reverse(name)).content.decode()
        for other in ("public_check", "public_complaint", "public_track", "public_agencies"):
            assert f'href="{reverse(other)}' in text
        assert "什么是“备案号码”" in text
        assert 'name="viewport"' in text
        assert "主菜单" not in text


def test_regulator_dashboard_counts_checks_and_open_complaints(client, client_for, regulator_rita):
    client.get("/api/public/number-check/", {"number": "13900000000"})
    submit(client)
    page = client_for(regulator_rita).get("/").content.decode()
    assert 'data-testid="public-panel"' in page
    assert re.search(r'data-testid="public-checks-today">1<', page)
    assert re.search(r'data-testid="portal-complaints-open">1<', page)


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_every_earlier_complaint_its_own_code():
    """Complaints recorded before issue 15 get a tracking code each (RunPython in
    oversight 0002), unique, none empty."""
    from tests.migrations import latest, migrate

    old = migrate([("oversight", "0002_reconciliation")])
    Old = old.get_model("oversight", "Complaint")
    for n in range(3):
        Old.objects.create(
            number=f"1370013700{n}",
            number_kind="mobile",
            received_at=dt.datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI),
            channel="12321",
            category="collection",
            content="旧的投诉",
        )
    new = migrate(latest())
    codes = list(
        new.get_model("oversight", "Complaint").objects.values_list("tracking_code", flat=True)
    )
    assert len(codes) == 3 and len(set(codes)) == 3 and all(len(c) == 16 for c in codes)
