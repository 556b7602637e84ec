"""A finding's evidence from each side (issue 13 items 2–4): which register line, which
report line and version, which filing, which complaints. Read in batches (one query per
side for a page or a report), never one query per finding."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from .models import Complaint, Finding


def period_text(start: dt.date | None, end: dt.date | None) -> str:
    if start is None:
        return ""
    return f"{start.isoformat()} 至 {end.isoformat() if end else '长期'}"


@dataclass
class Evidence:
    registered: object | None = None  # registry.RegisteredNumber
    other_registered: object | None = None
    line: object | None = None  # registry.ServiceReportLine
    report: object | None = None  # registry.ServiceReport
    filing: object | None = None  # filings.SmsFiling
    complaints: list[Complaint] = field(default_factory=list)

    @property
    def registrations(self) -> list:
        return [r for r in (self.registered, self.other_registered) if r is not None]

    @property
    def register_purpose(self) -> str:
        return self.registered.get_purpose_display() if self.registered else ""

    @property
    def register_carrier(self) -> str:
        return self.registered.carrier if self.registered else ""

    @property
    def register_user(self) -> str:
        return self.registered.user_name if self.registered else ""

    @property
    def register_period(self) -> str:
        r = self.registered
        return period_text(r.valid_from, r.valid_to) if r else ""

    @property
    def report_version(self) -> str:
        r = self.report
        return f"{r.year}Q{r.quarter} 第 {r.version} 版（{r.get_status_display()}）" if r else ""

    @property
    def line_purpose(self) -> str:
        return self.line.get_purpose_display() if self.line else ""

    @property
    def line_period(self) -> str:
        line = self.line
        return period_text(line.valid_from, line.valid_to) if line else ""

    @property
    def filing_port(self) -> str:
        return self.filing.port if self.filing else ""

    @property
    def filing_window(self) -> str:
        f = self.filing
        if not f:
            return ""
        start, end = timezone.localtime(f.start_at), timezone.localtime(f.end_at)
        return f"{start:%Y-%m-%d %H:%M} 至 {end:%Y-%m-%d %H:%M}"


def evidence_for(findings: list[Finding], *, with_complaints: bool = False) -> dict[int, Evidence]:
    """Evidence of each finding by its pk. Complaints (masked on display by their model)
    are read only when asked: the finding's page shows them, the report counts them."""
    from filings.models import SmsFiling
    from registry.models import RegisteredNumber, ServiceReport, ServiceReportLine

    reg_ids = {i for f in findings for i in (f.registered_id, f.other_registered_id) if i}
    regs = (
        RegisteredNumber.objects.select_related("institution", "partner").in_bulk(reg_ids)
        if reg_ids
        else {}
    )
    lines = ServiceReportLine.objects.in_bulk(
        {f.report_line_id for f in findings if f.report_line_id}
    )
    reports = ServiceReport.objects.in_bulk({f.report_id for f in findings if f.report_id})
    filings = SmsFiling.objects.in_bulk({f.filing_id for f in findings if f.filing_id})
    result = {
        f.pk: Evidence(
            registered=regs.get(f.registered_id),
            other_registered=regs.get(f.other_registered_id),
            line=lines.get(f.report_line_id),
            report=reports.get(f.report_id),
            filing=filings.get(f.filing_id),
        )
        for f in findings
    }
    if with_complaints:
        for f in findings:
            if f.complaint_count:
                result[f.pk].complaints = list(complaints_of(f))
    return result


def complaints_of(finding: Finding):
    """The quarter's complaints behind a COMPLAINED_* finding: about the number, or (for a
    registered main port) about a sub-port under it."""
    from .reconcile import Window

    window = Window.of(finding.run.as_of)
    qs = Complaint.objects.filter(
        received_at__gte=window.quarter_start, received_at__lt=window.quarter_end
    ).order_by("received_at")
    if finding.code == "COMPLAINED_REGISTERED" and finding.number.startswith("10"):
        return qs.filter(number__startswith=finding.number)
    return qs.filter(number=finding.number)
