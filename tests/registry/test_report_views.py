"""The report pages (issue 11 §2, §4, §5): carrier B never sees carrier A's reports (404);
an institution sees no carrier reports at all; the financial regulator reads accepted
reports; anonymous users go to the login."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.workdays import SHANGHAI
from registry import services
from registry.models import ReportStatus
from tests.conftest import _user
from tests.reports import report_csv, row, submitted_report, upload_report

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _june(time_machine):
    time_machine.move_to(dt.datetime(2026, 6, 15, 10, 0, tzinfo=SHANGHAI), tick=False)


@pytest.fixture
def carrier_bert(db):
    org, _ = accounts.organisation_create(
        actor=SYSTEM, kind="carrier", name="某联通公司", credit_code="91330000MA2CAR0L1C"
    )
    return _user(org, "bert")


@pytest.fixture
def carol_report(carrier_carol, tmp_path):
    return submitted_report(carrier_carol, tmp_path, ["13800138000", "13800138001"])


def pages(report) -> list[str]:
    return [
        f"/reports/{report.pk}/",
        f"/reports/{report.pk}/compare/",
    ]


def test_carrier_sees_its_report_and_the_deadline(client_for, carrier_carol, carol_report):
    client = client_for(carrier_carol)
    page = client.get("/reports/").content.decode()
    assert "2026 年第 2 季度" in page and "2026-06-23 24:00" in page
    assert "还有 5 个工作日" in page  # 16, 17, 18, (19 端午), 22, 23 June
    detail = client.get(f"/reports/{carol_report.pk}/")
    assert detail.status_code == 200
    assert "13800138000" in detail.content.decode()


@pytest.mark.parametrize("who", ["carrier_bert", "inst_alice", "inst_bob"])
def test_other_carriers_and_institutions_get_404(client_for, request, carol_report, who):
    """Issue 11 §5: carrier B never sees carrier A's reports; institutions see none."""
    client = client_for(request.getfixturevalue(who))
    for url in pages(carol_report):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/reports/{carol_report.pk}/submit/",
        f"/reports/{carol_report.pk}/accept/",
        f"/reports/{carol_report.pk}/return/",
        f"/reports/{carol_report.pk}/new-version/",
    ):
        assert client.post(url).status_code == 404, url
    if who != "carrier_bert":
        assert client.get("/reports/").status_code == 404
    else:
        assert "13800138000" not in client.get("/reports/").content.decode()


def test_anonymous_goes_to_login(client, carol_report):
    response = client.get(f"/reports/{carol_report.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_financial_regulator_reads_accepted_reports_only(
    client_for, financial_fiona, regulator_rita, carol_report
):
    """Issue 11 §5: the financial regulator reads accepted reports."""
    client = client_for(financial_fiona)
    assert client.get(f"/reports/{carol_report.pk}/").status_code == 404  # submitted only
    services.service_report_accept(actor=regulator_rita, report=carol_report)
    assert client.get(f"/reports/{carol_report.pk}/").status_code == 200
    assert client.post(f"/reports/{carol_report.pk}/return/", {"reason": "x"}).status_code == 404
    listing = client.get("/reports/?quarter=2026Q2").content.decode()
    assert f'href="/reports/{carol_report.pk}/"' in listing


def test_regulator_never_sees_a_draft(client_for, regulator_rita, carrier_carol, tmp_path):
    report, _ = upload_report(carrier_carol, report_csv(tmp_path / "r.csv", [row("13800138000")]))
    assert client_for(regulator_rita).get(f"/reports/{report.pk}/").status_code == 404


def test_regulator_reviews_compares_and_accepts(
    client_for, regulator_rita, carrier_carol, carol_report
):
    client = client_for(regulator_rita)
    listing = client.get("/reports/?quarter=2026Q2").content.decode()
    assert "某移动公司" in listing and "第 1 版" in listing
    page = client.get(f"/reports/{carol_report.pk}/?q=138 0013 8001").content.decode()
    assert "13800138001" in page and "13800138000" not in page
    assert 'data-testid="accept-report"' in page
    response = client.post(f"/reports/{carol_report.pk}/return/", {"reason": "请补充委托书编号"})
    assert response.status_code == 302
    carol_report.refresh_from_db()
    assert carol_report.status == ReportStatus.RETURNED
    carol = client_for(carrier_carol).get(f"/reports/{carol_report.pk}/").content.decode()
    assert "请补充委托书编号" in carol


def test_regulator_dashboard_lists_carriers_not_submitted(
    client_for, regulator_rita, carrier_carol, carrier_bert, carol_report
):
    """Issue 11 §3: the regulator's dashboard lists carriers not yet submitted."""
    page = client_for(regulator_rita).get("/").content.decode()
    assert 'data-testid="reports-due-panel"' in page
    panel = page.split('data-testid="reports-due-panel"')[1].split("</ul>")[0]
    assert "某联通公司" in panel and "某移动公司" not in panel


def test_carrier_dashboard_links_the_deadline_card_to_the_report(client_for, carrier_carol):
    """Issue 11 §9: the deadline card links to the report; no API placeholder text."""
    page = client_for(carrier_carol).get("/").content.decode()
    assert 'data-testid="deadline-report-link"' in page and 'href="/reports/"' in page
    assert "/api/deadlines/" not in page
    assert 'data-testid="report-panel"' in page


def test_carrier_viewer_cannot_write(client_for, carrier_carol, carol_report):
    viewer = _user(carrier_carol.organisation, "vic", role="viewer")
    client = client_for(viewer)
    assert client.get(f"/reports/{carol_report.pk}/").status_code == 200
    assert client.get("/reports/upload/").status_code == 403
    assert client.post("/reports/new/", {"quarter": "2026Q2"}).status_code == 403


def test_online_editing_and_submit_from_the_page(
    client_for, carrier_carol, regulator_rita, tmp_path
):
    client = client_for(carrier_carol)
    response = client.post("/reports/new/", {"quarter": "2026Q2", "start_from": "empty"})
    assert response.status_code == 302
    report = carrier_carol.organisation.service_reports.get()
    url = f"/reports/{report.pk}/lines/new/"
    bad = client.post(
        url,
        {
            "number": "123",
            "object_name": "甲银行",
            "object_credit_code": "91330000MA2A1CE00B",
            "purpose": "营销",
            "valid_from": "2026-01-01",
        },
    )
    assert bad.status_code == 200 and not report.lines.exists()
    assert 'data-testid="error-number"' in bad.content.decode()
    ok = client.post(
        url,
        {
            "number": "13800138000",
            "object_name": "甲银行",
            "object_credit_code": "91330000MA2A1CE00B",
            "purpose": "营销",
            "valid_from": "2026-01-01",
        },
    )
    assert ok.status_code == 302
    line = report.lines.get()
    client.post(f"/reports/{report.pk}/lines/{line.pk}/end/", {"end_date": "2026-06-30"})
    line.refresh_from_db()
    assert line.valid_to == dt.date(2026, 6, 30)
    client.post(f"/reports/{report.pk}/submit/")
    report.refresh_from_db()
    assert report.status == ReportStatus.SUBMITTED and report.late_working_days == 0


def test_template_download(client_for, carrier_carol):
    response = client_for(carrier_carol).get("/reports/template.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
