"""The dashboards' charts (issue 14 §5): each selector's figures against the rows they
count, the words shown when there is nothing to draw, and tenancy (issue 14 §6): a
financial regulator counts the institutions it supervises, an institution its own
findings and cases, a carrier its own cases. Each role's home page renders its panels.

The world is built in the tables (runs, findings, cases, complaints): the services that
write them have tests of their own; here only what the dashboards count is under test."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest

from oversight import charts
from oversight.cases import CaseStatus, DisposalCase, ExchangePackage
from oversight.models import (
    Complaint,
    Finding,
    FindingState,
    ReconciliationRun,
    RunStatus,
)
from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.creditcode import check_character
from tests.conftest import _org, _user

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 20, 18, 0, tzinfo=SHANGHAI)

pytestmark = pytest.mark.django_db


def code(first17: str) -> str:
    return first17 + check_character(first17)


def at(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _now(time_machine):
    time_machine.move_to(NOW)


@pytest.fixture
def org_dave(db):
    """A payment institution: outside fiona's scope (banks and consumer finance)."""
    return _org("institution", "丁支付", code("91330000MA2D0DE00"), "payment")


@pytest.fixture
def org_carrier2(db):
    return _org("carrier", "某联通公司", code("91330000MA2CAR0L2"))


@pytest.fixture
def carrier_chen(org_carrier2):
    return _user(org_carrier2, "chen")


@pytest.fixture
def inst_dave(org_dave):
    return _user(org_dave, "dave")


def make_run(as_of: dt.date, quarter: int, counts: dict, status=RunStatus.DONE):
    return ReconciliationRun.objects.create(
        as_of=as_of, year=as_of.year, quarter=quarter, status=status, counts=counts
    )


class Findings:
    """``add(run, code, institution, n, ...)``: n findings with distinct identities."""

    def __init__(self) -> None:
        self.serial = 0

    def add(self, run, code, institution=None, n=1, *, carrier=None, other=None, **extra):
        rows = []
        for _ in range(n):
            self.serial += 1
            rows.append(
                Finding(
                    run=run,
                    code=code,
                    identity=f"{code}:{self.serial}",
                    number=f"139{self.serial:08d}",
                    institution=institution,
                    other_institution=other,
                    carrier=carrier,
                    **extra,
                )
            )
        return Finding.objects.bulk_create(rows)


def case(finding, carrier, institution, status, deadline, reported_at=None, **extra):
    return DisposalCase.objects.create(
        case_number=f"CZ2026-{DisposalCase.objects.count() + 1:06d}",
        finding=finding,
        identity=finding.identity,
        code=finding.code,
        number=finding.number,
        carrier=carrier,
        institution=institution,
        action="suspend",
        status=status,
        ordered_at=deadline - dt.timedelta(days=7),
        deadline=deadline,
        reported_at=reported_at,
        **extra,
    )


def complaint(received_at, category, institution=None, number="13700000000"):
    return Complaint.objects.create(
        number=number,
        number_kind="mobile",
        received_at=received_at,
        channel="12321",
        category=category,
        content="骚扰电话",
        institution=institution,
    )


@pytest.fixture
def world(org_alice, org_bob, org_dave, org_carrier, org_carrier2, org_financial):
    """Alice (bank) and bob (consumer finance) are in fiona's scope; dave (payment) not.
    Carol's carrier serves alice and bob, chen's serves dave."""
    alice, bob, dave, carol, chen = org_alice, org_bob, org_dave, org_carrier, org_carrier2
    f = Findings()
    early_q3 = make_run(dt.date(2026, 8, 1), 3, {"UNREGISTERED": 4})
    f.add(early_q3, "UNREGISTERED", alice, 4, carrier=carol)
    q3 = make_run(dt.date(2026, 9, 20), 3, {"UNREGISTERED": 3})
    f.add(q3, "UNREGISTERED", alice, 2, carrier=carol)
    f.add(q3, "UNREGISTERED", dave, 1, carrier=chen)
    q4 = make_run(
        dt.date(2026, 11, 20),
        4,
        {
            "UNREGISTERED": 5,
            "UNREPORTED": 1,
            "DOUBLE_CLAIM": 1,
            "CARRIER_MISMATCH": 1,
            "COMPLAINED_UNREGISTERED": 1,
        },
    )
    make_run(dt.date(2026, 11, 21), 4, {}, status=RunStatus.FAILED)  # never counted
    pending = f.add(q4, "UNREGISTERED", alice, 2, carrier=carol)
    confirmed = f.add(q4, "UNREGISTERED", alice, 1, carrier=carol, review="confirmed")
    f.add(q4, "UNREGISTERED", dave, 1, carrier=chen)
    f.add(q4, "UNREGISTERED", dave, 1, carrier=chen, review="dismissed")
    f.add(q4, "UNREPORTED", alice, 1)
    f.add(q4, "DOUBLE_CLAIM", alice, 1, other=dave)
    mismatch = f.add(q4, "CARRIER_MISMATCH", bob, 1, carrier=carol)
    f.add(q4, "COMPLAINED_UNREGISTERED", None, 1)
    f.add(q4, "UNREGISTERED", alice, 1, carrier=carol, state=FindingState.RESOLVED)

    # Findings of the superseded run that only the cases name (one case per finding).
    (a4,) = f.add(early_q3, "UNREPORTED", alice, 1)
    d1, d2 = f.add(early_q3, "UNREPORTED", dave, 2)
    a1, a2, a3 = (*pending, *confirmed)
    cases = {
        "on_time": case(a1, carol, alice, CaseStatus.CLOSED, at(11, 10), at(11, 9)),
        "late": case(a2, carol, alice, CaseStatus.CLOSED, at(11, 10), at(11, 12)),
        "pending": case(mismatch[0], carol, bob, CaseStatus.ORDERED, at(11, 25)),
        "overdue": case(a3, carol, alice, CaseStatus.ORDERED, at(11, 18)),
        "disputed": case(d1, chen, dave, CaseStatus.DISPUTED, at(11, 15)),
        "reported": case(d2, chen, dave, CaseStatus.REPORTED, at(11, 10), at(11, 12)),
        "reversed": case(a4, carol, alice, CaseStatus.REVERSED, at(11, 10)),
    }

    complaint(at(11, 1, 9), "collection", alice)
    complaint(at(11, 1, 0, 30), "marketing", alice)  # 2026-10-31 16:30 UTC: November here
    complaint(at(10, 31, 23, 30), "marketing", alice)
    complaint(at(11, 5), "collection", dave)
    complaint(at(6, 10), "other", None)
    complaint(at(11, 30, year=2025), "collection", alice)  # outside the last 12 months

    other_fr = _org("financial_regulator", "另一金融管理局", code("11330000MB1F2N000"))
    ExchangePackage.objects.create(
        year=2026, quarter=3, recipient=org_financial, sent_on=dt.date(2026, 10, 15)
    )
    ExchangePackage.objects.create(year=2026, quarter=2, recipient=other_fr)
    return {"q3": q3, "q4": q4, "cases": cases, "orgs": (alice, bob, dave, carol, chen)}


def figures(chart) -> dict:
    return dict(zip(chart.labels, chart.totals, strict=True))


def stacked(chart) -> dict:
    return {
        label: {s.label: s.data[i] for s in chart.series} for i, label in enumerate(chart.labels)
    }


# --- the figures ------------------------------------------------------------------------


def test_findings_by_code_counts_open_findings_of_the_latest_run_by_review(world, regulator_rita):
    run = charts.latest_run()
    assert run == world["q4"]  # the failed run after it is not a result
    chart = charts.findings_by_code(regulator_rita, run)
    assert chart.labels == ["未登记", "未报送", "运营商不符", "多机构登记", "被投诉号码未登记"]
    assert stacked(chart)["未登记"] == {"待研判": 3, "已确认": 1, "已排除": 1}
    assert chart.total == 9 == run.total  # the resolved one is not counted
    assert chart.stacked and chart.has_data


def test_findings_by_quarter_takes_the_last_finished_run_of_each_quarter(
    world, regulator_rita, financial_fiona
):
    """The administration reads the runs' counts; a financial regulator counts its own
    findings: both are the latest finished run of each quarter (not the early Q3 run)."""
    assert figures(charts.findings_by_quarter(regulator_rita)) == {
        "2026年第3季度": 3,
        "2026年第4季度": 9,
    }
    assert figures(charts.findings_by_quarter(financial_fiona)) == {
        "2026年第3季度": 2,
        "2026年第4季度": 6,  # alice 5 (with the double claim), bob 1
    }


def test_the_runs_counts_agree_with_the_findings(world, regulator_rita):
    """The administration's shortcut (the run's own counts) and the count of its findings
    give the same figure."""
    by_rows = charts._open_findings(regulator_rita, [world["q4"].pk]).count()
    assert by_rows == world["q4"].total == 9


def test_top_institutions_and_carriers(world, regulator_rita):
    alice, bob, dave, carol, chen = world["orgs"]
    run = world["q4"]
    top = charts.top_institutions(regulator_rita, run)
    # alice: 3 unregistered, 1 unreported, 1 double claim; dave: 2 + the double claim
    assert top.labels == ["甲银行", "丁支付", "乙消费金融"]
    assert top.totals == [5, 3, 1] and top.horizontal
    carriers = charts.top_carriers(regulator_rita, run)
    assert figures(carriers) == {carol.name: 4, chen.name: 2}


def test_top_lists_stop_at_ten(regulator_rita, org_carrier):
    run = make_run(dt.date(2026, 11, 20), 4, {})
    f = Findings()
    for i in range(12):
        org = _org("institution", f"机构{i:02d}", code(f"91330000MA2X{i:05d}"), "bank")
        f.add(run, "UNREPORTED", org, i + 1)
    top = charts.top_institutions(regulator_rita, run)
    assert len(top.labels) == 10 and top.totals[0] == 12 and top.totals[-1] == 3


def test_disposal_timeliness(world, regulator_rita):
    """On time = reported by the deadline and closed; overdue = awaiting the carrier past
    the deadline (the overdue marking of issue 14 §2); a reversed case is not counted."""
    chart = charts.disposal_timeliness(regulator_rita)
    assert figures(chart) == {
        "按期办结": 1,
        "逾期办结": 1,
        "办理中（未逾期）": 2,  # ordered before its deadline; reported, awaiting verification
        "已逾期未处置": 2,  # ordered and disputed, both past the deadline
    }
    assert chart.kind == "doughnut" and chart.unit == "件"


def test_complaints_per_month_in_shanghai_months(world, regulator_rita):
    """Months are Asia/Shanghai's: 00:30 on 1 November is November, not UTC's October."""
    chart = charts.complaints_per_month(regulator_rita)
    assert chart.labels[0] == "2025年12月" and chart.labels[-1] == "2026年11月"
    assert len(chart.labels) == 12
    months = stacked(chart)
    assert months["2026年11月"] == {"营销": 1, "催收": 2, "其他": 0}
    assert months["2026年10月"] == {"营销": 1, "催收": 0, "其他": 0}
    assert months["2026年6月"]["其他"] == 1
    assert chart.total == 5  # November 2025 is outside the twelve months


def test_cases_by_status_and_the_lists(world, carrier_carol, regulator_rita):
    assert figures(charts.cases_by_status(carrier_carol)) == {
        "待处置": 2,
        "已反馈待核验": 0,
        "运营商有异议": 0,
        "已办结": 2,
        "已撤销（申诉成立）": 1,
    }
    rows, total = charts.open_cases(carrier_carol)
    assert [c.pk for c in rows] == [world["cases"]["overdue"].pk, world["cases"]["pending"].pk]
    assert total == 2 and rows[0].is_overdue and not rows[1].is_overdue
    overdue, n = charts.overdue_cases(regulator_rita)
    assert n == 2
    assert [c.pk for c in overdue] == [world["cases"]["disputed"].pk, world["cases"]["overdue"].pk]
    assert overdue[0].code_label == "未报送"


def test_a_chart_carries_its_numbers_for_the_page(world, regulator_rita):
    chart = charts.disposal_timeliness(regulator_rita)
    config = chart.config()
    assert config["type"] == "doughnut" and config["labels"][0] == "按期办结"
    assert config["datasets"][0]["data"] == [1, 1, 2, 2]
    assert len(config["datasets"][0]["colour"]) == 4
    assert (
        chart.summary
        == "共 6 件：按期办结 1 件，逾期办结 1 件，办理中（未逾期） 2 件，已逾期未处置 2 件"
    )


# --- nothing to draw ----------------------------------------------------------------------


def test_without_data_every_chart_says_why(regulator_rita):
    texts = {chart.key: chart.empty for chart in charts.overview(regulator_rita)}
    assert not any(chart.has_data for chart in charts.overview(regulator_rita))
    assert texts["findings-code"] == "还没有完成的比对"
    assert texts["timeliness"] == "还没有处置案件"
    assert texts["complaints-month"] == "近 12 个月没有收到投诉"


def test_a_run_without_findings_says_so(regulator_rita):
    make_run(dt.date(2026, 11, 20), 4, {})
    chart = charts.findings_by_code(regulator_rita, charts.latest_run())
    assert not chart.has_data and chart.empty == "2026-11-20 的比对中没有未消除的问题线索"


def test_empty_charts_are_words_on_the_page_not_canvases(client_for, regulator_rita):
    body = client_for(regulator_rita).get("/").content.decode()
    assert "<canvas" not in body
    assert body.count('data-testid="chart-empty"') == 6
    assert "暂无数据：还没有完成的比对" in body
    assert "暂无数据：还没有处置案件" in body
    assert "没有逾期未处置的案件" in body


def test_a_carrier_without_cases_reads_the_words(client_for, carrier_carol):
    body = client_for(carrier_carol).get("/").content.decode()
    assert "暂无数据：还没有处置案件" in body and "没有待办的处置案件" in body
    assert "<canvas" not in body


# --- tenancy ----------------------------------------------------------------------------


def test_a_financial_regulator_counts_only_the_institutions_it_supervises(world, financial_fiona):
    """Issue 14 §6: fiona supervises banks and consumer finance (alice, bob), not dave's
    payment institution; dave appears in none of her figures, not even as the other side
    of alice's double claim."""
    alice, bob, dave, carol, chen = world["orgs"]
    run = world["q4"]
    top = charts.top_institutions(financial_fiona, run)
    assert figures(top) == {"甲银行": 5, "乙消费金融": 1}
    assert figures(charts.top_carriers(financial_fiona, run)) == {carol.name: 4}
    by_code = stacked(charts.findings_by_code(financial_fiona, run))
    assert by_code["未登记"] == {"待研判": 2, "已确认": 1, "已排除": 0}
    assert "被投诉号码未登记" not in by_code  # about no institution
    assert figures(charts.disposal_timeliness(financial_fiona)) == {
        "按期办结": 1,
        "逾期办结": 1,
        "办理中（未逾期）": 1,
        "已逾期未处置": 1,
    }
    months = stacked(charts.complaints_per_month(financial_fiona))
    assert months["2026年11月"] == {"营销": 1, "催收": 1, "其他": 0}
    assert charts.complaints_per_month(financial_fiona).total == 2 + 1
    packages = charts.exchange_packages(financial_fiona)
    assert [(p.year, p.quarter) for p in packages] == [(2026, 3)]


def test_a_scope_change_changes_the_charts(world, financial_fiona, org_financial, org_dave):
    """The figures kept in the cache are keyed on the scope: a new scope, new figures."""
    before = charts.top_institutions(financial_fiona, world["q4"])
    assert figures(before) == {"甲银行": 5, "乙消费金融": 1}
    accounts.organisation_set_scope(
        actor=SYSTEM, organisation=org_financial, categories=["bank"], institutions=[org_dave]
    )
    financial_fiona.organisation.refresh_from_db()
    top = charts.top_institutions(financial_fiona, world["q4"])
    assert figures(top) == {"甲银行": 5, "丁支付": 3}


def test_a_runs_figures_are_kept_until_a_review_changes_them(
    world, regulator_rita, django_assert_max_num_queries
):
    """A finished run's figures come from the cache on the next load (no scan of its
    findings); a review (issue 14 §1) writes a decision, and the next load counts again."""
    from oversight.casework import finding_review

    run = world["q4"]
    first = stacked(charts.findings_by_code(regulator_rita, run))
    charts.top_institutions(regulator_rita, run)
    with django_assert_max_num_queries(1):  # the latest decision's id, nothing else
        assert stacked(charts.findings_by_code(regulator_rita, run)) == first
    with django_assert_max_num_queries(1):  # the names of the ten
        charts.top_institutions(regulator_rita, run)
    pending = Finding.objects.filter(run=run, code="UNREGISTERED", review="pending")[:2]
    finding_review(
        actor=regulator_rita, findings=list(pending), decision="confirmed", reason="核实属实"
    )
    after = stacked(charts.findings_by_code(regulator_rita, run))["未登记"]
    assert after == {"待研判": 1, "已确认": 3, "已排除": 1}


def test_an_institution_counts_only_its_own(world, inst_alice, inst_bob):
    run = world["q4"]
    alice_codes = stacked(charts.findings_by_code(inst_alice, run))
    assert set(alice_codes) == {"未登记", "未报送", "多机构登记"}
    assert sum(charts.findings_by_code(inst_alice, run).totals) == 5
    assert figures(charts.findings_by_code(inst_bob, run)) == {"运营商不符": 1}
    rows, total = charts.open_cases(inst_bob)
    assert [c.pk for c in rows] == [world["cases"]["pending"].pk] and total == 1
    assert charts.case_counts(inst_alice) == {"open": 1, "overdue": 1, "closed": 2, "reversed": 1}
    assert charts.exchange_packages(inst_alice) == []
    assert charts.complaints_per_month(inst_alice).total == 0  # complaints are the overseers'


def test_a_carrier_counts_only_its_own_cases(world, carrier_carol, carrier_chen):
    chen_rows, _ = charts.open_cases(carrier_chen)
    assert {c.pk for c in chen_rows} == {
        world["cases"]["disputed"].pk,
        world["cases"]["reported"].pk,
    }
    assert figures(charts.cases_by_status(carrier_chen)) == {
        "待处置": 0,
        "已反馈待核验": 1,
        "运营商有异议": 1,
        "已办结": 0,
        "已撤销（申诉成立）": 0,
    }
    assert charts.disposal_timeliness(carrier_carol).total == 4  # its own, not chen's


# --- the home pages ---------------------------------------------------------------------


def chart_data(body: str) -> dict:
    """The json_script payloads on a page, by element id."""
    found = re.findall(r'<script id="([^"]+)" type="application/json">(.*?)</script>', body, re.S)
    return {key: json.loads(text) for key, text in found}


def test_regulator_home_draws_the_charts_and_lists_overdue_cases(world, client_for, regulator_rita):
    response = client_for(regulator_rita).get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="charts-panel"' in body and 'data-testid="overdue-panel"' in body
    assert body.count("<canvas") == 6
    assert 'aria-label="处置时效。共 6 件' in body
    assert body.count('data-testid="overdue-case"') == 2
    assert world["cases"]["overdue"].case_number in body
    data = chart_data(body)
    assert data["chart-timeliness-data"]["datasets"][0]["data"] == [1, 1, 2, 2]
    assert data["chart-top-institutions-data"]["labels"] == ["甲银行", "丁支付", "乙消费金融"]
    # Chart.js and its drawer once each, after the page's own scripts
    assert body.count("vendor/chartjs/chart.umd.min.js") == 1
    assert body.count("oversight/charts.js") == 1
    assert body.index("chart.umd.min.js") < body.index("oversight/charts.js")


def test_financial_regulator_home(world, client_for, financial_fiona):
    response = client_for(financial_fiona).get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="exchange-panel"' in body and 'data-testid="charts-panel"' in body
    assert "2026 年第 3 季度" in body and "2026-10-15" in body
    assert "2026 年第 2 季度" not in body  # another regulator's package
    assert "仅统计贵单位监管范围内的 2 家机构" in body
    assert "丁支付" not in body
    assert 'data-testid="overdue-panel"' not in body
    data = chart_data(body)
    assert data["chart-top-institutions-data"]["labels"] == ["甲银行", "乙消费金融"]


def test_financial_regulator_without_packages(client_for, financial_fiona):
    body = client_for(financial_fiona).get("/").content.decode()
    assert "还没有发给贵单位的信息交换数据包" in body


def test_institution_home(world, client_for, inst_alice):
    response = client_for(inst_alice).get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="institution-oversight-panel"' in body
    assert body.count("<canvas") == 1
    assert 'data-testid="chart-table-findings-code"' in body  # its counts, visible
    assert world["cases"]["overdue"].case_number in body and "已逾期" in body
    assert world["cases"]["pending"].case_number not in body  # bob's case
    assert world["cases"]["disputed"].case_number not in body  # dave's case
    assert "处置中 <strong" in body
    assert 'data-testid="charts-panel"' not in body
    data = chart_data(body)
    assert sum(sum(d["data"]) for d in data["chart-findings-code-data"]["datasets"]) == 5


def test_carrier_home_lists_open_cases_by_deadline_overdue_in_red(world, client_for, carrier_carol):
    response = client_for(carrier_carol).get("/")
    assert response.status_code == 200
    body = response.content.decode()
    overdue, pending = world["cases"]["overdue"], world["cases"]["pending"]
    assert body.index(overdue.case_number) < body.index(pending.case_number)
    assert body.count('class="table-danger" data-testid="case-row"') == 1
    assert body.count('data-testid="case-overdue"') == 1
    assert "2026-11-18 10:00" in body  # deadline in Asia/Shanghai
    assert world["cases"]["disputed"].case_number not in body  # chen's
    assert body.count("<canvas") == 1
    assert chart_data(body)["chart-case-status-data"]["datasets"][0]["data"] == [2, 0, 0, 2, 1]
