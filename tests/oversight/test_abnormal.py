"""Abnormal-complaint detection (issue 15 §4; 003 异常投诉识别: 代理维权, 反催收联盟;
001 第二十七条): near-identical texts, one contact across many institutions, bursts from
one source; evidence per group; the administration marks a group abnormal (its complaints
leave the COMPLAINED_REGISTERED counts, with the reason) or genuine; audited."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from oversight import services
from oversight.abnormal import find_groups, quarter_bounds, text_groups
from oversight.models import Complaint, ComplaintGroup, GroupStatus
from portal.audit import SYSTEM
from portal.errors import NotPermitted
from portal.models import AuditEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCRIPT = (
    "本人{n}，因某某银行暴力催收，多次电话轰炸我的家人和同事，严重侵犯个人隐私，现依法投诉，"
    "要求停止催收、减免全部罚息并书面道歉，否则将向媒体曝光。"
)
OWN = [
    "晚上十一点还有人打电话催我还信用卡，说要上门。",
    "收到贷款推销短信，回复退订以后第二天又收到。",
    "自称保险公司的人一直推销分红险，我说不要还继续打。",
    "催收员打给了我的大学同学，把我的欠款金额说出去了。",
    "这个号码每天早上七点打来，说是消费金融公司回访。",
    "对方说我的网贷逾期了，但我从来没有借过钱。",
]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today(time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 20, 10, 0, tzinfo=SHANGHAI))


def add(content, *, days=5, contact="", institution="", number="13700137000", minutes=0):
    return services.complaint_create(
        actor=SYSTEM,
        number=number,
        received_at=dt.datetime(2026, 3, 20, 9, 0, tzinfo=SHANGHAI)
        - dt.timedelta(days=days, minutes=minutes),
        channel="12321",
        category="collection",
        content=content,
        institution_name=institution,
        contact=contact,
    )


@pytest.fixture
def campaign():
    """Six copies of one script, lightly edited (names, a filler word), and six texts of
    people's own, in the quarter."""
    copies = [
        add(SCRIPT.format(n=name).replace("多次", filler), days=i + 1, number=f"1370013700{i}")
        for i, (name, filler) in enumerate(
            [
                ("张伟", "多次"),
                ("李娜", "反复"),
                ("王强", "多次"),
                ("赵敏", "一再"),
                ("陈杰", "多次"),
                ("刘洋", "屡次"),
            ]
        )
    ]
    own = [add(text, days=i + 1, number=f"1390013900{i}") for i, text in enumerate(OWN)]
    return copies, own


def test_quarter_bounds_are_shanghai_quarters():
    start, end = quarter_bounds(2026, 1)
    assert start == dt.datetime(2026, 1, 1, tzinfo=SHANGHAI)
    assert end == dt.datetime(2026, 4, 1, tzinfo=SHANGHAI)
    assert quarter_bounds(2026, 4)[1] == dt.datetime(2027, 1, 1, tzinfo=SHANGHAI)


def test_near_identical_texts_form_one_group_and_own_texts_none():
    texts = [SCRIPT.format(n=n) for n in ("张三", "李四", "王五", "赵六", "钱七")] + OWN
    groups = text_groups(texts, min_size=5)
    assert [sorted(g) for g, _ in groups] == [[0, 1, 2, 3, 4]]
    assert groups[0][1] >= 75


def test_detection_finds_the_campaign_with_its_evidence(campaign, regulator_rita):
    copies, own = campaign
    counts = services.abnormal_detect(actor=regulator_rita, year=2026, quarter=1)
    assert counts == {"quarter": "2026Q1", "complaints": 12, "text": 1, "contact": 0, "burst": 0}
    group = ComplaintGroup.objects.get()
    assert group.kind == "text" and group.size == 6
    assert set(group.members.values_list("complaint_id", flat=True)) == {c.pk for c in copies}
    assert group.evidence["numbers"] == 6
    assert "某某银行暴力催收" in group.evidence["sample"]
    assert AuditEvent.objects.filter(action="complaint.abnormal_detect").count() == 1


def test_marked_abnormal_leaves_the_counts_with_the_reason(campaign, regulator_rita):
    """003 / issue 15 §4: complaints of a group marked abnormal are excluded from the
    COMPLAINED_REGISTERED counts (``Complaint.objects.countable()``), the reason recorded;
    marked genuine again, they count again."""
    copies, own = campaign
    services.abnormal_detect(actor=regulator_rita, year=2026, quarter=1)
    group = ComplaintGroup.objects.get()
    assert Complaint.objects.countable().count() == 12
    services.complaint_group_decide(
        actor=regulator_rita, group=group, status=GroupStatus.ABNORMAL, note="同一维权群模板"
    )
    assert Complaint.objects.countable().count() == 6
    assert set(Complaint.objects.countable()) == set(own)
    reasons = set(
        Complaint.objects.exclude(excluded_reason="").values_list("excluded_reason", flat=True)
    )
    assert reasons == {f"异常投诉：2026Q1 内容雷同组 #{group.pk}，经研判不计入比对"}
    event = AuditEvent.objects.get(action="complaint.group_decide")
    assert (event.summary["before"], event.summary["after"]) == ("pending", "abnormal")
    services.complaint_group_decide(actor=regulator_rita, group=group, status=GroupStatus.GENUINE)
    assert Complaint.objects.countable().count() == 12


def test_decided_groups_survive_a_new_detection(campaign, regulator_rita):
    services.abnormal_detect(actor=regulator_rita, year=2026, quarter=1)
    group = ComplaintGroup.objects.get()
    services.complaint_group_decide(actor=regulator_rita, group=group, status=GroupStatus.ABNORMAL)
    counts = services.abnormal_detect(actor=regulator_rita, year=2026, quarter=1)
    assert counts["text"] == 0
    assert ComplaintGroup.objects.get().status == GroupStatus.ABNORMAL


def test_one_contact_across_many_institutions(regulator_rita):
    for i, name in enumerate(["甲银行", "乙消费金融", "丙小贷公司", "丁保险"]):
        add(OWN[i], contact="138 0013 8000", institution=name, days=i * 7 + 1)
    add(OWN[5], contact="13800138000", institution="甲银行", days=40)
    add(OWN[4], contact="13600000000", institution="甲银行", days=2)
    services.abnormal_detect(actor=regulator_rita, year=2026, quarter=1)
    group = ComplaintGroup.objects.get(kind="contact")
    assert group.size == 5
    assert group.evidence["institutions"] == 4
    assert group.evidence["contact"] == "138****8000"
    assert "13800138000" not in str(group.evidence) and "13800138000" not in group.key


def test_burst_from_one_source_in_a_short_window(settings):
    """Five complaints from one address within an hour (public form: the source is a keyed
    hash of the address); the same five spread over days are not a burst."""
    settings.ABNORMAL_BURST_COUNT = 5
    base = dt.datetime(2026, 3, 1, 20, 0, tzinfo=SHANGHAI)
    rows = [
        (
            i,
            OWN[i % len(OWN)] + str(i),
            "",
            None,
            "",
            "src-a",
            base + dt.timedelta(minutes=9 * i),
            "1",
        )
        for i in range(1, 6)
    ] + [
        (i, OWN[i % len(OWN)] + str(i), "", None, "", "src-b", base + dt.timedelta(days=i), "1")
        for i in range(6, 11)
    ]
    groups = [g for g in find_groups(rows) if g.kind == "burst"]
    assert [g.members for g in groups] == [[1, 2, 3, 4, 5]]
    assert groups[0].evidence["minutes"] == 36


def test_only_the_administration_detects_and_decides(campaign, financial_fiona, inst_alice):
    for actor in (financial_fiona, inst_alice):
        with pytest.raises(NotPermitted):
            services.abnormal_detect(actor=actor, year=2026, quarter=1)


def test_pages_for_the_administration(campaign, client_for, regulator_rita):
    rita = client_for(regulator_rita)
    response = rita.post(reverse("abnormal_detect"), {"quarter": "2026Q1"})
    assert response.status_code == 302
    page = rita.get(reverse("abnormal_list"), {"quarter": "2026Q1"}).content.decode()
    assert "内容雷同" in page
    group = ComplaintGroup.objects.get()
    detail = rita.get(reverse("abnormal_detail", args=[group.pk]))
    assert detail.status_code == 200
    assert "某某银行暴力催收" in detail.content.decode()
    response = rita.post(
        reverse("abnormal_detail", args=[group.pk]), {"status": "abnormal", "note": "模板"}
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.status == GroupStatus.ABNORMAL
    member = group.members.first().complaint
    page = rita.get(reverse("complaint_detail", args=[member.pk])).content.decode()
    assert "不计入比对" in page


@pytest.mark.parametrize("who", ["inst_alice", "carrier_carol", "financial_fiona"])
def test_other_organisations_get_404(campaign, client_for, regulator_rita, request, who):
    services.abnormal_detect(actor=regulator_rita, year=2026, quarter=1)
    group = ComplaintGroup.objects.get()
    other = client_for(request.getfixturevalue(who))
    assert other.get(reverse("abnormal_detail", args=[group.pk])).status_code == 404
    assert (
        other.post(reverse("abnormal_detail", args=[group.pk]), {"status": "abnormal"}).status_code
        == 404
    )
    assert other.post(reverse("abnormal_detect"), {"quarter": "2026Q1"}).status_code == 404
    assert ComplaintGroup.objects.get().status == GroupStatus.PENDING
