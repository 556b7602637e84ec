"""Carriers' quarterly service-object reports (issue 11; 000 §三(一)2: "每季度结束前5个工作日
上报"; forms.md §2): upload through the engine, versions, late marking by working days,
return and resubmit, unknown credit codes kept and flagged, compare."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.errors import Conflict, NotPermitted, PortalError
from portal.models import AuditEvent, Notice
from portal.workdays import SHANGHAI
from registry import selectors, services
from registry.models import ReportStatus, ServiceReport, ServiceReportLine
from tests.reports import ALICE, PARTNER, UNKNOWN, report_csv, row, submitted_report, upload_report

pytestmark = pytest.mark.django_db


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def q2(time_machine):
    """Monday 2026-06-15, inside Q2 2026 (due Tue 2026-06-23)."""
    time_machine.move_to(at(2026, 6, 15, 10, 0), tick=False)
    return (2026, 2)


def test_upload_makes_a_draft_with_canonical_numbers(carrier_carol, inst_alice, tmp_path, q2):
    """forms.md §2: numbers in canonical form with their kind; sub-ports with their main
    port; the draft is not submitted by an upload."""
    path = report_csv(
        tmp_path / "r.csv",
        [
            row("+86 138 0013 8000"),
            row("1069055599", 用途="营销及催收"),
            row("106905559901", 委托书编号="WT-1"),
        ],
    )
    report, job = upload_report(carrier_carol, path)
    assert job.status == "done", job.message
    assert report.status == ReportStatus.DRAFT and report.version == 1
    assert report.line_count == 3
    assert report.deadline == at(2026, 6, 23, 23, 59, 59)
    line = report.lines.get(number="13800138000")
    assert line.kind == "mobile" and line.object_org_id == inst_alice.organisation_id
    assert line.object_match == "organisation"
    assert "尚未提交" in job.message
    assert AuditEvent.objects.filter(action="report_import.done").exists()


def test_sub_port_with_its_main_port(carrier_carol, tmp_path, q2):
    path = tmp_path / "sub.csv"
    path.write_text(
        "号码,号码类型,所属主端口,服务对象名称,服务对象统一社会信用代码,用途,合作起始日期\n"
        f"106905559901,子端口,1069055599,甲银行,{ALICE},营销,2026-01-01\n"
        f"106905559902,子端口,10690555,甲银行,{ALICE},营销,2026-01-01\n",
        encoding="utf-8",
    )
    report, job = upload_report(carrier_carol, path)
    assert job.status == "done", job.message
    line = report.lines.get(number="106905559901")
    assert line.is_sub_port and line.main_port == "1069055599"


def test_unknown_and_bad_check_character_codes_are_kept_and_flagged(
    carrier_carol, inst_alice, tmp_path, q2
):
    """Issue 11 §1: an unknown or invalid-check-character code is kept and flagged on the
    line, not refused: the regulator may need to add that organisation."""
    bad_check = ALICE[:-1] + ("A" if ALICE[-1] != "A" else "B")
    path = report_csv(
        tmp_path / "r.csv",
        [
            row("13800138000", 服务对象名称="某未登记公司", 服务对象统一社会信用代码=UNKNOWN),
            row("13800138001", 服务对象统一社会信用代码=bad_check),
            row(
                "13800138002",
                服务对象名称="某催收公司",
                服务对象统一社会信用代码=PARTNER,
                委托金融机构名称="某未知银行",
                委托金融机构统一社会信用代码=UNKNOWN,
            ),
            row("13800138003"),
        ],
    )
    report, job = upload_report(carrier_carol, path)
    assert job.status == "done", job.message
    assert report.line_count == 4 and report.flagged_count == 3
    matches = dict(report.lines.values_list("number", "object_match"))
    assert matches == {
        "13800138000": "unknown",
        "13800138001": "invalid",
        "13800138002": "unknown",  # no institution registered this partner
        "13800138003": "organisation",
    }
    assert report.lines.get(number="13800138000").object_credit_code == UNKNOWN
    assert report.lines.get(number="13800138002").institution_match == "unknown"
    assert "3 行的信用代码" in job.message
    flagged = selectors.report_lines(user=carrier_carol, report=report, flagged=True)
    assert flagged.count() == 3


def test_bad_rows_reject_the_whole_file_and_keep_the_draft(carrier_carol, tmp_path, q2):
    """Issue 11 §2: same defences as the register: one error workbook, nothing partial."""
    good = report_csv(tmp_path / "good.csv", [row("13800138000"), row("13800138001")])
    report, _ = upload_report(carrier_carol, good)
    bad = report_csv(
        tmp_path / "bad.csv",
        [
            row("13900139000"),
            row("1390013", 用途="飞行"),
            row("13900139000"),
            row("13900139001", 服务对象统一社会信用代码="123"),
        ],
    )
    again, job = upload_report(carrier_carol, bad)
    assert again.pk == report.pk
    assert job.status == "rejected" and job.error_count == 3
    assert job.error_report
    assert set(again.lines.values_list("number", flat=True)) == {"13800138000", "13800138001"}


def test_versions_every_one_readable_and_latest_accepted_counts(
    carrier_carol, regulator_rita, tmp_path, q2
):
    """Issue 11 §1: a correction after submission is a new version; every version stays
    readable; the latest accepted one is the one that counts."""
    v1 = submitted_report(carrier_carol, tmp_path, ["13800138000", "13800138001"])
    with pytest.raises(Conflict):  # one open version per quarter
        services.service_report_create(
            actor=carrier_carol, carrier=carrier_carol.organisation, year=2026, quarter=2
        )
    services.service_report_accept(actor=regulator_rita, report=v1)
    v2 = services.service_report_create(
        actor=carrier_carol,
        carrier=carrier_carol.organisation,
        year=2026,
        quarter=2,
        start_from="latest",
    )
    assert v2.version == 2 and v2.based_on_id == v1.pk and v2.line_count == 2
    line = v2.lines.get(number="13800138001")
    services.service_report_line_end(
        actor=carrier_carol, report=v2, line=line, end_date=dt.date(2026, 6, 30)
    )
    services.service_report_submit(actor=carrier_carol, report=v2)
    assert services.latest_accepted(carrier_carol.organisation, 2026, 2).pk == v1.pk
    services.service_report_accept(actor=regulator_rita, report=v2)
    assert services.latest_accepted(carrier_carol.organisation, 2026, 2).pk == v2.pk
    v1.refresh_from_db()
    assert v1.status == ReportStatus.ACCEPTED
    assert v1.lines.get(number="13800138001").valid_to is None  # the old version unchanged
    assert set(
        ServiceReport.objects.visible_to(regulator_rita).values_list("version", flat=True)
    ) == {1, 2}


def test_return_with_reason_and_resubmit(carrier_carol, regulator_rita, tmp_path, q2):
    """Issue 11 §4: return with a reason; the carrier sees it and resubmits."""
    v1 = submitted_report(carrier_carol, tmp_path, ["13800138000"])
    with pytest.raises(PortalError):
        services.service_report_return(actor=regulator_rita, report=v1, reason="  ")
    services.service_report_return(actor=regulator_rita, report=v1, reason="缺少委托书编号")
    v1.refresh_from_db()
    assert v1.status == ReportStatus.RETURNED and v1.return_reason == "缺少委托书编号"
    notice = Notice.objects.get(recipient=carrier_carol, kind="report.returned")
    assert "缺少委托书编号" in notice.body
    v2 = services.service_report_create(
        actor=carrier_carol,
        carrier=carrier_carol.organisation,
        year=2026,
        quarter=2,
        start_from="latest",
    )
    line = v2.lines.get()
    fields = services.line_fields(line)
    fields["委托书编号"] = "WT-2026-9"
    services.service_report_line_save(actor=carrier_carol, report=v2, line=line, fields=fields)
    services.service_report_submit(actor=carrier_carol, report=v2)
    services.service_report_accept(actor=regulator_rita, report=v2)
    assert Notice.objects.filter(recipient=carrier_carol, kind="report.accepted").exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="report.").values_list("action", flat=True)
    )
    for action in (
        "report.create",
        "report.submit",
        "report.return",
        "report.line_change",
        "report.accept",
    ):
        assert action in actions


@pytest.mark.parametrize(
    ("moment", "late"),
    [
        (at(2026, 6, 23, 23, 59), 0),  # the due day itself
        (at(2026, 6, 24, 0, 1), 1),  # Wednesday after
        (at(2026, 6, 27, 10, 0), 3),  # the Saturday: Wed, Thu, Fri
        (at(2026, 6, 29, 10, 0), 4),
    ],
)
def test_late_marking_by_working_days(carrier_carol, tmp_path, time_machine, moment, late):
    """000 §三(一)2: due 5 working days before the quarter ends (Q2 2026: Tue 06-23); a late
    report is accepted and marked late by how many working days (issue 11 §2)."""
    time_machine.move_to(at(2026, 6, 15, 10, 0), tick=False)
    report, _ = upload_report(carrier_carol, report_csv(tmp_path / "r.csv", [row("13800138000")]))
    time_machine.move_to(moment, tick=False)
    report = services.service_report_submit(actor=carrier_carol, report=report)
    assert report.late_working_days == late
    assert report.is_late == bool(late)


@pytest.mark.parametrize(
    ("moment", "late"),
    [
        (at(2026, 9, 22, 20, 0), 0),  # Q3 due Tue 09-22 (中秋 Fri 25 is a holiday)
        (at(2026, 9, 25, 10, 0), 2),  # the holiday: Wed 23, Thu 24
        (at(2026, 9, 28, 10, 0), 3),
        # 23, 24, 28, 29, 30 Sep; 国庆 1–7 Oct off; 8, 9 and the make-up Saturday 10 Oct
        (at(2026, 10, 10, 10, 0), 8),
    ],
)
def test_late_marking_around_holidays(carrier_carol, tmp_path, time_machine, moment, late):
    """domain.md, Working days: the official calendar with 调休, not Monday–Friday."""
    time_machine.move_to(at(2026, 9, 14, 10, 0), tick=False)
    report, _ = upload_report(
        carrier_carol, report_csv(tmp_path / "r.csv", [row("13800138000")]), (2026, 3)
    )
    assert report.deadline == at(2026, 9, 22, 23, 59, 59)
    time_machine.move_to(moment, tick=False)
    report = services.service_report_submit(actor=carrier_carol, report=report)
    assert report.late_working_days == late


def test_start_from_previous_quarter_and_edit_online(
    carrier_carol, regulator_rita, tmp_path, time_machine
):
    """Issue 11 §2: start from the previous quarter's accepted report, edit online (add,
    change, end lines, the same validation as the file), submit."""
    time_machine.move_to(at(2026, 6, 15, 10, 0), tick=False)
    q2 = submitted_report(carrier_carol, tmp_path, ["13800138000", "13800138001"])
    services.service_report_accept(actor=regulator_rita, report=q2)
    time_machine.move_to(at(2026, 9, 1, 10, 0), tick=False)
    q3 = services.service_report_create(
        actor=carrier_carol,
        carrier=carrier_carol.organisation,
        year=2026,
        quarter=3,
        start_from="previous",
    )
    assert q3.version == 1 and q3.line_count == 2 and q3.based_on_id == q2.pk
    new = services.line_fields(q3.lines.first())
    new["号码"] = "飞行"
    with pytest.raises(PortalError) as exc:
        services.service_report_line_save(actor=carrier_carol, report=q3, fields=new)
    assert exc.value.field == "号码"
    new["号码"] = "13800138000"
    with pytest.raises(PortalError, match="已在本报送中"):
        services.service_report_line_save(actor=carrier_carol, report=q3, fields=new)
    new["号码"], new["号码类型"] = "0571-87650001", ""
    added = services.service_report_line_save(actor=carrier_carol, report=q3, fields=new)
    assert added.number == "057187650001" and added.kind == "landline"
    services.service_report_line_delete(
        actor=carrier_carol, report=q3, line=q3.lines.get(number="13800138001")
    )
    q3.refresh_from_db()
    assert q3.line_count == 2
    comparison = selectors.report_compare(old=q2, new=q3)
    assert (comparison.added, comparison.ended, comparison.changed) == (1, 1, 0)
    q3 = services.service_report_submit(actor=carrier_carol, report=q3)
    with pytest.raises(PortalError):  # submitted: no more edits
        services.service_report_line_delete(actor=carrier_carol, report=q3, line=added)


def test_compare_field_by_field(carrier_carol, regulator_rita, tmp_path, q2):
    """Issue 11 §4: lines added, ended and changed, field by field, set-based."""
    v1 = submitted_report(carrier_carol, tmp_path, ["13800138000", "13800138001", "13800138002"])
    services.service_report_accept(actor=regulator_rita, report=v1)
    v2 = services.service_report_create(
        actor=carrier_carol,
        carrier=carrier_carol.organisation,
        year=2026,
        quarter=2,
        start_from="latest",
    )
    line = v2.lines.get(number="13800138001")
    fields = services.line_fields(line)
    fields.update({"用途": "催收", "合作截止日期": "2026-12-31"})
    services.service_report_line_save(actor=carrier_carol, report=v2, line=line, fields=fields)
    services.service_report_line_delete(
        actor=carrier_carol, report=v2, line=v2.lines.get(number="13800138002")
    )
    fields = services.line_fields(line)
    fields["号码"] = "13800138009"
    fields["用途"] = "营销"
    services.service_report_line_save(actor=carrier_carol, report=v2, fields=fields)
    v2.refresh_from_db()
    c = selectors.report_compare(old=v1, new=v2)
    assert (c.added, c.ended, c.changed, c.unchanged) == (1, 1, 1, 1)
    assert c.fields["purpose"] == 1 and c.fields["valid_to"] == 1 and c.fields["kind"] == 0
    assert c.changed_lines == [
        {
            "number": "13800138001",
            "changes": [
                {"field": "purpose", "label": "用途", "old": "营销", "new": "催收"},
                {"field": "valid_to", "label": "合作截止日期", "old": "", "new": "2026-12-31"},
            ],
        }
    ]
    assert [x["number"] for x in c.added_lines] == ["13800138009"]
    assert [x["number"] for x in c.ended_lines] == ["13800138002"]


def test_only_the_carriers_writers_and_the_regulator_review(
    carrier_carol, regulator_rita, inst_alice, tmp_path, q2
):
    """A carrier may report only its own services; only the administration reviews."""
    from portal.accounts import services as accounts
    from portal.audit import SYSTEM

    other, _ = accounts.organisation_create(
        actor=SYSTEM, kind="carrier", name="某联通公司", credit_code="91330000MA2CAR0L1C"
    )
    with pytest.raises(NotPermitted):
        services.service_report_create(actor=carrier_carol, carrier=other, year=2026, quarter=2)
    with pytest.raises(NotPermitted):
        services.service_report_create(
            actor=inst_alice, carrier=carrier_carol.organisation, year=2026, quarter=2
        )
    report = submitted_report(carrier_carol, tmp_path, ["13800138000"])
    with pytest.raises(NotPermitted):
        services.service_report_accept(actor=carrier_carol, report=report)
    with pytest.raises(PortalError):  # a draft is not reviewable
        draft_other = services.service_report_create(
            actor=SYSTEM, carrier=other, year=2026, quarter=2
        )
        services.service_report_accept(actor=regulator_rita, report=draft_other)


def test_submit_notifies_the_administration(carrier_carol, regulator_rita, tmp_path, q2):
    submitted_report(carrier_carol, tmp_path, ["13800138000"])
    notice = Notice.objects.get(recipient=regulator_rita)
    assert notice.kind == "report.submitted" and "某移动公司" in notice.title
    assert ServiceReportLine.objects.count() == 1
