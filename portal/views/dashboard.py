"""The dashboard of each role, with its own deadlines, and the favicon."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
)
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.http import require_safe

from .. import workdays
from ..dashboard import panels_for, scripts_for
from ..models import (
    AuditEvent,
    CalendarYear,
    Organisation,
    OrgKind,
)


def upcoming_deadlines(today: dt.date) -> dict:
    """The next quarterly-report deadline and calendar coverage, shown on every dashboard."""
    context: dict = {"calendar_error": None}
    try:
        year, quarter, due = workdays.next_quarterly_deadline(today)
        remind_from = workdays.working_days_before(due.date(), workdays.REMINDER_WORKING_DAYS)[-1]
        context.update(
            quarter_label=f"{year} 年第 {quarter} 季度",
            quarter_due=due,
            quarter_days_left=(due.date() - today).days,
            quarter_remind=today >= remind_from,
        )
    except workdays.CalendarYearMissing as exc:
        context["calendar_error"] = exc.message
    next_year = today.year + 1
    context["next_year"] = next_year
    context["next_year_loaded"] = CalendarYear.objects.filter(year=next_year).exists()
    return context


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever a page links: the portal's own icon (resolved
    per request, so the hashed name of the collected static files is used)."""
    return HttpResponsePermanentRedirect(static("portal/favicon.svg"))


def sms_filing_check(text: str) -> dict:
    """The 非应邀短信 filing deadline for a planned start day typed on the carrier's
    dashboard: 5 working days before it (000 §二(二)3; domain.md, working days)."""
    text = text.strip()
    if not text:
        return {}
    try:
        start = workdays.parse_iso_day(text)
    except ValueError as exc:
        return {"start_text": text, "error": str(exc)}
    try:
        due = workdays.sms_filing_deadline(start)
    except workdays.CalendarYearMissing as exc:
        return {"start": start, "error": exc.message}
    return {"start": start, "due": due, "late": timezone.now() > due}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.organisation_id is None:
        if user.is_superuser:
            return redirect("admin:index")
        raise Http404
    today = timezone.localdate()
    context = {
        "today": today,
        "panels": panels_for(request),
        "panel_scripts": scripts_for(request),
    }
    # Each role sees its own deadlines: carriers report and file, the administration watches
    # both; institutions and financial regulators have none of these (issue 10 §8).
    if user.is_carrier or user.is_regulator:
        context["deadlines"] = upcoming_deadlines(today)
    if user.is_carrier:
        context["sms"] = sms_filing_check(request.GET.get("sms_start", ""))
    if user.is_regulator:
        context["org_counts"] = {
            row["kind"]: row["n"]
            for row in Organisation.objects.values("kind").annotate(n=Count("id"))
        }
        context["org_kinds"] = OrgKind.choices
        context["recent_events"] = AuditEvent.objects.visible_to(user).select_related(
            "organisation"
        )[:8]
    return render(request, "portal/home.html", context)
