"""Oversight's panels on each role's home page (issue 14 §5), registered from
``OversightConfig.ready`` into the portal shell (portal/dashboard.py). Thin: the figures
come from ``oversight.charts``, each scoped to the reader."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from portal.models import OrgKind

from . import charts

CHART_SCRIPTS = ("vendor/chartjs/chart.umd.min.js", "oversight/charts.js")
CHARTS_PANEL = "oversight/panels/charts.html"
OVERDUE_PANEL = "oversight/panels/overdue.html"
EXCHANGE_PANEL = "oversight/panels/exchange.html"
INSTITUTION_PANEL = "oversight/panels/institution.html"
CARRIER_PANEL = "oversight/panels/carrier.html"


def charts_panel(request: HttpRequest) -> dict:
    """The administration's charts; a financial regulator's, within its scope."""
    user = request.user
    context: dict = {"charts": charts.overview(user)}
    if user.kind == OrgKind.FINANCIAL_REGULATOR:
        context["supervised"] = user.organisation.supervised().count()
    return context


def overdue_panel(request: HttpRequest) -> dict:
    """Overdue disposal cases, the oldest deadline first (issue 14 §2)."""
    rows, total = charts.overdue_cases(request.user)
    return {"cases": rows, "total": total, "now": timezone.now()}


def exchange_panel(request: HttpRequest) -> dict:
    """A financial regulator's quarterly exchange packages (000 §三(二))."""
    return {"packages": charts.exchange_packages(request.user)}


def institution_panel(request: HttpRequest) -> dict:
    """An institution's findings in the latest run (by code and review) and its cases."""
    user = request.user
    run = charts.latest_run()
    rows, total = charts.open_cases(user, limit=charts.LIST_LIMIT)
    return {
        "run": run,
        "findings": charts.findings_by_code(user, run),
        "cases": rows,
        "open_total": total,
        "closed": charts.recent_closed_cases(user),
        "counts": charts.case_counts(user),
        "now": timezone.now(),
    }


def carrier_panel(request: HttpRequest) -> dict:
    """A carrier's open cases with their deadlines, and its cases by status."""
    user = request.user
    rows, total = charts.open_cases(user)
    return {
        "cases": rows,
        "open_total": total,
        "counts": charts.case_counts(user),
        "status": charts.cases_by_status(user),
        "now": timezone.now(),
    }


def register() -> None:
    from portal.dashboard import register_panel

    overseers = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
    register_panel(kinds=(OrgKind.FINANCIAL_REGULATOR,), order=3, template=EXCHANGE_PANEL)(
        exchange_panel
    )
    register_panel(kinds=(OrgKind.REGULATOR,), order=6, template=OVERDUE_PANEL)(overdue_panel)
    register_panel(kinds=overseers, order=7, template=CHARTS_PANEL, scripts=CHART_SCRIPTS)(
        charts_panel
    )
    register_panel(
        kinds=(OrgKind.INSTITUTION,), order=20, template=INSTITUTION_PANEL, scripts=CHART_SCRIPTS
    )(institution_panel)
    register_panel(
        kinds=(OrgKind.CARRIER,), order=5, template=CARRIER_PANEL, scripts=CHART_SCRIPTS
    )(carrier_panel)
