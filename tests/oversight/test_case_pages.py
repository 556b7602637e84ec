"""The review, disposal and appeal pages and API (issue 14 §1–3, §7): each role sees its
part of the loop of 000 §三(三) and 002, and only its part."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from oversight.cases import AppealStatus, CaseStatus, DisposalCase, Review
from oversight.models import Finding
from portal.models import AuditEvent
from tests.oversight.test_casework import confirmed, finding, ordered, pdf
from tests.oversight.test_reconcile import SHANGHAI, _media, run, world  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_regulator_reviews_and_orders_from_the_finding_page(world, regulator_rita, client_for):
    r = run()
    f = finding(r, "UNREGISTERED", "13900000001")
    page = client_for(regulator_rita).get(reverse("finding_detail", args=[f.pk])).content.decode()
    assert 'data-testid="review-form"' in page and 'data-testid="order-form"' not in page
    refused = client_for(regulator_rita).post(
        reverse("finding_review", args=[f.pk]), {"decision": "confirmed"}
    )
    assert refused.status_code == 400 and "研判理由" in refused.content.decode()
    done = client_for(regulator_rita).post(
        reverse("finding_review", args=[f.pk]), {"decision": "confirmed", "reason": "核实"}
    )
    assert done.status_code == 302
    page = client_for(regulator_rita).get(reverse("finding_detail", args=[f.pk])).content.decode()
    assert 'data-testid="order-form"' in page
    ordered_ = client_for(regulator_rita).post(
        reverse("finding_order", args=[f.pk]), {"action": "close", "instruction": "关停"}
    )
    case = DisposalCase.objects.get()
    assert ordered_.status_code == 302 and ordered_.url == reverse("case_detail", args=[case.pk])
    assert case.get_action_display() == "关停"


def test_bulk_review_from_the_list(world, regulator_rita, client_for):
    r = run()
    listing = (
        client_for(regulator_rita)
        .get(reverse("finding_list") + "?code=UNREGISTERED")
        .content.decode()
    )
    assert 'data-testid="bulk-form"' in listing
    response = client_for(regulator_rita).post(
        reverse("finding_review_bulk"),
        {
            "scope": "all",
            "code": "UNREGISTERED",
            "run": r.pk,
            "decision": "dismissed",
            "reason": "批量排除",
            "query": "code=UNREGISTERED",
        },
    )
    assert response.status_code == 302 and response.url.endswith("?code=UNREGISTERED")
    reviews = Finding.objects.filter(run=r).values_list("code", "review")
    assert {rv for code, rv in reviews if code == "UNREGISTERED"} == {Review.DISMISSED}
    assert {rv for code, rv in reviews if code != "UNREGISTERED"} == {Review.PENDING}
    one = finding(r, "UNREPORTED")
    client_for(regulator_rita).post(
        reverse("finding_review_bulk"),
        {"ids": [one.pk], "run": r.pk, "decision": "confirmed", "reason": "勾选确认"},
    )
    one.refresh_from_db()
    assert one.review == Review.CONFIRMED


def test_the_carrier_reports_and_the_regulator_verifies(
    world, regulator_rita, carrier_carol, client_for
):
    r = run()
    case = ordered(regulator_rita, r)
    page = client_for(carrier_carol).get(reverse("case_detail", args=[case.pk])).content.decode()
    assert 'data-testid="report-form"' in page and 'data-testid="verify-form"' not in page
    bad = client_for(carrier_carol).post(
        reverse("case_report", args=[case.pk]),
        {"action_taken": "suspend", "action_date": "2026-11-20", "note": "已暂停"},
    )
    assert bad.status_code == 400  # the evidence is required
    done = client_for(carrier_carol).post(
        reverse("case_report", args=[case.pk]),
        {
            "action_taken": "suspend",
            "action_date": "2026-11-20",
            "note": "已暂停",
            "document": pdf(),
        },
    )
    assert done.status_code == 302
    assert (
        client_for(carrier_carol).get(reverse("case_evidence", args=[case.pk])).status_code == 200
    )
    assert (
        'data-testid="verify-form"'
        in client_for(regulator_rita).get(reverse("case_detail", args=[case.pk])).content.decode()
    )
    client_for(regulator_rita).post(
        reverse("case_verify", args=[case.pk]), {"outcome": "accept", "note": ""}
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    assert (
        client_for(carrier_carol)
        .post(reverse("case_verify", args=[case.pk]), {"outcome": "accept"})
        .status_code
        == 404
    )


def test_the_institution_appeals_and_the_regulator_upholds(
    world, regulator_rita, inst_alice, client_for
):
    r = run()
    case = ordered(regulator_rita, r)
    page = client_for(inst_alice).get(reverse("case_detail", args=[case.pk])).content.decode()
    assert 'data-testid="appeal-form"' in page and 'data-testid="report-form"' not in page
    response = client_for(inst_alice).post(
        reverse("case_appeal", args=[case.pk]),
        {"reasons": "本行客服号码", "document": pdf("证明.pdf")},
    )
    assert response.status_code == 302
    appeal = case.appeals.get()
    assert (
        client_for(inst_alice).get(reverse("appeal_document", args=[appeal.pk])).status_code == 200
    )
    client_for(regulator_rita).post(
        reverse("appeal_decide", args=[appeal.pk]), {"outcome": "upheld", "reason": "属实"}
    )
    appeal.refresh_from_db()
    case.refresh_from_db()
    assert appeal.status == AppealStatus.UPHELD and case.status == CaseStatus.REVERSED
    listing = client_for(inst_alice).get(reverse("appeal_list")).content.decode()
    assert "申诉成立" in listing


def test_the_case_list_per_role(
    world, regulator_rita, carrier_carol, inst_alice, inst_bob, financial_fiona, client_for
):
    r = run()
    case = ordered(regulator_rita, r)
    for user, count in (
        (regulator_rita, 1),
        (carrier_carol, 1),
        (inst_alice, 1),
        (financial_fiona, 1),
        (inst_bob, 0),
    ):
        page = client_for(user).get(reverse("case_list")).content.decode()
        assert page.count('data-testid="case-row"') == count, user
    fiona = client_for(financial_fiona).get(reverse("case_detail", args=[case.pk])).content.decode()
    for form in ("report-form", "verify-form", "appeal-form", "answer-form"):
        assert f'data-testid="{form}"' not in fiona


def test_the_api_runs_the_loop(
    world, regulator_rita, carrier_carol, inst_alice, inst_bob, client_for
):
    """Issue 14 §7: the API for all of the above."""
    r = run()
    f = finding(r, "UNREGISTERED", "13900000001")
    listed = client_for(regulator_rita).get(reverse("oversight-finding-list")).json()
    assert listed["count"] == Finding.objects.filter(run=r).exclude(state="resolved").count()
    refused = client_for(inst_alice).post(
        reverse("oversight-finding-review", args=[f.pk]),
        {"decision": "confirmed", "reason": "x"},
        content_type="application/json",
    )
    assert refused.status_code == 403
    reviewed = client_for(regulator_rita).post(
        reverse("oversight-finding-review", args=[f.pk]),
        {"decision": "confirmed", "reason": "核实"},
        content_type="application/json",
    )
    assert reviewed.status_code == 200 and reviewed.json()["review"] == "confirmed"
    created = client_for(regulator_rita).post(
        reverse("oversight-finding-order", args=[f.pk]),
        {"action": "suspend"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    case_id = created.json()["id"]
    reported = client_for(carrier_carol).post(
        reverse("oversight-case-report", args=[case_id]),
        {
            "action_taken": "suspend",
            "action_date": "2026-11-20",
            "note": "已暂停",
            "document": pdf(),
        },
    )
    assert reported.status_code == 200, reported.json()
    assert reported.json()["status"] == "reported" and reported.json()["has_evidence"]
    verified = client_for(regulator_rita).post(
        reverse("oversight-case-verify", args=[case_id]),
        {"accepted": True},
        content_type="application/json",
    )
    assert verified.json()["status"] == "closed"
    again = client_for(regulator_rita).post(
        reverse("oversight-case-verify", args=[case_id]),
        {"accepted": True},
        content_type="application/json",
    )
    assert again.status_code == 409
    appealed = client_for(inst_alice).post(
        reverse("oversight-appeal-list"),
        {"finding": f.pk, "reasons": "误判"},
        content_type="application/json",
    )
    assert appealed.status_code == 201, appealed.json()
    decided = client_for(regulator_rita).post(
        reverse("oversight-appeal-decide", args=[appealed.json()["id"]]),
        {"upheld": False, "reason": "证据不足"},
        content_type="application/json",
    )
    assert decided.json()["status"] == "rejected"
    assert (
        client_for(inst_bob).get(reverse("oversight-case-detail", args=[case_id])).status_code
        == 404
    )
    assert (
        client_for(inst_bob).get(reverse("oversight-finding-detail", args=[f.pk])).status_code
        == 404
    )
    assert client_for(inst_bob).get(reverse("oversight-case-list")).json()["count"] == 0
    assert (
        AuditEvent.objects.filter(action__in=["case.order", "case.report", "case.verify"]).count()
        == 3
    )


def test_the_bulk_review_api_refuses_invisible_ids(world, regulator_rita, client_for):
    r = run()
    ids = list(Finding.objects.filter(run=r, code="UNREGISTERED").values_list("pk", flat=True))
    ok = client_for(regulator_rita).post(
        reverse("oversight-finding-review-many"),
        {"ids": ids, "decision": "dismissed", "reason": "批量"},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json() == {"reviewed": len(ids)}
    missing = client_for(regulator_rita).post(
        reverse("oversight-finding-review-many"),
        {"ids": [2**40], "decision": "dismissed", "reason": "批量"},
        content_type="application/json",
    )
    assert missing.status_code == 404


def test_the_deadline_shows_in_shanghai_time(world, regulator_rita, carrier_carol, client_for):
    r = run()
    case = ordered(regulator_rita, r)
    page = client_for(carrier_carol).get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "2026-11-27" in page
    assert confirmed  # (imported for the other tests' use)
    assert dt.date(2026, 11, 27)


def test_the_carrier_reads_the_finding_it_was_ordered_on(
    world, regulator_rita, carrier_carol, client_for
):
    """A complained-of number names no carrier until the administration orders one: the
    carrier ordered to act then reads the finding and its evidence (issue 14 §6)."""
    r = run()
    f = finding(r, "COMPLAINED_UNREGISTERED")
    carol = client_for(carrier_carol)
    assert carol.get(reverse("finding_detail", args=[f.pk])).status_code == 404
    from oversight import casework

    casework.finding_review(actor=regulator_rita, findings=[f], decision="confirmed", reason="属实")
    f.refresh_from_db()
    casework.case_order(
        actor=regulator_rita, finding=f, action="close", carrier=carrier_carol.organisation
    )
    assert carol.get(reverse("finding_detail", args=[f.pk])).status_code == 200


def test_the_overdue_filter_is_true_or_false(world, regulator_rita, client_for, time_machine):
    """schemathesis sent overdue=null and got a 200."""
    r = run()
    ordered(regulator_rita, r)
    url = reverse("oversight-case-list")
    rita = client_for(regulator_rita)
    assert rita.get(url + "?overdue=null").status_code == 400
    assert rita.get(url + "?overdue=true").json()["count"] == 0
    time_machine.move_to(dt.datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI))
    rita = client_for(regulator_rita)  # a new session: the old one timed out
    assert rita.get(url + "?overdue=true").json()["count"] == 1
    assert rita.get(url + "?overdue=false").json()["count"] == 0


def test_the_api_refuses_what_its_schema_refuses(world, regulator_rita, client_for):
    """schemathesis: a number for a reason, and a form without the yes/no, were accepted."""
    r = run()
    f = finding(r, "UNREPORTED")
    rita = client_for(regulator_rita)
    as_number = rita.post(
        reverse("oversight-finding-review", args=[f.pk]),
        {"decision": "confirmed", "reason": 0},
        content_type="application/json",
    )
    assert as_number.status_code == 400
    case = ordered(regulator_rita, r)
    missing = rita.post(reverse("oversight-case-verify", args=[case.pk]), {"note": "x"})
    assert missing.status_code == 400
    as_one = rita.post(
        reverse("oversight-case-verify", args=[case.pk]),
        {"accepted": 1},
        content_type="application/json",
    )
    assert as_one.status_code == 400


def test_the_case_page_opens_when_the_appeal_window_reaches_an_unknown_year(
    world, regulator_rita, inst_alice, client_for, time_machine
):
    """Ordered on 2026-12-22: 15 working days reach into 2027, which the calendar does not
    know. The page opens without an appeal deadline; lodging says why, never a guess."""
    r = run()
    time_machine.move_to(dt.datetime(2026, 12, 22, 10, 0, tzinfo=SHANGHAI))
    case = ordered(regulator_rita, r)
    page = client_for(inst_alice).get(reverse("case_detail", args=[case.pk]))
    assert page.status_code == 200 and 'data-testid="appeal-form"' not in page.content.decode()
    from oversight import casework
    from portal.errors import PortalError

    with pytest.raises(PortalError) as exc:
        casework.appeal_lodge(actor=inst_alice, finding=case.finding, reasons="申诉")
    assert exc.value.code == "calendar_missing"


def test_another_carrier_and_the_public_see_no_case(
    world, regulator_rita, inst_alice, client_for, client
):
    """Tenancy (issue 14 §6): a second carrier gets a 404 for carol's case and appeal, on the
    pages and the API; an anonymous visitor is sent to the login (pages) or gets a 401."""
    from tests.conftest import _org, _user
    from tests.oversight.test_charts import code

    r = run()
    case = ordered(regulator_rita, r)
    from oversight import casework

    appeal = casework.appeal_lodge(actor=inst_alice, finding=case.finding, reasons="申诉")
    urls = [
        reverse("case_detail", args=[case.pk]),
        reverse("appeal_detail", args=[appeal.pk]),
        reverse("finding_detail", args=[case.finding_id]),
        reverse("oversight-case-detail", args=[case.pk]),
        reverse("oversight-appeal-detail", args=[appeal.pk]),
        reverse("oversight-finding-detail", args=[case.finding_id]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code in (302, 401), url
    dave = _user(_org("carrier", "某联通公司", code("91330000MA2CAR0L2")), "dave")
    other = client_for(dave)
    for url in urls:
        assert other.get(url).status_code == 404, url
    assert other.get(reverse("oversight-case-list")).json()["count"] == 0
    assert 'data-testid="case-row"' not in other.get(reverse("case_list")).content.decode()
