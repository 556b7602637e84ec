"""Portal pages: dashboard, organisations, users, audit trail, working-day calendar, health."""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
import json
import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from . import services as calendar_services
from . import workdays
from .accounts import services as account_services
from .accounts import tokens as account_tokens
from .calendar_csv import CalendarFileError, parse_calendar_csv
from .dashboard import panels_for
from .errors import PortalError
from .models import (
    ApiToken,
    AuditEvent,
    CalendarYear,
    LicenceCategory,
    Organisation,
    OrgKind,
    Role,
    User,
    WorkDay,
)

log = logging.getLogger(__name__)
PAGE_SIZE = 25


def paginate(request: HttpRequest, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def require_kind(request: HttpRequest, *kinds: str) -> None:
    """Pages of another party's role do not exist for this user (404, not 403)."""
    if request.user.kind not in kinds:
        raise Http404


# --- dashboard ---------------------------------------------------------------------------


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
    context = {"today": today, "panels": panels_for(request)}
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


# --- organisations (regulators) ----------------------------------------------------------


class OrganisationForm(forms.Form):
    kind = forms.ChoiceField(label="单位类型", choices=OrgKind.choices)
    name = forms.CharField(label="单位名称", max_length=200)
    credit_code = forms.CharField(label="统一社会信用代码", max_length=40)
    licence_category = forms.ChoiceField(
        label="许可类别（金融机构必填）",
        choices=[("", "—")] + list(LicenceCategory.choices),
        required=False,
    )
    province = forms.CharField(label="所在省份", max_length=32, required=False)
    contact_email = forms.EmailField(label="联系邮箱", required=False)


class UserForm(forms.Form):
    username = forms.CharField(label="用户名", max_length=150)
    full_name = forms.CharField(label="姓名", max_length=150, required=False)
    email = forms.EmailField(label="邮箱", required=False)
    role = forms.ChoiceField(label="角色", choices=Role.choices, initial=Role.OPERATOR)


def _form_errors_from(exc: PortalError, form: forms.Form) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_required
def organisation_list(request: HttpRequest) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
    qs = (
        Organisation.objects.visible_to(request.user)
        .annotate(user_count=Count("users"))
        .order_by("kind", "name")
    )
    kind = request.GET.get("kind", "")
    q = request.GET.get("q", "").strip()
    if kind in OrgKind.values:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(credit_code__icontains=q.upper()))
    return render(
        request,
        "portal/organisations/list.html",
        {"page": paginate(request, qs), "kinds": OrgKind.choices, "kind": kind, "q": q},
    )


@login_required
def organisation_create(request: HttpRequest) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR)
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org, created = account_services.organisation_create(
                actor=request.user, **form.cleaned_data
            )
        except PortalError as exc:
            _form_errors_from(exc, form)
        else:
            if created:
                messages.success(request, f"已创建单位“{org.name}”，请为其添加首位管理员")
            else:
                messages.info(request, f"该统一社会信用代码已登记为“{org.name}”")
            return redirect("organisation_detail", pk=org.pk)
    return render(request, "portal/organisations/form.html", {"form": form})


class OrganisationEditForm(forms.Form):
    name = forms.CharField(label="单位名称", max_length=200)
    licence_category = forms.ChoiceField(
        label="许可类别", choices=[("", "—")] + list(LicenceCategory.choices), required=False
    )
    province = forms.CharField(label="所在省份", max_length=32, required=False)
    contact_email = forms.EmailField(label="联系邮箱", required=False)


@login_required
def organisation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The administration's 管理员 renames an organisation or corrects its details; the kind
    and the credit code identify it and stay (accounts.services.organisation_update)."""
    user = request.user
    require_kind(request, OrgKind.REGULATOR)
    if user.role != Role.ADMIN:
        raise Http404
    org = get_object_or_404(Organisation.objects.visible_to(user), pk=pk)
    initial = {key: getattr(org, key) for key in account_services.ORGANISATION_EDITABLE}
    form = OrganisationEditForm(request.POST or None, initial=initial)
    if not org.is_institution:
        del form.fields["licence_category"]
    if request.method == "POST" and form.is_valid():
        try:
            account_services.organisation_update(actor=user, organisation=org, **form.cleaned_data)
        except PortalError as exc:
            _form_errors_from(exc, form)
        else:
            messages.success(request, "已保存单位信息")
            return redirect("organisation_detail", pk=org.pk)
    return render(request, "portal/organisations/edit.html", {"form": form, "org": org})


@login_required
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    org = get_object_or_404(Organisation.objects.visible_to(user), pk=pk)
    # Colleagues' roles, second factor and last login are for those who manage the accounts
    # (the organisation's 管理员, or the administration's): never for 查看 or 经办人.
    users = None
    if _manages_users(user, org):
        users = User.objects.visible_to(user).filter(organisation=org).order_by("username")
    return render(request, "portal/organisations/detail.html", {"org": org, "users": users})


# --- users (org admins; regulators for any organisation) --------------------------------


def _manages_users(user, org: Organisation) -> bool:
    return user.role == Role.ADMIN and (user.is_regulator or org.pk == user.organisation_id)


def _manageable_org(request: HttpRequest, org_pk: int | None) -> Organisation:
    user = request.user
    if org_pk is None:
        if user.role != Role.ADMIN:
            raise Http404
        return user.organisation
    org = get_object_or_404(Organisation.objects.visible_to(user), pk=org_pk)
    if not _manages_users(user, org):
        raise Http404
    return org


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    org = _manageable_org(request, None)
    users = User.objects.visible_to(request.user).filter(organisation=org).order_by("username")
    return render(request, "portal/users/list.html", {"org": org, "users": users})


@login_required
def user_create(request: HttpRequest, org_pk: int | None = None) -> HttpResponse:
    org = _manageable_org(request, org_pk)
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, password, created = account_services.user_create(
                actor=request.user, organisation=org, **form.cleaned_data
            )
        except PortalError as exc:
            _form_errors_from(exc, form)
        else:
            if not created:
                messages.info(request, f"用户“{user.username}”已存在")
                return (
                    redirect("user_list")
                    if org_pk is None
                    else redirect("organisation_detail", pk=org.pk)
                )
            return render(
                request,
                "portal/users/created.html",
                {"new_user": user, "password": password, "org": org, "org_pk": org_pk},
            )
    return render(request, "portal/users/form.html", {"form": form, "org": org})


@login_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
    org = _manageable_org(request, target.organisation_id)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "reset_password":
                password = account_services.user_reset_password(actor=request.user, user=target)
                return render(
                    request,
                    "portal/users/created.html",
                    {"new_user": target, "password": password, "org": org, "reset": True},
                )
            if action in ("deactivate", "activate"):
                account_services.user_update(
                    actor=request.user, user=target, is_active=action == "activate"
                )
            elif action == "role":
                account_services.user_update(
                    actor=request.user, user=target, role=request.POST.get("role")
                )
            messages.success(request, f"已更新用户“{target.username}”")
        except PortalError as exc:
            messages.error(request, exc.message)
        return redirect("user_edit", pk=target.pk)
    return render(
        request, "portal/users/edit.html", {"target": target, "org": org, "roles": Role.choices}
    )


# --- API tokens (each organisation's 管理员, for its own users; issue 16 item 6) ----------


class TokenForm(forms.Form):
    user = forms.ModelChoiceField(label="令牌所属用户", queryset=User.objects.none())
    name = forms.CharField(
        label="用途",
        max_length=100,
        help_text="如“核心系统对接”“催收系统每日同步”，便于日后识别和撤销",
    )

    def __init__(self, *args, organisation: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(
            organisation=organisation, is_active=True
        ).order_by("username")
        self.fields["user"].label_from_instance = lambda u: (
            f"{u.username}（{u.get_role_display()}）"
        )


def _token_admin_refused(request: HttpRequest) -> HttpResponse | None:
    """The page exists for an organisation's 管理员 only (404 for anyone else), and works
    only in a session that passed every factor its user needs: a token is a credential
    that skips the second factor, so it is not handed out on the strength of a password."""
    user = request.user
    if user.organisation_id is None or user.role != Role.ADMIN:
        raise Http404
    if not account_tokens.session_is_fully_authenticated(request):
        return render(request, "portal/tokens/unverified.html", status=403)
    return None


@never_cache
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    if refused := _token_admin_refused(request):
        return refused
    org = request.user.organisation
    tokens = (
        ApiToken.objects.visible_to(request.user)
        .select_related("user", "created_by")
        .order_by("-created_at", "-id")
    )
    holder = None
    if request.GET.get("user", "").isdigit():
        holder = get_object_or_404(
            User.objects.filter(organisation=org), pk=int(request.GET["user"])
        )
        tokens = tokens.filter(user=holder)
    form = TokenForm(
        request.POST or None,
        organisation=org,
        initial={"user": holder.pk} if holder else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            token, key = account_tokens.api_token_issue(
                actor=request.user, user=form.cleaned_data["user"], name=form.cleaned_data["name"]
            )
        except PortalError as exc:
            _form_errors_from(exc, form)
        else:
            return render(request, "portal/tokens/issued.html", {"token": token, "key": key})
    return render(
        request,
        "portal/tokens/list.html",
        {
            "org": org,
            "form": form,
            "page": paginate(request, tokens),
            "holder": holder,
            "token_days": settings.API_TOKEN_DAYS,
        },
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    if refused := _token_admin_refused(request):
        return refused
    token = get_object_or_404(
        ApiToken.objects.visible_to(request.user).select_related("user"), pk=pk
    )
    try:
        account_tokens.api_token_revoke(actor=request.user, token=token)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已撤销“{token.user.username}”的令牌 {token.prefix}…")
    return redirect("token_list")


# --- audit trail (regulators) -------------------------------------------------------------


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR)
    qs = AuditEvent.objects.visible_to(request.user).select_related("organisation")
    filters = {
        key: request.GET.get(key, "").strip()
        for key in ("action", "actor", "org", "since", "until")
    }
    if filters["action"]:
        qs = qs.filter(action__startswith=filters["action"])
    if filters["actor"]:
        qs = qs.filter(actor_label__icontains=filters["actor"])
    if filters["org"]:
        qs = qs.filter(organisation__name__icontains=filters["org"])
    for key, lookup in (("since", "created_at__date__gte"), ("until", "created_at__date__lte")):
        if filters[key]:
            try:
                qs = qs.filter(**{lookup: dt.date.fromisoformat(filters[key])})
            except ValueError:
                messages.error(request, f"日期“{filters[key]}”格式应为 2026-03-01")
    actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    return render(
        request,
        "portal/audit/list.html",
        {"page": paginate(request, qs, 50), "filters": filters, "actions": sorted(set(actions))},
    )


@require_safe
@login_required
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One event as recorded: its summary in Chinese and as the raw JSON the hash covers."""
    require_kind(request, OrgKind.REGULATOR)
    event = get_object_or_404(
        AuditEvent.objects.visible_to(request.user).select_related("organisation"), pk=pk
    )
    raw = json.dumps(event.summary, ensure_ascii=False, indent=2, sort_keys=True)
    return render(request, "portal/audit/detail.html", {"event": event, "raw": raw})


# --- working-day calendar (regulators edit, everyone reads deadlines) --------------------


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


# --- health and errors --------------------------------------------------------------------


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachable: 200, else 503 with what failed."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        log.warning("healthz database: %s", exc)
        checks["database"] = "error"
    try:
        from .celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        log.warning("healthz broker: %s", exc)
        checks["broker"] = "error"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", **checks}, status=200 if ok else 503)


def error_403(request: HttpRequest, exception=None) -> HttpResponse:
    """The reason a view gave (what the user can do instead), or the general sentence."""
    reason = str(exception or "").strip()
    return render(request, "403.html", {"reason": reason}, status=403)


def error_404(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    # No context processors: the database may be what failed.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
