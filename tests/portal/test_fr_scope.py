"""The financial regulator sees the institutions in its scope (issue 14 §6), on every page
and API it has: fiona supervises banks and consumer finance companies (tests/conftest.py),
so alice's bank and bob's consumer finance company are hers, and charlie's small-loan
company (小额贷款公司, licensed by the local financial regulator) is not. Hers she reads; of
charlie's she gets a 404, and her lists and exports leave it out (000 §二(一)5: the data of
different institutions isolated, access controlled). The administration sets her scope on
the organisation's page or with ``create_organisation --supervises``, audited."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.urls import reverse

from filings import services as filing_services
from oversight import services as oversight_services
from oversight.models import Finding, FindingCode, ReconciliationRun, RunStatus
from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.auditlabels import describe
from portal.creditcode import check_character
from portal.errors import NotPermitted, PortalError
from portal.models import AuditEvent, Organisation
from portal.workdays import SHANGHAI
from registry import selectors as registry_selectors
from registry import services as registry_services
from tests.commands import run, run_failing
from tests.conftest import CODES, _user, with_totp
from tests.filings.conftest import columns
from tests.registry.conftest import OTHER_PARTNER_CODE, PARTNER_CODE, register, save_partner
from tests.reports import UNKNOWN, report_csv, row, upload_report
from tests.uploads import import_file, register_csv

pytestmark = pytest.mark.django_db

CHARLIE_CODE = "91330100MA2CHAR01" + check_character("91330100MA2CHAR01")
NEW_FR_CODE = "11330000MB1F1N001" + check_character("11330000MB1F1N001")
ALICE_NUMBER = "13800138000"
CHARLIE_NUMBER = "13600136000"


@pytest.fixture
def org_charlie(db):
    org, _ = accounts.organisation_create(
        actor=SYSTEM,
        kind="institution",
        name="丙小额贷款公司",
        credit_code=CHARLIE_CODE,
        licence_category="small_loan",
    )
    return org


@pytest.fixture
def inst_charlie(org_charlie):
    return _user(org_charlie, "charlie")


@pytest.fixture
def fiona(client_for, financial_fiona):
    return client_for(financial_fiona)


# --- the registry: numbers, partners, imports -----------------------------------------------


@pytest.fixture
def numbers(fixed_day, inst_alice, inst_charlie):
    return register(inst_alice, ALICE_NUMBER), register(inst_charlie, CHARLIE_NUMBER)


def _sheet_values(content: bytes) -> list[str]:
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    return [str(cell.value) for r in ws.iter_rows() for cell in r if cell.value is not None]


def test_numbers_pages_api_and_export_show_only_her_institutions(fiona, numbers, org_charlie):
    alice, charlie = numbers
    page = fiona.get(reverse("registry_number_list")).content.decode()
    assert ALICE_NUMBER in page and CHARLIE_NUMBER not in page
    assert org_charlie.name not in page  # not even in the institution filter
    # Asking for charlie's institution by id finds nothing either.
    by_id = fiona.get(reverse("registry_number_list"), {"institution": org_charlie.pk})
    assert CHARLIE_NUMBER not in by_id.content.decode()
    assert fiona.get(reverse("registry_number_detail", args=[alice.pk])).status_code == 200
    assert fiona.get(reverse("registry_number_detail", args=[charlie.pk])).status_code == 404

    export = fiona.get(reverse("registry_number_export"))
    cells = _sheet_values(b"".join(export.streaming_content))
    assert ALICE_NUMBER in cells and CHARLIE_NUMBER not in cells

    listing = fiona.get("/api/registry/numbers/").json()
    assert [n["number"] for n in listing["results"]] == [ALICE_NUMBER]
    assert fiona.get(f"/api/registry/numbers/{alice.pk}/").status_code == 200
    assert fiona.get(f"/api/registry/numbers/{charlie.pk}/").status_code == 404


def test_the_administration_still_reads_every_institution(client_for, regulator_rita, numbers):
    rita = client_for(regulator_rita)
    page = rita.get(reverse("registry_number_list")).content.decode()
    assert ALICE_NUMBER in page and CHARLIE_NUMBER in page
    assert rita.get(f"/api/registry/numbers/{numbers[1].pk}/").status_code == 200


def test_partners_of_charlie_are_not_hers(fiona, fixed_day, inst_alice, inst_charlie):
    mine = save_partner(inst_alice, name="某催收服务公司")
    theirs = save_partner(inst_charlie, code=OTHER_PARTNER_CODE, name="某营销策划公司")
    page = fiona.get(reverse("registry_partner_list")).content.decode()
    assert mine.name in page and theirs.name not in page
    listing = fiona.get("/api/registry/partners/").json()
    assert [p["id"] for p in listing["results"]] == [mine.pk]
    assert fiona.get(f"/api/registry/partners/{mine.pk}/").status_code == 200
    assert fiona.get(f"/api/registry/partners/{theirs.pk}/").status_code == 404
    document = "registry_partner_document"
    assert fiona.get(reverse(document, args=[mine.pk])).status_code == 200
    assert fiona.get(reverse(document, args=[theirs.pk])).status_code == 404


def test_register_uploads_of_charlie_are_not_hers(
    fiona, fixed_day, inst_alice, inst_charlie, tmp_path
):
    mine = import_file(inst_alice, register_csv(tmp_path / "a.csv", ["13800138000", "12345"]))
    theirs = import_file(inst_charlie, register_csv(tmp_path / "c.csv", ["13600136000", "1"]))
    assert mine.error_report and theirs.error_report
    page = fiona.get(reverse("registry_import_list")).content.decode()
    assert reverse("registry_import_detail", args=[mine.pk]) in page
    assert reverse("registry_import_detail", args=[theirs.pk]) not in page
    for job, expected in ((mine, 200), (theirs, 404)):
        for url in (
            f"/registry/imports/{job.pk}/",
            f"/uploads/{job.pk}/",
            f"/uploads/{job.pk}/errors.xlsx",
            f"/api/uploads/{job.pk}/",
            f"/api/registry/imports/{job.pk}/",
            f"/api/uploads/{job.pk}/error-report/",
        ):
            assert fiona.get(url).status_code == expected, url
    for url in ("/api/uploads/", "/api/registry/imports/"):
        assert [j["id"] for j in fiona.get(url).json()["results"]] == [mine.pk], url


def test_a_carriers_upload_and_the_administrations_complaint_list_are_not_hers(
    fiona, fixed_day, carrier_carol, org_alice, tmp_path
):
    """A carrier's report file names every institution it serves: its job is not in the
    financial regulator's scope, though the accepted report is (below)."""
    report, job = upload_report(
        carrier_carol, report_csv(tmp_path / "r.csv", [row(ALICE_NUMBER)]), (2026, 1)
    )
    assert job.status == "done"
    assert fiona.get(f"/uploads/{job.pk}/").status_code == 404
    assert fiona.get("/api/uploads/").json()["count"] == 0


# --- carriers' service-object reports ------------------------------------------------------


@pytest.fixture
def report(fixed_day, carrier_carol, regulator_rita, inst_alice, org_bob, org_charlie, tmp_path):
    """Carol's accepted 2026Q1 report: a line for each way a line serves an institution."""
    save_partner(inst_alice)  # alice's collection agency (PARTNER_CODE)
    lines = [
        row("13800138000"),  # alice's bank itself: hers
        row("13800138001", 服务对象名称="丙小额贷款公司", 服务对象统一社会信用代码=CHARLIE_CODE),
        # alice's agency, no entrusting institution declared: alice's, so hers
        row("13800138002", 服务对象名称="某催收服务公司", 服务对象统一社会信用代码=PARTNER_CODE),
        # an unknown agency declared for bob: hers
        row(
            "13800138003",
            服务对象名称="某未知公司",
            服务对象统一社会信用代码=UNKNOWN,
            委托金融机构名称="乙消费金融",
            委托金融机构统一社会信用代码=CODES["bob"],
        ),
        # alice's agency declared for charlie: the declared institution counts, not hers
        row(
            "13800138004",
            服务对象名称="某催收服务公司",
            服务对象统一社会信用代码=PARTNER_CODE,
            委托金融机构名称="丙小额贷款公司",
            委托金融机构统一社会信用代码=CHARLIE_CODE,
        ),
        # an unknown service object for nobody: not hers
        row("13800138005", 服务对象名称="某未知公司", 服务对象统一社会信用代码=UNKNOWN),
    ]
    report, job = upload_report(carrier_carol, report_csv(tmp_path / "r.csv", lines), (2026, 1))
    assert job.status == "done", job.message
    registry_services.service_report_submit(actor=carrier_carol, report=report)
    return registry_services.service_report_accept(actor=regulator_rita, report=report)


HERS = ["13800138000", "13800138002", "13800138003"]


def test_report_lines_are_those_of_her_institutions(fiona, client_for, regulator_rita, report):
    assert fiona.get(reverse("service_report_list"), {"quarter": "2026Q1"}).status_code == 200
    page = fiona.get(reverse("service_report_detail", args=[report.pk])).content.decode()
    shown = [n for n in (f"1380013800{i}" for i in range(6)) if n in page]
    assert shown == HERS
    assert 'data-testid="scope-note"' in page
    body = fiona.get(f"/api/reports/{report.pk}/lines/").json()
    assert sorted(line["number"] for line in body["results"]) == HERS
    searched = fiona.get(f"/api/reports/{report.pk}/lines/", {"q": "13800138001"}).json()
    assert searched["count"] == 0
    # The administration reads every line.
    rita = client_for(regulator_rita)
    assert rita.get(f"/api/reports/{report.pk}/lines/").json()["count"] == 6


def test_she_has_no_compare_of_versions(fiona, report):
    """A compare counts and lists every line of two versions: not hers to read."""
    page = fiona.get(reverse("service_report_detail", args=[report.pk])).content.decode()
    assert 'data-testid="compare-link"' not in page
    assert fiona.get(reverse("service_report_compare", args=[report.pk])).status_code == 404
    assert fiona.get(f"/api/reports/{report.pk}/compare/").status_code == 404


# --- bulk-SMS filings -----------------------------------------------------------------------


@pytest.fixture
def filings(fixed_day, carrier_carol, org_alice, org_charlie):
    def file(**changes):
        values = filing_services.values_from_columns(
            columns(**changes), carrier=carrier_carol.organisation
        )
        return filing_services.filing_create(
            actor=carrier_carol, carrier=carrier_carol.organisation, values=values
        )

    mine = file()  # sent by alice's bank
    theirs = file(
        发送主体名称="丙小额贷款公司",
        发送主体统一社会信用代码=CHARLIE_CODE,
        短信签名="【丙小贷】",
        短信内容="【丙小贷】尊敬的客户，借款优惠至月底。回T退订",
    )
    # Sent by alice's agency on behalf of charlie: charlie's, so not hers.
    entrusted = file(
        发送主体名称="某催收服务公司",
        发送主体统一社会信用代码=PARTNER_CODE,
        委托金融机构名称="丙小额贷款公司",
        委托金融机构统一社会信用代码=CHARLIE_CODE,
    )
    return mine, theirs, entrusted


def test_filings_pages_api_and_export_show_only_her_institutions(fiona, filings):
    mine, theirs, entrusted = filings
    page = fiona.get(reverse("filing_list")).content.decode()
    assert reverse("filing_detail", args=[mine.pk]) in page
    assert reverse("filing_detail", args=[theirs.pk]) not in page
    assert reverse("filing_detail", args=[entrusted.pk]) not in page
    assert fiona.get(reverse("filing_detail", args=[mine.pk])).status_code == 200
    for other in (theirs, entrusted):
        assert fiona.get(reverse("filing_detail", args=[other.pk])).status_code == 404
        assert fiona.get(f"/api/filings/{other.pk}/").status_code == 404
    assert fiona.get(f"/api/filings/{mine.pk}/").status_code == 200
    assert [f["id"] for f in fiona.get("/api/filings/").json()["results"]] == [mine.pk]
    export = fiona.get(reverse("filing_export"))
    cells = _sheet_values(b"".join(export.streaming_content))
    assert "甲银行" in cells and "丙小额贷款公司" not in cells
    calendar = fiona.get(reverse("filing_calendar"), {"month": "2026-03"}).content.decode()
    assert "丙小贷" not in calendar


# --- organisations ---------------------------------------------------------------------------


def test_organisations_she_sees(
    fiona, financial_fiona, org_alice, org_bob, org_charlie, org_carrier, org_regulator
):
    """Herself, the institutions in her scope, and the carriers (public service providers
    named on every report, filing and case she reads); not charlie, not the
    administration."""
    page = fiona.get(reverse("organisation_list")).content.decode()
    for org in (financial_fiona.organisation, org_alice, org_bob, org_carrier):
        assert org.name in page
        assert fiona.get(reverse("organisation_detail", args=[org.pk])).status_code == 200
    for org in (org_charlie, org_regulator):
        assert org.name not in page
        assert fiona.get(reverse("organisation_detail", args=[org.pk])).status_code == 404


def test_the_registry_dashboard_counts_her_institutions(fiona, financial_fiona, numbers, org_bob):
    assert fiona.get(reverse("home")).status_code == 200
    summary = registry_selectors.regulator_summary(user=financial_fiona)
    assert summary["institutions_total"] == 2  # alice's and bob's, not charlie's
    assert summary["numbers_total"] == summary["institutions_registered"] == 1


# --- oversight: complaints and findings ----------------------------------------------------


def _complaint(actor, institution: Organisation, number: str, reference: str):
    return oversight_services.complaint_create(
        actor=actor,
        number=number,
        received_at=dt.datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI),
        channel="12321",
        category="marketing",
        content="推销电话",
        contact="13600000001",
        reference=reference,
        institution_name=institution.name,
    )


def test_complaints_of_charlie_are_not_hers(
    fiona, fixed_day, regulator_rita, org_alice, org_charlie
):
    mine = _complaint(regulator_rita, org_alice, "13800138000", "R-1")
    theirs = _complaint(regulator_rita, org_charlie, "13600136000", "R-2")
    page = fiona.get(reverse("complaint_list")).content.decode()
    assert reverse("complaint_detail", args=[mine.pk]) in page
    assert reverse("complaint_detail", args=[theirs.pk]) not in page
    assert fiona.get(reverse("complaint_detail", args=[mine.pk])).status_code == 200
    assert fiona.get(reverse("complaint_detail", args=[theirs.pk])).status_code == 404
    api = reverse("oversight-complaint-list")
    assert [c["id"] for c in fiona.get(api).json()["results"]] == [mine.pk]
    detail = "oversight-complaint-detail"
    assert fiona.get(reverse(detail, args=[mine.pk])).status_code == 200
    assert fiona.get(reverse(detail, args=[theirs.pk])).status_code == 404


def test_findings_of_charlie_are_not_hers(fiona, fixed_day, org_alice, org_charlie):
    run_ = ReconciliationRun.objects.create(
        as_of=dt.date(2026, 3, 10), year=2026, quarter=1, status=RunStatus.DONE
    )

    def finding(org, number):
        return Finding.objects.create(
            run=run_,
            code=FindingCode.UNREPORTED,
            identity=f"UNREPORTED:{number}:{org.pk}",
            number=number,
            institution=org,
        )

    mine, theirs = finding(org_alice, "13800138000"), finding(org_charlie, "13600136000")
    page = fiona.get(reverse("finding_list")).content.decode()
    assert "13800138000" in page and "13600136000" not in page
    assert org_charlie.name not in page  # nor in the institution filter
    assert fiona.get(reverse("finding_detail", args=[mine.pk])).status_code == 200
    assert fiona.get(reverse("finding_detail", args=[theirs.pk])).status_code == 404


# --- setting the scope --------------------------------------------------------------------


def test_the_administration_sets_her_scope_on_the_page(
    client_for, regulator_rita, financial_fiona, org_alice, org_bob, org_charlie
):
    fr = financial_fiona.organisation
    rita = client_for(regulator_rita)
    detail = rita.get(reverse("organisation_detail", args=[fr.pk])).content.decode()
    assert "银行、消费金融公司" in detail and 'data-testid="set-scope"' in detail
    url = reverse("organisation_scope", args=[fr.pk])
    form = rita.get(url).content.decode()
    assert "地方金融管理部门许可" in form and "小额贷款公司" in form  # grouped by authority
    assert org_charlie.name in form  # every institution may be named
    response = rita.post(url, {"categories": ["small_loan"], "institutions": [org_alice.pk]})
    assert response.status_code == 302
    fr.refresh_from_db()
    assert fr.supervised_categories == ["small_loan"]
    assert list(fr.supervised_institutions.all()) == [org_alice]
    assert set(fr.supervised()) == {org_alice, org_charlie}  # bob's category is gone
    event = AuditEvent.objects.filter(action="organisation.scope").latest("id")
    assert event.actor == regulator_rita and event.object_id == str(fr.pk)
    assert event.summary["after"] == {
        "supervised_categories": ["small_loan"],
        "supervised_institutions": [org_alice.pk],
    }
    assert "监管的许可类别：银行、消费金融公司 → 小额贷款公司" in describe(
        event.action, event.summary
    )
    shown = rita.get(reverse("organisation_detail", args=[fr.pk])).content.decode()
    assert 'data-testid="scope-institution">甲银行<' in shown
    assert "共 2 家金融机构" in shown
    # She sees what the new scope names at once.
    fiona = client_for(financial_fiona)
    assert fiona.get(reverse("organisation_detail", args=[org_charlie.pk])).status_code == 200
    assert fiona.get(reverse("organisation_detail", args=[org_bob.pk])).status_code == 404


def test_an_unchanged_scope_writes_nothing_and_a_bad_one_is_refused(
    client_for, regulator_rita, financial_fiona, org_carrier
):
    fr = financial_fiona.organisation
    url = reverse("organisation_scope", args=[fr.pk])
    rita = client_for(regulator_rita)
    before = AuditEvent.objects.count()
    same = rita.post(url, {"categories": ["bank", "consumer_finance"]})
    assert same.status_code == 302 and AuditEvent.objects.count() == before
    bad = rita.post(url, {"categories": ["casino"], "institutions": [org_carrier.pk]})
    assert bad.status_code == 200
    assert "is-invalid" in bad.content.decode() or "invalid-feedback" in bad.content.decode()
    fr.refresh_from_db()
    assert fr.supervised_categories == ["bank", "consumer_finance"]
    assert AuditEvent.objects.count() == before


def test_nobody_else_sets_a_scope(
    client_for, regulator_rita, financial_fiona, inst_alice, org_regulator, org_alice
):
    fr = financial_fiona.organisation
    url = reverse("organisation_scope", args=[fr.pk])
    fr_admin = _user(fr, "frank")
    rita_operator = with_totp(_user(org_regulator, "ron", role="operator"))
    for user in (financial_fiona, fr_admin, inst_alice, rita_operator):
        client = client_for(user)
        assert client.get(url).status_code == 404, user
        assert client.post(url, {"categories": ["small_loan"]}).status_code == 404, user
        client.logout()
    # Only a financial regulator has a scope: the page of an institution is a 404.
    rita = client_for(regulator_rita)
    assert rita.get(reverse("organisation_scope", args=[org_alice.pk])).status_code == 404
    # Her own page shows her scope, without the button.
    page = client_for(financial_fiona).get(reverse("organisation_detail", args=[fr.pk]))
    text = page.content.decode()
    assert "银行、消费金融公司" in text and 'data-testid="set-scope"' not in text
    fr.refresh_from_db()
    assert fr.supervised_categories == ["bank", "consumer_finance"]


def test_the_service_refuses_others_and_other_kinds(financial_fiona, inst_alice, org_alice):
    fr = financial_fiona.organisation
    for actor in (financial_fiona, inst_alice):
        with pytest.raises(NotPermitted):
            accounts.organisation_set_scope(actor=actor, organisation=fr, categories=["bank"])
    with pytest.raises(PortalError) as exc:
        accounts.organisation_set_scope(actor=SYSTEM, organisation=org_alice, categories=["bank"])
    assert exc.value.code == "not_financial_regulator"
    with pytest.raises(PortalError) as exc:
        accounts.organisation_set_scope(actor=SYSTEM, organisation=fr, institutions=[fr.pk])
    assert exc.value.code == "institution"


def test_the_django_admin_does_not_change_a_scope(client_for, superuser, financial_fiona):
    """The admin is read only (issue 10 §1): a scope changes on the page, audited."""
    fr = financial_fiona.organisation
    client = client_for(superuser)
    assert client.get(f"/admin/portal/organisation/{fr.pk}/change/").status_code == 200
    response = client.post(
        f"/admin/portal/organisation/{fr.pk}/change/", {"supervised_categories": '["fund"]'}
    )
    assert response.status_code == 403
    fr.refresh_from_db()
    assert fr.supervised_categories == ["bank", "consumer_finance"]


def test_the_command_line_sets_a_scope(org_alice, org_charlie):
    created = run(
        "create_organisation",
        "--kind",
        "financial_regulator",
        "--name",
        "某地方金融管理局",
        "--credit-code",
        NEW_FR_CODE,
        "--supervises",
        "bank",
        "--supervises",
        "融资担保公司",
        "--supervises-institution",
        CHARLIE_CODE,
    )
    assert created["created"] is True
    fr = Organisation.objects.get(pk=created["id"])
    assert fr.supervised_categories == ["bank", "financing_guarantee"]
    assert list(fr.supervised_institutions.all()) == [org_charlie]
    assert set(fr.supervised()) == {org_alice, org_charlie}
    assert AuditEvent.objects.filter(action="organisation.scope", object_id=str(fr.pk)).exists()
    message = run_failing(
        "create_organisation",
        "--kind",
        "financial_regulator",
        "--name",
        "某地方金融管理局",
        "--credit-code",
        NEW_FR_CODE,
        "--supervises-institution",
        CODES["carrier"],
    )
    assert CODES["carrier"] in message
