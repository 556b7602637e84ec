"""The life of a filing: draft, submit (blocked or not), review, amend (a new version that
resets the review), sent, withdrawn; who may do each (issue 12 §1, §4)."""

from __future__ import annotations

import pytest

from filings import services
from filings.models import FilingStatus, SmsFilingVersion
from portal.errors import Conflict, NotPermitted, PortalError
from portal.models import AuditEvent
from tests.filings.conftest import columns, file

pytestmark = pytest.mark.django_db


@pytest.fixture
def filing(carrier_carol, alice_ports):
    return file(carrier_carol)


def test_draft_submit_accept_sent(filing, carrier_carol, regulator_rita):
    assert filing.status == FilingStatus.DRAFT and filing.version == 1
    filing = services.filing_submit(actor=carrier_carol, filing=filing)
    assert filing.status == FilingStatus.SUBMITTED and filing.submitted_at
    filing = services.filing_review(actor=regulator_rita, filing=filing, decision="accept")
    assert filing.status == FilingStatus.ACCEPTED
    filing = services.filing_mark_sent(actor=carrier_carol, filing=filing, actual_count=49800)
    assert filing.status == FilingStatus.SENT and filing.actual_count == 49800
    actions = list(
        AuditEvent.objects.filter(object_id=str(filing.pk), action__startswith="filing.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["filing.create", "filing.submit", "filing.accept", "filing.sent"]


def test_blocking_checks_stop_submission_with_every_reason(carrier_carol, alice_ports):
    filing = file(carrier_carol, 计划发送开始时间="2026-03-11 09:00", 发送端口="1069099999")
    with pytest.raises(services.FilingBlocked) as exc:
        services.filing_submit(actor=carrier_carol, filing=filing)
    assert "已超过截止时间" in exc.value.message and "1069099999" in exc.value.message
    filing.refresh_from_db()
    assert filing.status == FilingStatus.DRAFT
    assert {c["code"] for c in filing.blocking} == {"LATE", "PORT_UNREGISTERED"}


def test_warnings_do_not_stop_submission(carrier_carol, alice_ports):
    filing = file(carrier_carol, 退订方式="")
    filing = services.filing_submit(actor=carrier_carol, filing=filing)
    assert filing.status == FilingStatus.SUBMITTED
    assert [c["code"] for c in filing.warnings] == ["NO_OPT_OUT"]


def test_return_needs_a_reason_and_the_carrier_sees_it(filing, carrier_carol, regulator_rita):
    services.filing_submit(actor=carrier_carol, filing=filing)
    with pytest.raises(PortalError):
        services.filing_review(actor=regulator_rita, filing=filing, decision="return")
    filing = services.filing_review(
        actor=regulator_rita, filing=filing, decision="return", reason="请补充同意情况"
    )
    assert filing.status == FilingStatus.RETURNED and filing.review_reason == "请补充同意情况"
    filing = services.filing_submit(actor=carrier_carol, filing=filing)  # resubmitted as is
    assert filing.status == FilingStatus.SUBMITTED


def test_amendment_is_a_new_version_and_resets_the_review(filing, carrier_carol, regulator_rita):
    services.filing_submit(actor=carrier_carol, filing=filing)
    filing = services.filing_review(actor=regulator_rita, filing=filing, decision="accept")
    values = services.values_from_columns(
        columns(计划发送数量="60000"), carrier=carrier_carol.organisation
    )
    filing = services.filing_amend(actor=carrier_carol, filing=filing, values=values)
    assert filing.version == 2 and filing.status == FilingStatus.DRAFT
    assert filing.reviewed_at is None and filing.reviewed_by is None
    newest = services.version_changes(filing)[0]
    assert newest["version"].number == 2
    assert newest["changes"] == [("计划发送数量", "50000", "60000")]
    # The same values again: no new version.
    again = services.filing_amend(actor=carrier_carol, filing=filing, values=values)
    assert again.version == 2 and SmsFilingVersion.objects.filter(filing=filing).count() == 2


def test_rejected_and_sent_filings_are_final(filing, carrier_carol, regulator_rita):
    services.filing_submit(actor=carrier_carol, filing=filing)
    services.filing_review(
        actor=regulator_rita, filing=filing, decision="reject", reason="内容违规"
    )
    values = services.values_from_columns(columns(), carrier=carrier_carol.organisation)
    with pytest.raises(Conflict):
        services.filing_amend(actor=carrier_carol, filing=filing, values=values)
    with pytest.raises(Conflict):
        services.filing_withdraw(actor=carrier_carol, filing=filing)
    with pytest.raises(Conflict):
        services.filing_mark_sent(actor=carrier_carol, filing=filing, actual_count=1)


def test_withdraw(filing, carrier_carol):
    filing = services.filing_withdraw(actor=carrier_carol, filing=filing, reason="活动取消")
    assert filing.status == FilingStatus.WITHDRAWN and filing.withdraw_reason == "活动取消"


def test_bulk_accept_takes_only_filings_without_warnings(
    carrier_carol, alice_ports, regulator_rita
):
    clean = file(carrier_carol)
    warned = file(carrier_carol, 退订方式="")
    services.filings_submit(actor=carrier_carol, filings=[clean, warned])
    accepted = services.filings_accept_clean(actor=regulator_rita, filings=[clean, warned])
    assert [f.pk for f in accepted] == [clean.pk]
    warned.refresh_from_db()
    assert warned.status == FilingStatus.SUBMITTED


def test_filings_submit_is_all_or_nothing(carrier_carol, alice_ports):
    good = file(carrier_carol)
    late = file(carrier_carol, 计划发送开始时间="2026-03-11 09:00")
    with pytest.raises(services.FilingBlocked):
        services.filings_submit(actor=carrier_carol, filings=[good, late])
    good.refresh_from_db()
    assert good.status == FilingStatus.DRAFT


def test_who_may_do_what(filing, carrier_carol, regulator_rita, inst_alice, financial_fiona):
    from tests.conftest import _user

    viewer = _user(carrier_carol.organisation, "cathy", role="viewer")
    for actor in (viewer, inst_alice, regulator_rita, financial_fiona):
        with pytest.raises(NotPermitted):
            services.filing_submit(actor=actor, filing=filing)
    services.filing_submit(actor=carrier_carol, filing=filing)
    for actor in (carrier_carol, inst_alice, financial_fiona):
        with pytest.raises(NotPermitted):
            services.filing_review(actor=actor, filing=filing, decision="accept")


def test_another_carrier_cannot_change_it(filing, carrier_bert):
    with pytest.raises(NotPermitted):
        services.filing_withdraw(actor=carrier_bert, filing=filing)


def test_online_values_are_validated_like_an_uploaded_row(carrier_carol):
    with pytest.raises(PortalError) as exc:
        services.values_from_columns(
            columns(计划发送开始时间="明天", 发送主体统一社会信用代码="123", 发送端口="abc"),
            carrier=carrier_carol.organisation,
        )
    columns_named = [c for c, _ in exc.value.errors]
    assert columns_named == ["发送主体统一社会信用代码", "发送端口", "计划发送开始时间"]
