"""The working-day calendar: regulators edit it, everyone reads the deadlines it gives."""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from .. import services as calendar_services
from .. import workdays
from ..calendar_csv import CalendarFileError, parse_calendar_csv
from ..errors import PortalError
from ..models import (
    CalendarYear,
    OrgKind,
    WorkDay,
)
from . import require_kind


@login_required
def calendar_index(request: HttpRequest) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR)
    years = CalendarYear.objects.all()
    counts = {
        row["date__year"]: row["n"]
        for row in WorkDay.objects.filter(is_workday=True)
        .values("date__year")
        .annotate(n=Count("id"))
    }
    rows = [(y, counts.get(y.year, 0)) for y in years]
    return render(
        request,
        "portal/calendar/index.html",
        {
            "rows": rows,
            "next_year": timezone.localdate().year + 1,
            "can_edit": request.user.can_write,
        },
    )


@login_required
@require_POST
def calendar_seed(request: HttpRequest) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR)
    try:
        year = int(request.POST.get("year", ""))
        working, changed = calendar_services.calendar_load_year(actor=request.user, year=year)
    except ValueError:
        messages.error(request, "年份无效")
        return redirect("calendar_index")
    except workdays.CalendarYearMissing:
        messages.error(
            request,
            f"chinese-calendar 尚不包含 {year} 年的节假日安排，请在下方按国务院通知上传该年安排",
        )
        return redirect("calendar_index")
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("calendar_index")
    if changed:
        messages.success(request, f"已加载 {year} 年工作日历，共 {working} 个工作日")
    else:
        messages.info(request, f"{year} 年工作日历与 chinese-calendar 一致，未作修改")
    return redirect("calendar_year", year=year)


@login_required
def calendar_year(request: HttpRequest, year: int) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR)
    if not CalendarYear.objects.filter(year=year).exists():
        raise Http404
    days = {d.date: d for d in WorkDay.objects.filter(date__year=year)}
    months = []
    cal = pycalendar.Calendar(firstweekday=0)
    for month in range(1, 13):
        weeks = [
            [days.get(day) if day.month == month else None for day in week]
            for week in cal.monthdatescalendar(year, month)
        ]
        working = sum(1 for d in days.values() if d.date.month == month and d.is_workday)
        months.append({"month": month, "weeks": weeks, "working": working})
    return render(
        request,
        "portal/calendar/year.html",
        {
            "year": CalendarYear.objects.get(year=year),
            "months": months,
            "working_total": sum(m["working"] for m in months),
            "can_edit": request.user.can_write,
            "weekday_names": "一二三四五六日",
        },
    )


class CalendarUploadForm(forms.Form):
    year = forms.IntegerField(label="年份", min_value=2004, max_value=2100)
    file = forms.FileField(
        label="节假日安排 CSV",
        help_text="每行“日期,类型[,名称]”：类型为 holiday（放假）或 workday（调休上班）；"
        "其余日期按周一至周五上班、周末休息。UTF-8 或 GB18030 编码。",
    )


CALENDAR_PREVIEW_KEY = "calendar_upload_preview"


@login_required
def calendar_upload(request: HttpRequest) -> HttpResponse:
    """Upload next year's schedule (State Council notice) as CSV, check the per-month
    working-day counts, then confirm. Nothing is saved before the confirmation."""
    require_kind(request, OrgKind.REGULATOR)
    if not request.user.can_write:
        raise Http404
    if request.method == "POST" and request.POST.get("confirm"):
        preview = request.session.pop(CALENDAR_PREVIEW_KEY, None)
        if not preview:
            messages.error(request, "预览已过期，请重新上传")
            return redirect("calendar_upload")
        days = [(dt.date.fromisoformat(d), bool(w), n) for d, w, n in preview["days"]]
        try:
            working, changed = calendar_services.calendar_load_year(
                actor=request.user, year=preview["year"], days=days, source="CSV 上传"
            )
        except PortalError as exc:
            messages.error(request, exc.message)
            return redirect("calendar_upload")
        messages.success(request, f"已保存 {preview['year']} 年工作日历，共 {working} 个工作日")
        return redirect("calendar_year", year=preview["year"])
    form = CalendarUploadForm(request.POST or None, request.FILES or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        year = form.cleaned_data["year"]
        try:
            days = parse_calendar_csv(form.cleaned_data["file"].read(200_001), year=year)
        except CalendarFileError as exc:
            form.add_error("file", exc.message)
        else:
            request.session[CALENDAR_PREVIEW_KEY] = {
                "year": year,
                "days": [(d.isoformat(), w, n) for d, w, n in days],
            }
            months = [
                {"month": m, "working": sum(1 for d, w, _ in days if w and d.month == m)}
                for m in range(1, 13)
            ]
            preview = {
                "year": year,
                "months": months,
                "working": sum(1 for _, w, _ in days if w),
                "holidays": [(d, n) for d, w, n in days if not w and n],
                "makeups": [(d, n) for d, w, n in days if w and n],
                "replaces": CalendarYear.objects.filter(year=year).exists(),
            }
    return render(request, "portal/calendar/upload.html", {"form": form, "preview": preview})


class DayForm(forms.Form):
    is_workday = forms.BooleanField(label="工作日", required=False)
    name = forms.CharField(label="说明", max_length=32, required=False)


@login_required
def calendar_day(request: HttpRequest, day: str) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR)
    try:
        date = dt.date.fromisoformat(day)
    except ValueError as exc:
        raise Http404 from exc
    row = get_object_or_404(WorkDay, date=date)
    form = DayForm(request.POST or None, initial={"is_workday": row.is_workday, "name": row.name})
    if request.method == "POST" and form.is_valid():
        try:
            calendar_services.workday_set(
                actor=request.user,
                day=date,
                is_workday=form.cleaned_data["is_workday"],
                name=form.cleaned_data["name"],
            )
        except PortalError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"已更新 {date:%Y-%m-%d}")
        return redirect(reverse("calendar_year", args=[date.year]) + f"#m{date.month}")
    return render(request, "portal/calendar/day.html", {"row": row, "form": form})
