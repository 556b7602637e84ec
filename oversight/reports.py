"""The cross-match report of a run (issue 13 item 4), as xlsx: a summary sheet with the
counts by code, by institution and by carrier, then one sheet per code with the evidence
columns. Every cell is text and formula-safe (portal.spreadsheets.xlsx.safe_cell)."""

from __future__ import annotations

from collections import Counter

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from portal.models import Organisation
from portal.spreadsheets.xlsx import prepare_sheet, safe_cell

from .evidence import evidence_for
from .models import FINDING_MEANINGS, Finding, FindingCode, FindingState, ReconciliationRun

EVIDENCE_HEADERS = [
    "号码",
    "状态",
    "机构",
    "另一机构",
    "运营商",
    "服务对象",
    "服务对象信用代码",
    "登记：用途",
    "登记：电信运营商",
    "登记：使用单位",
    "登记：合作期",
    "报送：版本",
    "报送：用途",
    "报送：合作期",
    "报备：端口",
    "报备：计划发送时间",
    "投诉数",
]


def _text_row(ws, values) -> list[WriteOnlyCell]:
    return [WriteOnlyCell(ws, value=safe_cell(v)) for v in values]


def _names(ids: set[int]) -> dict[int, str]:
    return dict(Organisation.objects.filter(pk__in=ids).values_list("pk", "name"))


def write_report(run: ReconciliationRun, stream) -> int:
    """Write the run's report to ``stream``; returns the number of findings written."""
    findings = list(
        Finding.objects.filter(run=run).order_by("code", "number", "pk").iterator(chunk_size=5000)
    )
    orgs = _names(
        {
            pk
            for f in findings
            for pk in (f.institution_id, f.other_institution_id, f.carrier_id)
            if pk
        }
    )
    evidence = evidence_for(findings)
    wb = Workbook(write_only=True)

    summary = wb.create_sheet("汇总")
    prepare_sheet(summary, ["项目", "问题类型", "数量", "说明"], widths=[28, 26, 10, 80])
    when = timezone.localtime(run.finished_at or timezone.now())
    for label, value in (
        ("比对日", run.as_of.isoformat()),
        ("季度", run.quarter_label),
        ("完成时间", f"{when:%Y-%m-%d %H:%M}（北京时间）"),
        (
            "新增 / 持续 / 已消除",
            f"{run.new_count} / {run.persisting_count} / {run.resolved_count}",
        ),
    ):
        summary.append(_text_row(summary, [label, "", value, ""]))
    summary.append([])
    for code in FindingCode:
        summary.append(
            _text_row(
                summary,
                [
                    "按问题类型",
                    f"{code.value} {code.label}",
                    run.counts.get(code.value, 0),
                    FINDING_MEANINGS[code],
                ],
            )
        )
    open_findings = [f for f in findings if f.state != FindingState.RESOLVED]
    by_institution = Counter(f.institution_id for f in open_findings if f.institution_id)
    by_carrier = Counter(f.carrier_id for f in open_findings if f.carrier_id)
    summary.append([])
    for pk, count in by_institution.most_common():
        summary.append(_text_row(summary, ["按机构", orgs.get(pk, pk), count, ""]))
    summary.append([])
    for pk, count in by_carrier.most_common():
        summary.append(_text_row(summary, ["按运营商", orgs.get(pk, pk), count, ""]))

    for code in FindingCode:
        ws = wb.create_sheet(code.value[:31])
        prepare_sheet(ws, EVIDENCE_HEADERS)
        for f in findings:
            if f.code != code.value:
                continue
            e = evidence[f.pk]
            ws.append(
                _text_row(
                    ws,
                    [
                        f.number,
                        f.get_state_display(),
                        orgs.get(f.institution_id, ""),
                        orgs.get(f.other_institution_id, ""),
                        orgs.get(f.carrier_id, ""),
                        f.object_name,
                        f.object_credit_code,
                        e.register_purpose,
                        e.register_carrier,
                        e.register_user,
                        e.register_period,
                        e.report_version,
                        e.line_purpose,
                        e.line_period,
                        e.filing_port,
                        e.filing_window,
                        f.complaint_count or "",
                    ],
                )
            )
    wb.save(stream)
    return len(findings)
