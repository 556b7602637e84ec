"""The quarterly exchange package for the financial regulators (issue 14 §4; 000 §三(二):
each quarter the two sides exchange the communication resources in use, the suspected
violations, the complaints and the disposal results).

A small world in 2026Q4: alice's bank and bob's consumer finance company, which fiona's
regulator supervises, and a small-loan company that it does not (a local regulator does).
Numbers are written straight into the register (the register has its own tests); the
review, the disposal and the appeal go through the casework services."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from oversight import casework, exchange
from oversight.cases import DisposalCase, ExchangePackage, Review
from oversight.models import (
    Complaint,
    Finding,
    FindingState,
    ReconciliationRun,
    RunStatus,
)
from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.errors import NotPermitted, PortalError
from portal.models import AuditEvent, Notice
from registry.models import Partner, RegisteredNumber
from tests.commands import run, run_failing
from tests.conftest import _org, _user

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 20, 18, 0, tzinfo=SHANGHAI)
LOAN_CODE = "91330100MA2XD0001B"  # 丙小额贷款公司: outside fiona's scope
LOCAL_CODE = "11330000MB1DF0001G"  # the local financial regulator that supervises it
PARTNER_CODE = "91330100MA2PART01W"
SECRET_CONTACT = "13912345678"
SECRET_TEXT = "投诉人住址杭州市西湖区某某路八号"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now(settings, tmp_path, time_machine):
    settings.MEDIA_ROOT = tmp_path / "media"
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def org_loan(db):
    return _org("institution", "丙小额贷款公司", LOAN_CODE, "small_loan")


@pytest.fixture
def org_local(db):
    """A local financial regulator (地方金融管理局): small-loan companies."""
    org = _org("financial_regulator", "某地方金融管理局", LOCAL_CODE)
    return accounts.organisation_set_scope(
        actor=SYSTEM, organisation=org, categories=["small_loan"]
    )


@pytest.fixture
def local_lucy(org_local):
    return _user(org_local, "lucy", role="viewer")


@pytest.fixture
def loan_sam(org_loan):
    return _user(org_loan, "sam")


def reg(org, number, *, kind="mobile", purpose="collection", carrier="中国移动", **extra):
    values = {
        "valid_from": dt.date(2026, 1, 1),
        "user_type": "self",
        "user_name": "本机构",
        "created_at": dt.datetime(2026, 10, 1, tzinfo=SHANGHAI),
    } | extra
    return RegisteredNumber.objects.create(
        institution=org,
        number=number,
        kind=kind,
        purpose=purpose,
        carrier=carrier,
        fingerprint="x",
        **values,
    )


def finding(run_, code, number, *, institution=None, carrier=None, state="new", **extra):
    return Finding.objects.create(
        run=run_,
        code=code,
        identity=f"{code}:{number}:{getattr(institution, 'pk', '')}",
        state=state,
        number=number,
        institution=institution,
        carrier=carrier,
        **extra,
    )


def complaint(number, received, category, institution=None, excluded=""):
    return Complaint.objects.create(
        number=number,
        number_kind="mobile",
        received_at=received,
        channel="12321",
        category=category,
        content=SECRET_TEXT,
        contact=SECRET_CONTACT,
        institution=institution,
        excluded_reason=excluded,
    )


def pdf(name="凭证.pdf"):
    return SimpleUploadedFile(name, b"%PDF-1.4\n" + b"0" * 200, content_type="application/pdf")


@pytest.fixture
def world(
    org_alice,
    org_bob,
    org_loan,
    org_carrier,
    org_financial,
    org_local,
    regulator_rita,
    inst_alice,
    carrier_carol,
    loan_sam,
    financial_fiona,
):
    """Numbers, a finished cross-match with findings, cases, complaints and appeals."""
    partner = Partner.objects.create(
        institution=org_alice,
        name="某催收服务公司",
        credit_code=PARTNER_CODE,
        kind="collection",
        valid_from=dt.date(2026, 1, 1),
    )
    # alice: in use on 2026-11-20 -> 5 (two mobiles, a main port and its sub-port, a
    # partner's number); not in use -> 3 (ended, period over, registered after the day).
    reg(org_alice, "13800138000")
    reg(org_alice, "13800138001", purpose="marketing")
    reg(org_alice, "1069012345", kind="sms_port", purpose="marketing")
    reg(
        org_alice,
        "10690123450001",
        kind="sms_port",
        purpose="marketing",
        is_sub_port=True,
        main_port="1069012345",
    )
    reg(
        org_alice,
        "13700137000",
        user_type="partner",
        user_name=partner.name,
        user_credit_code=PARTNER_CODE,
        partner=partner,
        valid_to=dt.date(2026, 12, 31),
    )
    reg(
        org_alice,
        "13600136000",
        status="ended",
        closed_at=dt.datetime(2026, 11, 1, tzinfo=SHANGHAI),
    )
    reg(org_alice, "13500135000", valid_to=dt.date(2026, 10, 31))
    reg(org_alice, "13400134000", created_at=dt.datetime(2026, 11, 21, 9, tzinfo=SHANGHAI))
    # bob: one landline; the small-loan company: one mobile (outside fiona's scope).
    reg(org_bob, "057187654321", kind="landline", carrier="中国电信", purpose="both")
    reg(org_loan, "13300133000")

    def done_run(as_of, year=2026, quarter=4):
        return ReconciliationRun.objects.create(
            as_of=as_of, year=year, quarter=quarter, status=RunStatus.DONE
        )

    old = done_run(dt.date(2026, 10, 15))  # an earlier run of the quarter: not the one used
    finding(old, "UNREPORTED", "13800138099", institution=org_alice)
    done_run(dt.date(2026, 9, 30), quarter=3)
    latest = done_run(dt.date(2026, 11, 19))
    f_alice = finding(latest, "UNREPORTED", "13800138000", institution=org_alice)
    f_bob = finding(latest, "UNREGISTERED", "13900139000", institution=org_bob, carrier=org_carrier)
    finding(
        latest,
        "DOUBLE_CLAIM",
        "13300133000",
        institution=org_loan,
        other_institution=org_alice,
    )
    finding(latest, "UNLICENSED", "13200132000", carrier=org_carrier, object_name="某公司")
    f_loan = finding(
        latest, "COMPLAINED_REGISTERED", "13300133000", institution=org_loan, complaint_count=4
    )
    finding(latest, "UNREPORTED", "13800138001", institution=org_alice, state="resolved")

    rita = regulator_rita
    casework.finding_review(
        actor=rita, findings=[f_alice, f_bob, f_loan], decision="confirmed", reason="核实属实"
    )
    for f in (f_alice, f_bob, f_loan):
        f.refresh_from_db()
    case_alice = casework.case_order(
        actor=rita, finding=f_alice, action="suspend", carrier=org_carrier
    )
    case_bob = casework.case_order(actor=rita, finding=f_bob, action="close")
    casework.case_report(
        actor=carrier_carol,
        case=case_bob,
        action_taken="close",
        action_date=dt.date(2026, 11, 20),
        note="已关停",
        evidence=pdf(),
    )
    casework.case_order(actor=rita, finding=f_loan, action="rectify", carrier=org_carrier)
    # alice appeals its case, and the administration upholds it: the case is reversed.
    appeal = casework.appeal_lodge(actor=inst_alice, finding=f_alice, reasons="合法催收号码")
    casework.appeal_decide(actor=rita, appeal=appeal, upheld=True, reason="委托材料齐全")
    casework.appeal_lodge(actor=loan_sam, finding=f_loan, reasons="投诉为恶意投诉")
    # Cases of the third quarter: one closed then (not in Q4), one still open and overdue.
    DisposalCase.objects.create(
        finding=f_alice,
        identity="Q3-closed",
        code="UNREPORTED",
        number="13800138098",
        carrier=org_carrier,
        institution=org_alice,
        action="suspend",
        status="closed",
        ordered_at=dt.datetime(2026, 8, 3, 10, tzinfo=SHANGHAI),
        deadline=dt.datetime(2026, 8, 10, 23, 59, tzinfo=SHANGHAI),
        reported_at=dt.datetime(2026, 8, 5, 10, tzinfo=SHANGHAI),
        verified_at=dt.datetime(2026, 8, 6, 10, tzinfo=SHANGHAI),
        case_number="CZ2026-900001",
    )
    DisposalCase.objects.create(
        finding=f_bob,
        identity="Q3-open",
        code="UNREGISTERED",
        number="13900139098",
        carrier=org_carrier,
        institution=org_bob,
        action="suspend",
        status="ordered",
        ordered_at=dt.datetime(2026, 9, 21, 10, tzinfo=SHANGHAI),
        deadline=dt.datetime(2026, 9, 28, 23, 59, tzinfo=SHANGHAI),
        case_number="CZ2026-900002",
    )
    # Complaints of the quarter (and one of the third quarter, not counted).
    q4 = dt.datetime(2026, 10, 12, 9, tzinfo=SHANGHAI)
    complaint("13800138000", q4, "collection", org_alice)
    complaint("13800138000", q4, "collection", org_alice, excluded="异常投诉组 #1")
    complaint("13800138001", q4, "marketing", org_alice)
    complaint("057187654321", q4, "other", org_bob)
    complaint("13300133000", q4, "collection", org_loan)
    complaint("13100131000", q4, "collection")
    complaint("13800138000", dt.datetime(2026, 9, 30, 23, tzinfo=SHANGHAI), "collection", org_alice)
    return {"latest": latest, "case_bob": case_bob, "case_alice": case_alice}


def contents(recipient=None):
    return exchange.Contents(year=2026, quarter=4, recipient=recipient, now=timezone.now())


def by(rows, key):
    return {row[key]: row for row in rows}


# --- the contents -------------------------------------------------------------------------


def test_the_resources_in_use_are_those_of_the_supervised_institutions_on_the_day(
    world, org_financial
):
    """000 §三(二): the list of communication resources in use, per institution: in force at
    the end of the day and inside the cooperation period (as the cross-match reads them)."""
    data = contents(org_financial).data()
    numbers = [(r["institution"], r["number"]) for r in data["resources"]]
    assert numbers == [
        ("乙消费金融", "057187654321"),
        ("甲银行", "1069012345"),
        ("甲银行", "10690123450001"),
        ("甲银行", "13700137000"),
        ("甲银行", "13800138000"),
        ("甲银行", "13800138001"),
    ]
    rows = by(data["resources"], "number")
    assert rows["10690123450001"] == {
        "institution": "甲银行",
        "credit_code": "91330000MA2A1CE00B",
        "number": "10690123450001",
        "kind": "子端口",
        "main_port": "1069012345",
        "purpose": "营销",
        "user_type": "本机构",
        "user_name": "本机构",
        "user_credit_code": "",
        "carrier": "中国移动",
        "valid_from": "2026-01-01",
        "valid_to": "",
    }
    assert rows["13700137000"]["user_type"] == "委托合作单位"
    assert rows["13700137000"]["user_credit_code"] == PARTNER_CODE
    assert rows["13700137000"]["valid_to"] == "2026-12-31"
    assert rows["057187654321"]["kind"] == "固话"
    assert rows["057187654321"]["purpose"] == "营销及催收"


def test_the_institution_summary_counts_by_kind_purpose_and_casework(world, org_financial):
    data = contents(org_financial).data()
    summary = by(data["institutions"], "institution")
    assert list(summary) == ["乙消费金融", "甲银行"]  # every supervised one, by name
    assert summary["甲银行"] == {
        "institution": "甲银行",
        "credit_code": "91330000MA2A1CE00B",
        "licence": "银行",
        "resources": 5,
        "mobile": 3,
        "landline": 0,
        "short": 0,
        "tollfree": 0,
        "sms_port": 2,
        "sub_port": 1,
        "marketing": 3,
        "collection": 2,
        "both": 0,
        "partner": 1,
        # its UNREPORTED finding, and the small-loan company's DOUBLE_CLAIM naming it
        "findings": 2,
        # its reversed Q4 case (the Q3 one closed in Q3 is not of this quarter)
        "cases": 1,
        "complaints": 3,
        "appeals": 1,
    }
    bob = summary["乙消费金融"]
    counted = ("resources", "landline", "both", "findings", "cases", "complaints", "appeals")
    # its Q4 case and the Q3 one still open
    assert [bob[key] for key in counted] == [1, 1, 1, 1, 2, 1, 0]


def test_the_findings_are_the_open_ones_of_the_quarters_latest_run_with_their_review(
    world, org_financial
):
    """000 §三(三): a finding is evidence; the package says what the review made of it."""
    findings = contents(org_financial).data()["findings"]
    assert [(f["code"], f["number"]) for f in findings] == [
        ("DOUBLE_CLAIM", "13300133000"),  # the small-loan company's, naming alice
        ("UNREGISTERED", "13900139000"),  # bob's
        ("UNREPORTED", "13800138000"),  # alice's; its resolved one is not there
    ]
    rows = by(findings, "code")
    assert rows["UNREGISTERED"]["review"] == "已确认"
    assert rows["UNREGISTERED"]["review_reason"] == "核实属实"
    assert rows["UNREGISTERED"]["carrier"] == "某移动公司"
    assert rows["UNREGISTERED"]["code_label"] == "未登记"
    assert rows["DOUBLE_CLAIM"]["institution"] == "丙小额贷款公司"
    assert rows["DOUBLE_CLAIM"]["other_institution"] == "甲银行"
    # The upheld appeal dismissed alice's finding (002).
    assert rows["UNREPORTED"]["review"] == "已排除"
    assert rows["UNREPORTED"]["review_reason"].startswith("申诉成立")


def test_the_cases_of_the_quarter_with_their_timeliness(world, org_financial):
    cases = by(contents(org_financial).data()["cases"], "number")
    assert set(cases) == {"13800138000", "13900139000", "13900139098"}
    alice, bob, carried = cases["13800138000"], cases["13900139000"], cases["13900139098"]
    assert alice["status"] == "已撤销（申诉成立）" and alice["timeliness"] == "已撤销"
    assert alice["action"] == "暂停" and alice["ordered_on"] == "2026-11-20"
    assert alice["case_number"] == world["case_alice"].case_number
    assert bob["status"] == "已反馈待核验" and bob["timeliness"] == "按期"
    assert bob["action_taken"] == "关停" and bob["action_date"] == "2026-11-20"
    assert bob["reported_on"] == "2026-11-20"
    assert bob["deadline"] == timezone.localtime(world["case_bob"].deadline).date().isoformat()
    # Ordered in Q3, still awaiting the carrier past its deadline: carried over, overdue.
    assert carried["timeliness"] == "逾期" and carried["ordered_on"] == "2026-09-21"


def test_complaints_are_counted_by_institution_and_category_never_shown(world, org_financial):
    """000 §三(四) complaint statistics; 000 §二(一)5: the complainant's contact and the
    text stay out. A complaint in a group marked abnormal (003) is counted apart."""
    rows = contents(org_financial).data()["complaints"]
    assert [
        (r["institution"], r["category"], r["total"], r["countable"], r["excluded"]) for r in rows
    ] == [
        ("乙消费金融", "其他", 1, 1, 0),
        ("甲银行", "营销", 1, 1, 0),
        ("甲银行", "催收", 2, 1, 1),
    ]


def test_the_appeals_of_the_quarter_and_their_outcomes(world, org_financial, org_local):
    """002: appeal and relief; the financial regulator learns the outcome."""
    appeals = contents(org_financial).data()["appeals"]
    assert len(appeals) == 1
    (appeal,) = appeals
    assert (appeal["number"], appeal["institution"], appeal["appellant"]) == (
        "13800138000",
        "甲银行",
        "甲银行",
    )
    assert appeal["status"] == "申诉成立" and appeal["decision_reason"] == "委托材料齐全"
    assert appeal["case_number"] == world["case_alice"].case_number
    assert appeal["lodged_on"] == appeal["decided_on"] == "2026-11-20"
    # The small-loan company's pending appeal goes to its own regulator.
    local = contents(org_local).data()["appeals"]
    assert [(a["number"], a["status"]) for a in local] == [("13300133000", "待处理")]


def test_the_province_package_has_every_institution(world):
    data = contents().data()
    assert [r["institution"] for r in data["institutions"]] == [
        "丙小额贷款公司",
        "乙消费金融",
        "甲银行",
    ]
    assert "13300133000" in {r["number"] for r in data["resources"]}
    assert {f["code"] for f in data["findings"]} >= {"UNLICENSED", "COMPLAINED_REGISTERED"}
    assert ("（未关联机构）", "催收", 1) in {
        (r["institution"], r["category"], r["total"]) for r in data["complaints"]
    }
    assert data["meta"]["recipient"] == "全省（全部金融机构）"
    assert data["meta"]["complaints"] == 6 and data["meta"]["appeals"] == 2


def test_the_workbook_reads_back_as_the_data(world, org_financial):
    """The xlsx and the JSON are one package: the workbook read back is ``data()``."""
    package = contents(org_financial)
    stream = io.BytesIO()
    counts = package.write_xlsx(stream)
    stream.seek(0)
    assert exchange.read_package(stream) == package.data()
    assert counts == {
        "institutions": 2,
        "resources": 6,
        "findings": 3,
        "cases": 3,
        "complaints": 4,
        "appeals": 1,
    }
    assert counts == package.counts()
    stream.seek(0)
    wb = openpyxl.load_workbook(stream, read_only=True)
    assert wb.sheetnames == [
        "说明",
        "机构汇总",
        "在用通信资源",
        "问题线索",
        "处置情况",
        "投诉统计",
        "申诉情况",
    ]
    notes = {row[0]: row[1] for row in wb["说明"].iter_rows(values_only=True) if row and row[0]}
    assert notes["季度"] == "2026Q4"
    assert notes["接收单位"] == "某金融监管局"
    assert notes["生成时间（北京时间）"] == "2026-11-20 18:00:00"
    assert notes["在用资源统计日"] == "2026-11-20"
    assert notes["统计期间"] == "2026-10-01 至 2026-12-31"
    assert notes["在用通信资源（条）"] == 6
    header = next(wb["在用通信资源"].iter_rows(values_only=True))
    assert header[:4] == ("机构名称", "统一社会信用代码", "号码", "号码类型")
    # Numbers stay text (no 1.38E+10 in the regulator's Excel).
    assert wb["在用通信资源"]["C2"].value == "057187654321"


def test_no_complainant_data_anywhere_in_the_package(world, org_financial):
    stream = io.BytesIO()
    contents().write_xlsx(stream)
    with zipfile.ZipFile(io.BytesIO(stream.getvalue())) as archive:
        xml = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    assert SECRET_CONTACT not in xml and SECRET_TEXT not in xml
    text = json.dumps(contents(org_financial).data(), ensure_ascii=False)
    assert SECRET_CONTACT not in text and SECRET_TEXT not in text


def test_a_quarter_that_has_not_begun_is_refused(world, org_financial):
    with pytest.raises(PortalError) as exc:
        exchange.Contents(year=2027, quarter=1, recipient=org_financial, now=timezone.now())
    assert exc.value.code == "quarter" and "尚未开始" in exc.value.message
    with pytest.raises(PortalError):
        exchange.quarter_as_of(1999, 4)


def test_a_past_quarter_counts_its_resources_on_its_last_day(world, org_financial):
    """Q3 ends on 2026-09-30: alice's numbers registered on 2026-10-01 were not in use."""
    package = exchange.Contents(year=2026, quarter=3, recipient=org_financial, now=timezone.now())
    assert package.as_of == dt.date(2026, 9, 30)
    assert package.data()["resources"] == []
    assert [c["number"] for c in package.data()["cases"]] == ["13900139098", "13800138098"]


# --- the verbs ------------------------------------------------------------------------------


def test_generating_stores_the_package_audits_and_tells_the_regulator(
    world, regulator_rita, org_financial, financial_fiona
):
    package = exchange.exchange_package_generate(
        actor=regulator_rita, year=2026, quarter=4, recipient=org_financial
    )
    assert package.counts == {
        "institutions": 2,
        "resources": 6,
        "findings": 3,
        "cases": 3,
        "complaints": 4,
        "appeals": 1,
        "as_of": "2026-11-20",
        "run": world["latest"].pk,
    }
    assert package.generated_by == regulator_rita and package.file
    with package.file.open("rb") as handle:
        assert exchange.read_package(handle) == contents(org_financial).data()
    event = AuditEvent.objects.filter(action="exchange.generate").get()
    assert event.summary["quarter"] == "2026Q4" and event.summary["created"] is True
    notice = Notice.objects.get(recipient=financial_fiona, kind="exchange.generated")
    assert "2026Q4" in notice.title
    assert notice.url == reverse("exchange_detail", args=[package.pk])


def test_regenerating_replaces_the_file_and_starts_the_record_again(
    world,
    regulator_rita,
    org_financial,
    financial_fiona,
    org_alice,
    django_capture_on_commit_callbacks,
):
    first = exchange.exchange_package_generate(
        actor=regulator_rita, year=2026, quarter=4, recipient=org_financial
    )
    old_name = first.file.name
    exchange.exchange_package_download(actor=financial_fiona, package=first)
    exchange.exchange_package_mark_sent(
        actor=regulator_rita, package=first, sent_on=dt.date(2026, 11, 20)
    )
    reg(org_alice, "13900139999")
    with django_capture_on_commit_callbacks(execute=True):
        again = exchange.exchange_package_generate(
            actor=SYSTEM, year=2026, quarter=4, recipient=org_financial
        )
    assert again.pk == first.pk and ExchangePackage.objects.count() == 1
    assert again.counts["resources"] == 7
    assert (again.sent_on, again.downloads, again.generated_by) == (None, 0, None)
    assert again.file.name != old_name
    assert not again.file.storage.exists(old_name)
    event = AuditEvent.objects.filter(action="exchange.generate").order_by("-pk").first()
    assert event.summary["before"]["sent_on"] == "2026-11-20"
    assert event.summary["before"]["downloads"] == 1


def test_only_the_administrations_writers_generate(world, org_financial, financial_fiona, request):
    for who in ("financial_fiona", "inst_alice", "carrier_carol"):
        with pytest.raises(NotPermitted):
            exchange.exchange_package_generate(
                actor=request.getfixturevalue(who), year=2026, quarter=4, recipient=org_financial
            )
    viewer = _user(request.getfixturevalue("org_regulator"), "vera", role="viewer")
    with pytest.raises(NotPermitted):
        exchange.exchange_package_generate(
            actor=viewer, year=2026, quarter=4, recipient=org_financial
        )
    with pytest.raises(PortalError) as exc:
        exchange.exchange_package_generate(
            actor=SYSTEM, year=2026, quarter=4, recipient=request.getfixturevalue("org_alice")
        )
    assert exc.value.code == "recipient"


def test_marking_sent_records_the_day_not_in_the_future(world, regulator_rita, org_financial):
    package = exchange.exchange_package_generate(
        actor=SYSTEM, year=2026, quarter=4, recipient=org_financial
    )
    for day in (dt.date(2026, 11, 21), dt.date(2026, 11, 19), None):
        with pytest.raises(PortalError) as exc:
            exchange.exchange_package_mark_sent(actor=regulator_rita, package=package, sent_on=day)
        assert exc.value.field == "sent_on"
    package = exchange.exchange_package_mark_sent(
        actor=regulator_rita, package=package, sent_on=dt.date(2026, 11, 20), note="联席会议"
    )
    assert (package.sent_on, package.sent_note, package.sent_by) == (
        dt.date(2026, 11, 20),
        "联席会议",
        regulator_rita,
    )
    event = AuditEvent.objects.get(action="exchange.sent")
    assert event.summary["sent_on"] == "2026-11-20"


def test_the_financial_regulator_cannot_mark_sent(world, org_financial, financial_fiona):
    package = exchange.exchange_package_generate(
        actor=SYSTEM, year=2026, quarter=4, recipient=org_financial
    )
    with pytest.raises(NotPermitted):
        exchange.exchange_package_mark_sent(
            actor=financial_fiona, package=package, sent_on=dt.date(2026, 11, 20)
        )


# --- pages ----------------------------------------------------------------------------------


@pytest.fixture
def packages(world, org_financial, org_local):
    return {
        org.pk: exchange.exchange_package_generate(
            actor=SYSTEM, year=2026, quarter=4, recipient=org
        )
        for org in (org_financial, org_local)
    }


def test_the_regulator_lists_every_package_and_generates_from_the_page(
    client_for, regulator_rita, packages, org_financial
):
    client = client_for(regulator_rita)
    page = client.get(reverse("exchange_list")).content.decode()
    assert page.count('data-testid="exchange-row"') == 2
    assert "生成本季度数据包" in page and "某地方金融管理局" in page
    response = client.post(
        reverse("exchange_generate"), {"quarter": "2026Q4", "recipient": str(org_financial.pk)}
    )
    package = packages[org_financial.pk]
    assert response.status_code == 302 and response.url == reverse(
        "exchange_detail", args=[package.pk]
    )
    response = client.post(reverse("exchange_generate"), {"quarter": "2026Q4", "recipient": "all"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="exchange.generate").count() == 5


def test_the_regulator_marks_a_package_sent_on_the_page(
    client_for, regulator_rita, packages, org_financial
):
    package = packages[org_financial.pk]
    client = client_for(regulator_rita)
    refused = client.post(reverse("exchange_sent", args=[package.pk]), {"sent_on": "2026-11-21"})
    assert refused.status_code == 400 and "不能晚于今天" in refused.content.decode()
    done = client.post(
        reverse("exchange_sent", args=[package.pk]), {"sent_on": "2026-11-20", "note": "已送达"}
    )
    assert done.status_code == 302
    detail = client.get(reverse("exchange_detail", args=[package.pk])).content.decode()
    assert "已发送" in detail and "2026-11-20" in detail and "已送达" in detail


def test_the_financial_regulator_sees_and_downloads_only_its_own(
    client_for, financial_fiona, packages, org_financial, org_local
):
    mine, theirs = packages[org_financial.pk], packages[org_local.pk]
    client = client_for(financial_fiona)
    page = client.get(reverse("exchange_list")).content.decode()
    assert page.count('data-testid="exchange-row"') == 1
    assert 'data-testid="exchange-generate-form"' not in page
    assert 'data-testid="exchange-sent-form"' not in page
    detail = client.get(reverse("exchange_detail", args=[mine.pk]))
    assert detail.status_code == 200 and "下载数据包" in detail.content.decode()
    response = client.get(reverse("exchange_download", args=[mine.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    body = b"".join(response.streaming_content)
    data = exchange.read_package(io.BytesIO(body))
    assert {r["institution"] for r in data["institutions"]} == {"甲银行", "乙消费金融"}
    assert "13300133000" not in {r["number"] for r in data["resources"]}
    mine.refresh_from_db()
    assert mine.downloads == 1
    event = AuditEvent.objects.get(action="exchange.download")
    assert event.actor == financial_fiona and event.summary["by_recipient"] is True
    # Another regulator's package: 404 everywhere; and no writing for fiona.
    for name in ("exchange_detail", "exchange_download"):
        assert client.get(reverse(name, args=[theirs.pk])).status_code == 404
    sent = client.post(reverse("exchange_sent", args=[mine.pk]), {"sent_on": "2026-11-20"})
    assert sent.status_code == 404
    generate = client.post(reverse("exchange_generate"), {"quarter": "2026Q4", "recipient": "all"})
    assert generate.status_code == 404


def test_the_regulators_download_is_audited_but_not_counted(
    client_for, regulator_rita, packages, org_financial
):
    package = packages[org_financial.pk]
    response = client_for(regulator_rita).get(reverse("exchange_download", args=[package.pk]))
    assert response.status_code == 200
    package.refresh_from_db()
    assert package.downloads == 0
    assert AuditEvent.objects.get(action="exchange.download").summary["by_recipient"] is False


@pytest.mark.parametrize("who", ["inst_alice", "carrier_carol"])
def test_institutions_and_carriers_have_no_exchange_pages(
    client_for, request, who, packages, org_financial
):
    package = packages[org_financial.pk]
    client = client_for(request.getfixturevalue(who))
    assert client.get(reverse("exchange_list")).status_code == 404
    for name in ("exchange_detail", "exchange_download"):
        assert client.get(reverse(name, args=[package.pk])).status_code == 404
    assert client.post(reverse("exchange_sent", args=[package.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="exchange.download").exists()


def test_the_menu_entry_is_for_the_two_regulators(
    client_for, regulator_rita, financial_fiona, inst_alice
):
    link = f'href="{reverse("exchange_list")}"'
    assert link in client_for(financial_fiona).get(reverse("home")).content.decode()
    assert link in client_for(regulator_rita).get(reverse("home")).content.decode()
    assert link not in client_for(inst_alice).get(reverse("home")).content.decode()


# --- API ------------------------------------------------------------------------------------


def test_the_api_lists_and_serves_the_data_of_ones_own_packages(
    client_for, financial_fiona, packages, org_financial, org_local
):
    mine, theirs = packages[org_financial.pk], packages[org_local.pk]
    client = client_for(financial_fiona)
    listing = client.get(reverse("oversight-exchange-list")).json()
    assert [p["id"] for p in listing["results"]] == [mine.pk]
    item = listing["results"][0]
    assert item["quarter_code"] == "2026Q4" and item["recipient"]["id"] == org_financial.pk
    assert item["counts"]["resources"] == 6 and item["counts"]["as_of"] == "2026-11-20"
    data = client.get(reverse("oversight-exchange-data", args=[mine.pk]))
    assert data.status_code == 200 and data["Content-Type"] == "application/json"
    body = json.loads(b"".join(data.streaming_content))
    assert body == json.loads(json.dumps(contents(org_financial).data()))
    mine.refresh_from_db()
    assert mine.downloads == 1
    assert AuditEvent.objects.get(action="exchange.download").summary["format"] == "json"
    assert client.get(reverse("oversight-exchange-detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("oversight-exchange-data", args=[theirs.pk])).status_code == 404
    xlsx = client.get(reverse("oversight-exchange-download", args=[mine.pk]))
    assert xlsx.status_code == 200
    refused = client.post(
        reverse("oversight-exchange-mark-sent", args=[mine.pk]),
        {"sent_on": "2026-11-20"},
        content_type="application/json",
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


def test_the_api_filters_by_quarter(client_for, regulator_rita, packages):
    client = client_for(regulator_rita)
    url = reverse("oversight-exchange-list")
    assert client.get(url, {"quarter": "2026Q4"}).json()["count"] == 2
    assert client.get(url, {"quarter": "2026Q3"}).json()["count"] == 0
    assert client.get(url, {"quarter": "2026Q5"}).status_code == 400
    assert client.get(url, {"quarter": ""}).status_code == 400


def test_the_administration_generates_and_marks_sent_through_the_api(
    client_for, regulator_rita, world, org_financial
):
    client = client_for(regulator_rita)
    url = reverse("oversight-exchange-generate")
    body = {"quarter": "2026Q4", "recipient": org_financial.pk}
    created = client.post(url, body, content_type="application/json")
    assert created.status_code == 201, created.json()
    again = client.post(url, body, content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    future = client.post(url, body | {"quarter": "2027Q1"}, content_type="application/json")
    assert future.status_code == 400 and future.json()["code"] == "quarter"
    nobody = client.post(url, body | {"recipient": 999999}, content_type="application/json")
    assert nobody.status_code == 400 and nobody.json()["code"] == "recipient"
    sent = client.post(
        reverse("oversight-exchange-mark-sent", args=[created.json()["id"]]),
        {"sent_on": "2026-11-20", "note": "联席会议前送达"},
        content_type="application/json",
    )
    assert sent.status_code == 200 and sent.json()["sent_on"] == "2026-11-20"
    assert sent.json()["sent_by"] == regulator_rita.username


@pytest.mark.parametrize("who", ["inst_alice", "carrier_carol"])
def test_institutions_and_carriers_get_404_from_the_api(
    client_for, request, who, packages, org_financial
):
    package = packages[org_financial.pk]
    client = client_for(request.getfixturevalue(who))
    assert client.get(reverse("oversight-exchange-list")).status_code == 404
    for name in ("oversight-exchange-detail", "oversight-exchange-data"):
        response = client.get(reverse(name, args=[package.pk]))
        assert response.status_code == 404 and response.json()["code"] == "not_found"


# --- the command line -----------------------------------------------------------------------


def test_the_command_generates_every_regulators_package_and_writes_the_province(
    world, tmp_path, financial_fiona, local_lucy
):
    out = tmp_path / "交换" / "province.xlsx"
    line = run("exchange_package", "--quarter", "2026Q4", "--out", str(out))
    assert line == {
        "quarter": "2026Q4",
        "packages": 2,
        "institutions": 3,
        "resources": 7,
        "findings": 5,
        "cases": 4,
        "complaints": 6,
        "appeals": 2,
        "out": str(out),
    }
    assert ExchangePackage.objects.filter(year=2026, quarter=4).count() == 2
    with open(out, "rb") as handle:
        data = exchange.read_package(handle)
    assert data == contents().data() | {"meta": data["meta"]}
    assert data["meta"]["recipient"] == "全省（全部金融机构）"
    assert AuditEvent.objects.filter(action="exchange.export").count() == 1
    assert Notice.objects.filter(recipient=local_lucy, kind="exchange.generated").count() == 1
    # Again, without --out: refreshed, nothing written, the same counts.
    again = run("exchange_package", "--quarter", "2026q4")
    assert again == line | {"out": None}
    assert ExchangePackage.objects.count() == 2


@pytest.mark.parametrize(
    ("quarter", "message"), [("2026Q5", "季度应为 1–4"), ("2027Q1", "尚未开始"), ("x", "格式")]
)
def test_the_command_refuses_a_bad_quarter(world, quarter, message):
    assert message in run_failing("exchange_package", "--quarter", quarter)
    assert not ExchangePackage.objects.exists()


def test_review_is_carried_into_the_package(world, org_financial):
    """A decision taken after generation is in the next generation, not in the stored one."""
    package = exchange.exchange_package_generate(
        actor=SYSTEM, year=2026, quarter=4, recipient=org_financial
    )
    f = Finding.objects.get(run=world["latest"], code="DOUBLE_CLAIM")
    assert f.review == Review.PENDING and f.state == FindingState.NEW
    with package.file.open("rb") as handle:
        stored = exchange.read_package(handle)
    assert by(stored["findings"], "code")["DOUBLE_CLAIM"]["review"] == "待研判"
