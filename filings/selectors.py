"""Reads of bulk-SMS filings, always from ``SmsFiling.objects.visible_to(user)``."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from portal.filters import bounded_id
from portal.workdays import SHANGHAI

from .models import FilingStatus, SmsFiling, SmsPurpose

OVERSEERS = ("regulator", "financial_regulator")


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=SHANGHAI)


def parse_day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def in_period(queryset: QuerySet, start: dt.date | None, end: dt.date | None) -> QuerySet:
    """Filings whose planned window touches the days ``start``..``end`` (Asia/Shanghai)."""
    if start:
        queryset = queryset.filter(end_at__gte=_local_midnight(start))
    if end:
        queryset = queryset.filter(start_at__lt=_local_midnight(end + dt.timedelta(days=1)))
    return queryset


def filings_for_list(
    *,
    user,
    status: str = "",
    purpose: str = "",
    q: str = "",
    job: str = "",
    start: dt.date | None = None,
    end: dt.date | None = None,
    carrier: str = "",
) -> QuerySet:
    rows = SmsFiling.objects.visible_to(user).select_related("carrier", "institution")
    if status in FilingStatus.values:
        rows = rows.filter(status=status)
    if purpose in SmsPurpose.values:
        rows = rows.filter(purpose=purpose)
    if q.strip():
        text = q.strip()
        rows = rows.filter(
            Q(port__contains=text) | Q(sender_name__contains=text) | Q(signature__contains=text)
        )
    job_id = bounded_id(job) if job else None
    if job:
        rows = rows.filter(source_job_id=job_id) if job_id else rows.none()
    carrier_id = bounded_id(carrier) if carrier else None
    if carrier:
        rows = rows.filter(carrier_id=carrier_id) if carrier_id else rows.none()
    return in_period(rows, start, end).order_by("start_at", "pk")


def review_queue(*, user) -> QuerySet:
    """Submitted filings, the soonest planned start first (issue 12 §4)."""
    return (
        SmsFiling.objects.visible_to(user)
        .filter(status=FilingStatus.SUBMITTED)
        .select_related("carrier", "institution")
        .order_by("start_at", "pk")
    )


def month_of(text: str, today: dt.date) -> dt.date:
    try:
        year, month = (int(x) for x in (text or "").split("-")[:2])
        return dt.date(year, month, 1)
    except (TypeError, ValueError):
        return today.replace(day=1)


def calendar_month(*, user, first: dt.date) -> dict:
    """Planned campaigns per day of a month (a campaign over several days shows on each),
    for the calendar view; withdrawn filings are left out."""
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    rows = in_period(
        SmsFiling.objects.visible_to(user).exclude(status=FilingStatus.WITHDRAWN),
        first,
        last,
    ).select_related("carrier")
    by_day: dict[dt.date, list[SmsFiling]] = defaultdict(list)
    for filing in rows.order_by("start_at", "pk"):
        day = max(timezone.localtime(filing.start_at, SHANGHAI).date(), first)
        end = min(timezone.localtime(max(filing.end_at, filing.start_at), SHANGHAI).date(), last)
        while day <= end:
            by_day[day].append(filing)
            day += dt.timedelta(days=1)
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        weeks.append(
            [
                {"day": d, "in_month": d.month == first.month, "filings": by_day.get(d, [])}
                for d in week
            ]
        )
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    following = last + dt.timedelta(days=1)
    return {"weeks": weeks, "first": first, "previous": previous, "next": following}


def status_counts(*, user) -> dict[str, int]:
    counts = SmsFiling.objects.visible_to(user).values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in counts}
