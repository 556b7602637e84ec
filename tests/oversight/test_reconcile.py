"""The cross-match (比对; issue 13 item 2): a small hand-built world with one case of every
finding code and its near miss (000 §三(三): the administration compares the usage
information of both sides with the complaints and traces suspect numbers; 002: numbers not
in the institution's number library doing financial marketing or collection are disposed
of). The world is built directly in the tables: the services that fill them have tests of
their own; here only the cross-match is under test."""

from __future__ import annotations

import datetime as dt
import io
import json
from io import StringIO
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from filings.models import SmsFiling
from oversight import services
from oversight.models import (
    Complaint,
    Finding,
    FindingCode,
    FindingState,
    ReconciliationRun,
    RunStatus,
)
from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.carriers import carrier_name
from registry.models import Partner, RegisteredNumber, ServiceReport, ServiceReportLine, Status
from tests.conftest import _user

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = dt.date(2026, 11, 20)
P_CODE = "91330100MA2PART01W"  # alice's collection agency, entrustment valid
Q_CODE = "91330100MA2PART020"  # alice's marketing agency, entrustment lapsed on 2026-06-30
U_CODE = "91330100MA2PR0001Q"  # nobody the portal knows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path, time_machine):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    time_machine.move_to(dt.datetime(2026, 11, 20, 18, 0, tzinfo=SHANGHAI))


def reg(
    institution,
    number,
    *,
    kind="mobile",
    purpose="collection",
    carrier="中国移动",
    valid_from=dt.date(2026, 1, 1),
    valid_to=None,
    partner=None,
    user_code="",
    **extra,
):
    return RegisteredNumber.objects.create(
        institution=institution.organisation
        if hasattr(institution, "organisation")
        else institution,
        number=number,
        kind=kind,
        is_sub_port=extra.pop("is_sub_port", False),
        main_port=extra.pop("main_port", ""),
        purpose=purpose,
        user_type="partner" if partner else "self",
        user_name=partner.name if partner else "本机构",
        user_credit_code=partner.credit_code if partner else user_code,
        partner=partner,
        carrier=carrier_name(carrier),  # as the register stores it (移动 -> 中国移动)
        valid_from=valid_from,
        valid_to=valid_to,
        fingerprint="x",
        created_at=timezone.make_aware(dt.datetime(2026, 10, 1)),
        **extra,
    )


def report(carrier, *, version=1, status="accepted", year=2026, quarter=4):
    return ServiceReport.objects.create(
        carrier=carrier.organisation,
        year=year,
        quarter=quarter,
        version=version,
        status=status,
        deadline=timezone.make_aware(dt.datetime(2026, 12, 24, 23, 59)),
    )


def line(
    rep,
    number,
    object_code,
    *,
    kind="mobile",
    purpose="collection",
    object_org=None,
    institution_org=None,
    valid_from=dt.date(2026, 1, 1),
    valid_to=None,
):
    return ServiceReportLine.objects.create(
        report=rep,
        number=number,
        kind=kind,
        object_name=f"对象 {object_code[-4:]}",
        object_credit_code=object_code,
        object_org=object_org,
        institution_org=institution_org,
        purpose=purpose,
        valid_from=valid_from,
        valid_to=valid_to,
        fingerprint="x",
    )


def filing(carrier, port, institution, *, status="accepted"):
    start = dt.datetime(2026, 11, 25, 10, tzinfo=SHANGHAI)
    return SmsFiling.objects.create(
        carrier=carrier.organisation,
        carrier_label=carrier.organisation.name,
        sender_name=institution.name,
        sender_credit_code=institution.credit_code,
        signature="【甲银行】",
        port=port,
        purpose="marketing",
        content="【甲银行】分期优惠，回T退订",
        start_at=start,
        end_at=start + dt.timedelta(days=2),
        planned_count=1000,
        recipients="本行信用卡客户",
        consent="开户时书面同意",
        contact_name="张三",
        contact_phone="95599",
        institution=institution,
        status=status,
    )


def complain(number, times=1, *, category="collection", kind="mobile"):
    for i in range(times):
        Complaint.objects.create(
            number=number,
            number_kind=kind,
            received_at=dt.datetime(2026, 11, 1 + i, 9, tzinfo=SHANGHAI),
            channel="12321",
            category=category,
            content="催收电话",
        )


@pytest.fixture
def world(inst_alice, inst_bob, carrier_carol):
    """One case of every code, each beside its near miss."""
    a, b = inst_alice.organisation, inst_bob.organisation
    p = Partner.objects.create(
        institution=a,
        name="催收公司 P",
        credit_code=P_CODE,
        kind="collection",
        valid_from=dt.date(2026, 1, 1),
    )
    q = Partner.objects.create(
        institution=a,
        name="营销公司 Q",
        credit_code=Q_CODE,
        kind="marketing",
        valid_from=dt.date(2025, 7, 1),
        valid_to=dt.date(2026, 6, 30),
    )
    pb = Partner.objects.create(
        institution=b,
        name="催收公司 P",
        credit_code=P_CODE,
        kind="collection",
        valid_from=dt.date(2026, 1, 1),
    )
    reg(a, "13800000001", purpose="both", carrier="移动")  # all fine (near misses)
    reg(a, "1069000001", kind="sms_port", purpose="marketing")  # a main port
    reg(
        a,
        "106900000155",
        kind="sms_port",
        purpose="marketing",
        is_sub_port=True,
        main_port="1069000001",
    )  # under a reported main port: not UNREPORTED
    reg(a, "13800000002")  # UNREPORTED
    reg(a, "13800000003", carrier="中国联通")  # CARRIER_MISMATCH
    reg(a, "13800000004", purpose="marketing")  # PURPOSE_MISMATCH
    reg(a, "13800000005", valid_from=dt.date(2027, 1, 1))  # PERIOD_MISMATCH
    reg(a, "13800000006")
    reg(b, "13800000006")  # DOUBLE_CLAIM
    reg(a, "13800000007", partner=p)
    reg(b, "13800000007", partner=pb)  # one shared partner: not DOUBLE_CLAIM
    reg(a, "13800000008", partner=p)  # served for the partner: not OWNER_MISMATCH
    reg(a, "13800000009")  # reported for bob: OWNER_MISMATCH
    reg(a, "13800000010", partner=q, purpose="marketing")  # AUTH_EXPIRED
    ended = reg(a, "13800000011")  # ended before the day: not in force
    RegisteredNumber.objects.filter(pk=ended.pk).update(
        status=Status.ENDED, closed_at=timezone.make_aware(dt.datetime(2026, 11, 1))
    )

    rep = report(carrier_carol)
    own = {"object_org": a}
    line(rep, "13800000001", a.credit_code, **own)
    line(rep, "106900000199", a.credit_code, kind="sms_port", purpose="marketing", **own)
    line(rep, "1069000001", a.credit_code, kind="sms_port", purpose="marketing", **own)
    line(rep, "13800000003", a.credit_code, **own)
    line(rep, "13800000004", a.credit_code, **own)
    line(rep, "13800000005", a.credit_code, **own)
    line(rep, "13800000006", a.credit_code, **own)
    line(rep, "13800000007", P_CODE, institution_org=a)
    line(rep, "13800000008", P_CODE, institution_org=a)
    line(rep, "13800000009", b.credit_code, object_org=b)
    line(rep, "13800000010", Q_CODE, institution_org=a, purpose="marketing")
    line(rep, "13800000011", a.credit_code, **own)  # ended registration: UNREGISTERED
    line(rep, "13900000001", a.credit_code, **own)  # UNREGISTERED
    line(rep, "13900000003", U_CODE)  # UNLICENSED
    # (13800000002 is not reported: UNREPORTED)

    filing(carrier_carol, "106900000177", a)  # under a registered main port: fine
    filing(carrier_carol, "1069111111", a)  # FILING_PORT_UNREGISTERED
    filing(carrier_carol, "1069222222", a, status="draft")  # a draft is not looked at

    complain("13700000000")  # COMPLAINED_UNREGISTERED
    complain("106900000188", kind="sms_port")  # under a registered main port: not
    complain("13700000001", category="other")  # not about finance: ignored
    complain("13800000001", 3)  # COMPLAINED_REGISTERED (threshold 3)
    complain("13800000002", 2)  # below the threshold
    return {"a": a, "b": b, "carrier": carrier_carol.organisation, "report": rep}


def run(as_of=AS_OF) -> ReconciliationRun:
    started = services.reconciliation_start(actor=SYSTEM, as_of=as_of, enqueue=False)
    done = services.reconciliation_execute(run_id=started.pk)
    assert done.status == RunStatus.DONE, done.message
    return done


def found(run_, code=None) -> set[tuple]:
    qs = Finding.objects.filter(run=run_).exclude(state=FindingState.RESOLVED)
    if code:
        qs = qs.filter(code=code)
    return set(qs.values_list("code", "number"))


def test_every_code_fires_once_and_no_near_miss_does(world):
    result = found(run())
    assert result == {
        ("UNREGISTERED", "13900000001"),
        ("UNREGISTERED", "13800000011"),
        ("UNREGISTERED", "13800000009"),  # served for bob, who never registered it
        ("UNREPORTED", "13800000002"),
        ("OWNER_MISMATCH", "13800000009"),
        ("CARRIER_MISMATCH", "13800000003"),
        ("PURPOSE_MISMATCH", "13800000004"),
        ("DOUBLE_CLAIM", "13800000006"),
        ("PERIOD_MISMATCH", "13800000005"),
        ("AUTH_EXPIRED", "13800000010"),
        ("UNLICENSED", "13900000003"),
        ("FILING_PORT_UNREGISTERED", "1069111111"),
        ("COMPLAINED_UNREGISTERED", "13700000000"),
        ("COMPLAINED_REGISTERED", "13800000001"),
    }


def test_a_finding_names_the_organisations_and_its_evidence(world):
    r = run()
    unregistered = Finding.objects.get(run=r, code="UNREGISTERED", number="13900000001")
    assert unregistered.institution == world["a"]
    assert unregistered.carrier == world["carrier"]
    line_ = ServiceReportLine.objects.get(pk=unregistered.report_line_id)
    assert line_.number == "13900000001" and unregistered.report_id == world["report"].pk
    double = Finding.objects.get(run=r, code="DOUBLE_CLAIM")
    assert {double.institution, double.other_institution} == {world["a"], world["b"]}
    assert double.registered_id and double.other_registered_id
    complained = Finding.objects.get(run=r, code="COMPLAINED_REGISTERED")
    assert complained.complaint_count == 3 and complained.institution == world["a"]
    port = Finding.objects.get(run=r, code="FILING_PORT_UNREGISTERED")
    assert SmsFiling.objects.get(pk=port.filing_id).port == "1069111111"


def test_a_run_records_its_inputs_counts_and_duration(world):
    r = run()
    assert r.counts["UNREGISTERED"] == 3 and r.counts["DOUBLE_CLAIM"] == 1
    assert sum(r.counts.values()) == 14 == r.new_count
    assert r.inputs["reports"] == [
        {
            "carrier": world["carrier"].pk,
            "report": world["report"].pk,
            "version": 1,
            "accepted": True,
        }
    ]
    assert r.inputs["filings"] == 2 and r.inputs["complaints"] == 7
    assert r.seconds is not None and r.seconds >= 0


def test_the_complaint_threshold_is_a_setting(world, settings):
    settings.COMPLAINT_THRESHOLD = 2
    assert ("COMPLAINED_REGISTERED", "13800000002") in found(run())


def test_a_finding_keeps_its_identity_across_runs(world, inst_alice):
    first = run()
    second = run()
    assert second.previous == first
    assert (second.new_count, second.persisting_count, second.resolved_count) == (0, 14, 0)
    # alice registers the number she forgot: that finding is resolved in the next run
    reg(world["a"], "13900000001")
    third = run()
    assert third.resolved_count == 1 and third.persisting_count == 13
    resolved = Finding.objects.get(run=third, state=FindingState.RESOLVED)
    assert (resolved.code, resolved.number) == ("UNREGISTERED", "13900000001")
    identities = Finding.objects.filter(number="13900000001", code="UNREGISTERED")
    assert len({f.identity for f in identities}) == 1


def test_a_replaced_report_version_counts_only_once_accepted(world, carrier_carol):
    """The latest accepted version counts; a submitted correction only while no version is
    accepted, and then it is marked unaccepted in the inputs."""
    v2 = report(carrier_carol, version=2, status="submitted")
    line(v2, "13800000002", world["a"].credit_code, object_org=world["a"])
    first = run()
    assert first.inputs["reports"][0]["version"] == 1
    assert ("UNREPORTED", "13800000002") in found(first)
    ServiceReport.objects.filter(pk=v2.pk).update(status="accepted")
    second = run()
    assert second.inputs["reports"][0] == {
        "carrier": world["carrier"].pk,
        "report": v2.pk,
        "version": 2,
        "accepted": True,
    }
    assert ("UNREPORTED", "13800000002") not in found(second)
    assert ("UNREPORTED", "13800000001") in found(second)  # v2 lacks it


def test_only_a_submitted_report_is_read_but_marked_unaccepted(world, carrier_carol):
    ServiceReport.objects.filter(pk=world["report"].pk).update(status="submitted")
    r = run()
    assert r.inputs["reports"][0]["accepted"] is False
    assert ("UNREGISTERED", "13900000001") in found(r)


def test_a_draft_report_is_not_read(world):
    ServiceReport.objects.filter(pk=world["report"].pk).update(status="draft")
    r = run()
    assert r.inputs["reports"] == []
    assert not found(r, "UNREGISTERED")


def test_the_report_workbook(world):
    r = run()
    wb = openpyxl.load_workbook(io.BytesIO(r.report.read()))
    assert wb.sheetnames[0] == "汇总" and "UNREGISTERED" in wb.sheetnames
    assert len(wb.sheetnames) == 1 + len(FindingCode)
    summary = [[c.value for c in row] for row in wb["汇总"].iter_rows()]
    assert summary[[r_[1] for r_ in summary].index("UNREGISTERED 未登记")][:3] == [
        "按问题类型",
        "UNREGISTERED 未登记",
        "3",
    ]
    rows = [[c.value for c in row] for row in wb["CARRIER_MISMATCH"].iter_rows()]
    assert rows[1][0] == "13800000003" and rows[1][8] == "中国联通"
    assert all(isinstance(v, str) for row in rows for v in row if v is not None)


def test_the_command_line_prints_one_json_line(world, tmp_path):
    out = StringIO()
    target = tmp_path / "report.xlsx"
    call_command("reconcile", "--as-of", "2026-11-20", "--report", str(target), stdout=out)
    payload = json.loads(out.getvalue())
    assert set(payload) == {"run", "findings", "new", "resolved", "seconds"}
    assert payload["findings"]["UNREGISTERED"] == 3 and payload["new"] == 14
    assert target.stat().st_size > 0


def test_the_schedule_starts_once_on_the_working_day_after_the_deadline(world, time_machine):
    """Q4 2026 ends Thursday 12-31: due 12-24 (5 working days before); the run is on the
    working day after, Friday 12-25."""
    assert services.scheduled_reconciliation_start(today=dt.date(2026, 12, 24)) is None
    started = services.scheduled_reconciliation_start(today=dt.date(2026, 12, 25))
    assert started is not None and started.scheduled
    assert services.scheduled_reconciliation_start(today=dt.date(2026, 12, 25)) is None


# --- who sees which findings (issue 13 item 3) ----------------------------------------------


def test_each_party_sees_only_its_own_findings(
    world, client_for, inst_alice, inst_bob, carrier_carol, regulator_rita, financial_fiona
):
    r = run()
    alice = {f.number for f in Finding.objects.visible_to(inst_alice).filter(run=r)}
    bob = {(f.code, f.number) for f in Finding.objects.visible_to(inst_bob).filter(run=r)}
    assert "13900000001" in alice and "13900000003" not in alice  # UNLICENSED names no one
    assert bob == {("DOUBLE_CLAIM", "13800000006"), ("UNREGISTERED", "13800000009")}
    carol = Finding.objects.visible_to(carrier_carol).filter(run=r)
    assert all(f.carrier_id == carrier_carol.organisation_id for f in carol)
    assert Finding.objects.visible_to(regulator_rita).filter(run=r).count() == 14
    # The financial regulator: those about the institutions it supervises (issue 14 §6);
    # the two naming no institution (UNLICENSED, COMPLAINED_UNREGISTERED) are not its.
    fiona = Finding.objects.visible_to(financial_fiona).filter(run=r)
    assert fiona.count() == 12
    assert all(f.institution_id or f.other_institution_id for f in fiona)

    theirs = Finding.objects.get(run=r, code="UNREPORTED")  # alice's, no carrier
    for user in (inst_bob, carrier_carol):
        client = client_for(user)
        assert client.get(reverse("finding_detail", args=[theirs.pk])).status_code == 404
        assert client.get(reverse("run_detail", args=[r.pk])).status_code == 404
        assert client.get(reverse("run_report", args=[r.pk])).status_code == 404
    page = client_for(inst_alice).get(reverse("finding_detail", args=[theirs.pk]))
    assert page.status_code == 200 and "13800000002" in page.content.decode()


def test_another_carrier_sees_nothing_of_carols(world, client_for):
    other, _ = accounts.organisation_create(
        actor=SYSTEM,
        kind="carrier",
        name="某联通公司",
        credit_code="91330000MA2CAR0L2F",
        network="unicom",
    )
    dave = _user(other, "dave")
    r = run()
    carols = Finding.objects.filter(run=r, carrier=world["carrier"]).first()
    assert carols is not None
    client = client_for(dave)
    assert client.get(reverse("finding_detail", args=[carols.pk])).status_code == 404
    assert "13900000001" not in client.get(reverse("finding_list")).content.decode()
    assert not Finding.objects.visible_to(dave).exists()


def test_the_pages_for_the_regulator(world, client_for, regulator_rita):
    r = run()
    client = client_for(regulator_rita)
    page = client.get(reverse("run_detail", args=[r.pk])).content.decode()
    assert "UNREGISTERED" in page and "下载比对报告" in page
    listing = client.get(reverse("finding_list") + "?code=DOUBLE_CLAIM").content.decode()
    assert "13800000006" in listing and "13900000001" not in listing
    finding = Finding.objects.get(run=r, code="COMPLAINED_REGISTERED")
    detail = client.get(reverse("finding_detail", args=[finding.pk])).content.decode()
    assert "催收电话" in detail and "投诉" in detail
    report_ = client.get(reverse("run_report", args=[r.pk]))
    assert report_.status_code == 200
    home = client.get(reverse("home")).content.decode()
    assert 'data-testid="findings-panel"' in home


def test_a_regulator_starts_a_run_from_the_page(
    world, client_for, regulator_rita, financial_fiona, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(regulator_rita).post(reverse("run_list"), {"as_of": "2026-11-20"})
    r = ReconciliationRun.objects.get()
    assert response.status_code == 302 and r.status == RunStatus.DONE
    refused = client_for(financial_fiona).post(reverse("run_list"), {"as_of": "2026-11-20"})
    assert refused.status_code == 404
    assert ReconciliationRun.objects.count() == 1
