"""The report API (issue 11 §6): carriers create, upload, submit, list and read their own;
the administration lists, reads, compares, accepts and returns; the financial regulator
reads accepted reports; another carrier's report and every report of an institution are a
404 (issue 11 §5)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.workdays import SHANGHAI
from registry import services
from tests.conftest import _user
from tests.reports import report_csv, row, submitted_report

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _june(time_machine, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
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


def test_carrier_creates_uploads_submits(client_for, carrier_carol, tmp_path):
    client = client_for(carrier_carol)
    path = report_csv(tmp_path / "r.csv", [row("13800138000"), row("13800138001")])
    upload = SimpleUploadedFile("r.csv", path.read_bytes(), content_type="text/csv")
    response = client.post("/api/reports/upload/", {"quarter": "2026Q2", "file": upload})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["report"]["status"] == "draft" and body["report"]["quarter_code"] == "2026Q2"
    assert body["duplicate"] is False
    report_id = body["report"]["id"]
    job = services.upload_job_run(job_id=body["job"]["id"])  # what the worker does
    assert job.status == "done"
    lines = client.get(f"/api/reports/{report_id}/lines/", {"q": "13800138001"}).json()
    assert (
        lines["count"] == 1
        and lines["results"][0]["object_match"] == "organisation"
        or (lines["results"][0]["object_match"] in ("unknown",))
    )
    submitted = client.post(f"/api/reports/{report_id}/submit/")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["late_working_days"] == 0
    again = client.post(f"/api/reports/{report_id}/submit/")
    assert again.status_code == 400 and again.json()["code"] == "report_not_draft"
    listing = client.get("/api/reports/", {"quarter": "2026Q2"}).json()
    assert [r["id"] for r in listing["results"]] == [report_id]


def test_create_from_previous_and_conflict(client_for, carrier_carol, regulator_rita, carol_report):
    client = client_for(carrier_carol)
    response = client.post("/api/reports/", {"quarter": "2026Q2"}, content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "report_open"
    services.service_report_accept(actor=regulator_rita, report=carol_report)
    response = client.post(
        "/api/reports/",
        {"quarter": "2026Q3", "start_from": "previous"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["line_count"] == 2 and response.json()["based_on"] == carol_report.pk
    bad = client.post("/api/reports/", {"quarter": "2026Q9"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "quarter"


def test_regulator_compares_accepts_and_returns(
    client_for, carrier_carol, regulator_rita, carol_report
):
    client = client_for(regulator_rita)
    assert client.get(f"/api/reports/{carol_report.pk}/").json()["status"] == "submitted"
    response = client.post(
        f"/api/reports/{carol_report.pk}/return/", {"reason": ""}, content_type="application/json"
    )
    assert response.status_code == 400
    response = client.post(
        f"/api/reports/{carol_report.pk}/return/",
        {"reason": "缺少委托书编号"},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["return_reason"] == "缺少委托书编号"
    v2 = services.service_report_create(
        actor=carrier_carol,
        carrier=carrier_carol.organisation,
        year=2026,
        quarter=2,
        start_from="latest",
    )
    services.service_report_line_delete(
        actor=carrier_carol, report=v2, line=v2.lines.get(number="13800138001")
    )
    services.service_report_submit(actor=carrier_carol, report=v2)
    compare = client.get(f"/api/reports/{v2.pk}/compare/").json()
    assert compare["old"] == carol_report.pk and compare["new"] == v2.pk
    assert (compare["added"], compare["ended"], compare["changed"]) == (0, 1, 0)
    assert compare["ended_lines"][0]["number"] == "13800138001"
    url = f"/api/reports/{v2.pk}/compare/"
    assert client.get(url, {"limit": "1"}).status_code == 200
    # limit as its schema says: one positive integer; anything else a 400 (schemathesis)
    for bad in ("null", "0", "-1", str(2**64), ["5", "5"]):
        response = client.get(url, {"limit": bad})
        assert response.status_code == 400 and response.json()["code"] == "invalid", bad
    assert client.post(f"/api/reports/{v2.pk}/accept/").json()["status"] == "accepted"
    # a carrier neither accepts nor compares with what it cannot see
    carol = client_for(carrier_carol)
    assert carol.post(f"/api/reports/{v2.pk}/accept/").status_code == 403


@pytest.mark.parametrize("who", ["carrier_bert", "inst_alice", "financial_fiona"])
def test_tenancy_404(client_for, request, carol_report, who):
    """Issue 11 §5: carrier B gets 404 on A's reports, institutions see none, the financial
    regulator sees submitted (not accepted) reports as absent."""
    client = client_for(request.getfixturevalue(who))
    for url in (
        f"/api/reports/{carol_report.pk}/",
        f"/api/reports/{carol_report.pk}/lines/",
        f"/api/reports/{carol_report.pk}/compare/",
    ):
        assert client.get(url).status_code == 404, url
        assert client.get(url).json()["code"] == "not_found"
    for url in (
        f"/api/reports/{carol_report.pk}/submit/",
        f"/api/reports/{carol_report.pk}/accept/",
    ):
        assert client.post(url).status_code == 404, url
    if who == "inst_alice":
        assert client.get("/api/reports/").status_code == 404
    else:
        assert client.get("/api/reports/").json()["count"] == 0


def test_financial_regulator_reads_accepted(
    client_for, org_alice, financial_fiona, regulator_rita, carol_report
):
    """The lines serve alice's bank, which fiona supervises (issue 14 §6)."""
    services.service_report_accept(actor=regulator_rita, report=carol_report)
    client = client_for(financial_fiona)
    assert client.get(f"/api/reports/{carol_report.pk}/").status_code == 200
    assert client.get(f"/api/reports/{carol_report.pk}/lines/").json()["count"] == 2
    assert client.post(f"/api/reports/{carol_report.pk}/accept/").status_code == 403


def test_anonymous_is_401(client, carol_report):
    assert client.get("/api/reports/").status_code == 401
    assert client.get(f"/api/reports/{carol_report.pk}/").status_code == 401


def test_compare_with_a_bounded_id(client_for, regulator_rita, carol_report):
    client = client_for(regulator_rita)
    for value in ("0", "-1", "abc", str(2**64)):
        assert (
            client.get(f"/api/reports/{carol_report.pk}/compare/", {"with": value}).status_code
            == 404
        )
    assert client.get("/api/reports/", {"carrier": str(2**64)}).status_code == 400


def test_compare_limit_is_an_integer(client_for, regulator_rita, carol_report):
    """schemathesis: ``limit=null`` was answered 200 with the default limit."""
    client = client_for(regulator_rita)
    url = f"/api/reports/{carol_report.pk}/compare/"
    for value in ("null", "1.5", "abc", ""):
        response = client.get(url, {"with": carol_report.pk, "limit": value})
        assert response.status_code == 400 and response.json()["code"] == "invalid", value
    assert client.get(url, {"with": carol_report.pk, "limit": "5"}).status_code == 200


def test_schema_declares_the_report_endpoints(client_for, carrier_carol):
    schema = client_for(carrier_carol).get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for path in (
        "/api/reports/",
        "/api/reports/upload/",
        "/api/reports/{id}/",
        "/api/reports/{id}/lines/",
        "/api/reports/{id}/submit/",
        "/api/reports/{id}/accept/",
        "/api/reports/{id}/return/",
        "/api/reports/{id}/compare/",
    ):
        assert path in paths, path
    report = schema["components"]["schemas"]["ServiceReport"]["properties"]
    assert report["submitted_at"].get("nullable") is True
    assert "$ref" in str(report["status"])


def test_what_schemathesis_found_in_the_report_api(
    client_for, carrier_carol, inst_alice, carol_report
):
    """make api-contract: an institution's POST is the documented 404; a quarter outside
    the schema's pattern is a 400, one inside it filters (no report: empty); a ``flagged``
    other than true/false is a 400."""
    posted = client_for(inst_alice).post("/api/reports/", {}, content_type="application/json")
    assert posted.status_code == 404 and posted.json()["code"] == "not_found"
    carol = client_for(carrier_carol)
    assert carol.get("/api/reports/?quarter=I%7D%3E").status_code == 400
    assert carol.get("/api/reports/?quarter=0000Q1").json()["count"] == 0
    assert carol.get("/api/reports/?quarter=").status_code == 400
    lines = f"/api/reports/{carol_report.pk}/lines/"
    assert carol.get(lines + "?flagged=null").status_code == 400
    assert carol.get(lines + "?flagged=true&flagged=false").status_code == 400
    assert carol.get(lines + "?flagged=false").status_code == 200
