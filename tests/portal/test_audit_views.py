"""The audit log pages (issue 10 §7): the 摘要 column reads in Chinese, with field and value
labels and before → after for a change, nothing for an empty summary; the raw JSON is on
the event's own page. Only the communications administration reads the trail."""

from __future__ import annotations

import pytest

from portal.auditlabels import describe
from portal.models import AuditEvent
from registry import services
from tests.registry.conftest import register

pytestmark = pytest.mark.django_db


def test_a_change_reads_before_to_after_in_chinese(client_for, regulator_rita, inst_alice):
    row = register(inst_alice, "13800138000")
    fields = {
        "号码": "13800138000",
        "用途": "催收",
        "使用单位": "本机构",
        "电信运营商": "中国移动",
        "合作起始日期": "2026-01-01",
    }
    services.number_update(actor=inst_alice, number=row, fields=fields)
    page = client_for(regulator_rita).get("/audit/", {"action": "number.update"})
    body = page.content.decode()
    assert "用途：营销 → 催收" in body
    assert "{&#x27;" not in body and "&#x27;after&#x27;" not in body and "{'" not in body
    assert "号码类型" not in body  # unchanged fields are not listed for a change


def test_labels_and_empty_summaries():
    lines = describe("number.create", {"after": {"kind": "sms_port", "valid_to": None}})
    assert lines == ["号码类型：短信端口", "合作截止日期：（空）"]
    assert describe("auth.login", {}) == []
    assert describe("user.update", {"before": {"role": "viewer"}, "after": {"role": "admin"}}) == [
        "角色：查看 → 管理员"
    ]
    assert describe("organisation.create", {"after": {"kind": "carrier"}}) == [
        "单位类型：电信运营商"
    ]


def test_the_event_page_shows_the_raw_json(client_for, regulator_rita, inst_alice):
    register(inst_alice, "13800138000")
    event = AuditEvent.objects.filter(action="number.create").latest("id")
    page = client_for(regulator_rita).get(f"/audit/{event.pk}/").content.decode()
    assert "号码：13800138000" in page
    assert "&quot;number&quot;: &quot;13800138000&quot;" in page
    assert event.hash in page


@pytest.mark.parametrize("who", ["inst_alice", "carrier_carol", "financial_fiona"])
def test_only_the_administration_reads_an_event(request, client_for, who, inst_bob):
    register(inst_bob, "13700137000")
    event = AuditEvent.objects.filter(action="number.create").latest("id")
    assert client_for(request.getfixturevalue(who)).get(f"/audit/{event.pk}/").status_code == 404


def test_anonymous_is_sent_to_login(client, inst_bob):
    event = AuditEvent.objects.latest("id")
    assert client.get(f"/audit/{event.pk}/").status_code == 302
