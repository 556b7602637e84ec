"""Read queries on the registry that pages, the API and the dashboard share.

Every function takes the acting user and starts from a ``visible_to(user)`` QuerySet
(architecture.md: tenancy), so a caller cannot forget the scope.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from portal.carriers import BASIC_CARRIERS, carrier_name
from portal.filters import bounded_id, filter_by_id
from portal.models import Organisation, OrgKind, UploadJob

from . import numbers
from .importers import register
from .models import (
    FLAGGED_MATCHES,
    OPEN_STATUSES,
    PURPOSE_BY_LABEL,
    ImportStatus,
    NumberKindField,
    Partner,
    Purpose,
    RegisteredNumber,
    ReportStatus,
    ServiceReport,
    ServiceReportLine,
    Status,
)

SUB_PORT = "sub_port"
STATUS_ALL = "all"
EXPIRY_WARNING_DAYS = 30


def kind_filter_choices() -> list[tuple[str, str]]:
    """号码类型 as the list shows it: sub-ports apart from main ports."""
    return [*NumberKindField.choices, (SUB_PORT, "子端口")]


def status_filter_choices() -> list[tuple[str, str]]:
    return [*Status.choices, (STATUS_ALL, "全部")]


def number_search_digits(text: str) -> str:
    """What a search box query means as canonical digits.

    A query that is a whole number in any accepted spelling (``+86 138 0013 8000``,
    ``(0571)8765-4321``) becomes its canonical form; anything else keeps only its digits,
    so ``0013 8000`` finds 13800138000 by substring.
    """
    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        return ""
    canonical, _kind, error = numbers.classify(text)
    if error is None and canonical:
        return canonical
    # A partial number typed with its country code: "+86 138 0013" searches for "1380013".
    text = re.sub(r"^(\+\s*86|0086)", "", text)
    return re.sub(r"\D", "", text)


def filter_numbers(
    queryset: QuerySet,
    *,
    q: str = "",
    purpose: str = "",
    carrier: str = "",
    status: str = Status.ACTIVE,
    kind: str = "",
    partner: int | str | None = None,
    institution: int | str | None = None,
    shared: str = "",
) -> QuerySet:
    """Narrow an already scoped number QuerySet by the list's filters. Unknown values are
    ignored rather than raising: they come straight from a query string."""
    if q:
        digits = number_search_digits(q)
        if digits:
            queryset = queryset.filter(number__contains=digits)
        else:
            queryset = queryset.filter(user_name__icontains=q.strip())
    if purpose in Purpose.values:
        queryset = queryset.filter(purpose=purpose)
    if carrier and carrier.strip():
        name = carrier_name(carrier)
        queryset = queryset.filter(Q(carrier=name) | Q(carrier__icontains=carrier.strip()))
    if status in Status.values:
        queryset = queryset.filter(status=status)
    if kind == SUB_PORT:
        queryset = queryset.filter(is_sub_port=True)
    elif kind in NumberKindField.values:
        queryset = queryset.filter(kind=kind, is_sub_port=False)
    if shared in ("1", "0"):  # 多机构登记 (RegisteredNumber.objects.with_shared_mark)
        queryset = queryset.with_shared_mark().filter(shared=shared == "1")
    queryset = filter_by_id(queryset, "partner_id", partner)
    return filter_by_id(queryset, "institution_id", institution)


# Who reads the registry at all: institutions their own, the administration and the financial
# regulators everything; carriers have no registry (pages and API alike are a 404).
READERS = (OrgKind.INSTITUTION, OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)


def carrier_choices(*, user) -> list[str]:
    """The 运营商 filter's drop-down: the four basic carriers, and for an institution the
    SMS providers its own register names too (a regulator's register is too large to
    scan for that on every page; providers are still found by the URL's ?carrier=)."""
    choices = list(BASIC_CARRIERS)
    if user.is_institution:
        names = (
            RegisteredNumber.objects.visible_to(user)
            .filter(status=Status.ACTIVE)
            .exclude(carrier__in=choices)
            .order_by("carrier")
            .values_list("carrier", flat=True)
            .distinct()[:50]
        )
        choices += list(names)
    return choices


def numbers_for_list(*, user, **filters) -> QuerySet:
    """The numbers register as one user may read it, filtered (see :func:`filter_numbers`).
    The page adds the 多机构登记 mark for the rows it shows; an export of the whole register
    does not pay a probe per row for a column it does not write."""
    queryset = RegisteredNumber.objects.visible_to(user).select_related("partner", "institution")
    return filter_numbers(queryset, **filters).order_by("number", "institution_id", "-id")


# --- history ---------------------------------------------------------------------------

HISTORY_FIELDS = (
    ("kind_display", "号码类型"),
    ("main_port", "所属主端口"),
    ("purpose_label", "用途"),
    ("user_name", "使用单位"),
    ("user_credit_code", "使用单位统一社会信用代码"),
    ("carrier", "电信运营商"),
    ("document_number", "委托书编号"),
    ("valid_from", "合作起始日期"),
    ("valid_to", "合作截止日期"),
    ("remark", "备注"),
)


@dataclass
class HistoryEntry:
    row: RegisteredNumber
    event: str  # 首次登记 / 变更 / 重新登记
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # label, before, after


def _history_value(row: RegisteredNumber, name: str) -> str:
    if name == "purpose_label":
        return Purpose(row.purpose).label
    value = getattr(row, name)
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def number_history(*, user, number: RegisteredNumber) -> list[HistoryEntry]:
    """Every version of one institution's registration of one number, oldest first, with
    what changed from the version before (the registry never deletes: models.py)."""
    rows = (
        RegisteredNumber.objects.visible_to(user)
        .filter(institution_id=number.institution_id, number=number.number)
        .select_related("created_by", "source_job", "partner")
        .order_by("created_at", "id")
    )
    entries: list[HistoryEntry] = []
    previous: RegisteredNumber | None = None
    for row in rows:
        if previous is None:
            entries.append(HistoryEntry(row, "首次登记"))
        else:
            changes = []
            for name, label in HISTORY_FIELDS:
                if name == "valid_to" and row.status == Status.ENDED:
                    continue  # ending set it on this row; shown as the end date instead
                before, after = _history_value(previous, name), _history_value(row, name)
                if before != after:
                    changes.append((label, before, after))
            event = "重新登记" if previous.status == Status.ENDED else "变更"
            entries.append(HistoryEntry(row, event, changes))
        previous = row
    return entries


# --- partners --------------------------------------------------------------------------


def partners_for_list(*, user, q: str = "", institution: int | str | None = None) -> QuerySet:
    queryset = (
        Partner.objects.visible_to(user)
        .select_related("institution")
        .annotate(active_numbers=Count("numbers", filter=Q(numbers__status=Status.ACTIVE)))
    )
    if q and q.strip():
        text = q.strip()
        queryset = queryset.filter(Q(name__icontains=text) | Q(credit_code__icontains=text.upper()))
    return filter_by_id(queryset, "institution_id", institution).order_by(
        "institution__name", "name"
    )


def partner_choices(*, user, institution: int | str | None = None) -> QuerySet:
    """Partners offered in the numbers list's filter: an institution's own; for regulators
    only once an institution is chosen (all partners of a province would be a long list)."""
    queryset = Partner.objects.visible_to(user).only("id", "name", "institution_id")
    if user.is_institution:
        return queryset.order_by("name")
    if bounded_id(institution or ""):
        return filter_by_id(queryset, "institution_id", institution).order_by("name")
    return queryset.none()


def institutions_for_filter(*, user) -> QuerySet:
    """Institutions a regulator may pick in a filter (nobody else gets the choice)."""
    if user.kind not in (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR):
        return Organisation.objects.none()
    return (
        Organisation.objects.visible_to(user)
        .filter(kind=OrgKind.INSTITUTION)
        .only("id", "name")
        .order_by("name")
    )


# --- imports ---------------------------------------------------------------------------


def register_jobs(user) -> QuerySet:
    """The engine's jobs of the 号码登记表 that ``user`` may see."""
    return UploadJob.objects.visible_to(user).of_form(register.FORM.code)


def import_jobs_for_list(*, user, institution: int | str | None = None) -> QuerySet:
    queryset = register_jobs(user).select_related("organisation", "created_by")
    return filter_by_id(queryset, "organisation_id", institution).order_by("-created_at", "-id")


# --- dashboard -------------------------------------------------------------------------


def institution_summary(*, user, today: dt.date | None = None) -> dict:
    """An institution's registry at a glance (dashboard panel)."""
    today = today or timezone.localdate()
    active = RegisteredNumber.objects.visible_to(user).filter(status=Status.ACTIVE)
    by_purpose = {
        row["purpose"]: row["n"]
        for row in active.order_by().values("purpose").annotate(n=Count("id"))
    }
    partners = Partner.objects.visible_to(user)
    return {
        "numbers_total": sum(by_purpose.values()),
        "numbers_by_purpose": [
            (value, label, by_purpose.get(value, 0)) for value, label in Purpose.choices
        ],
        "partners_total": partners.count(),
        "partners_expiring": partners.filter(
            valid_to__gte=today, valid_to__lte=today + dt.timedelta(days=EXPIRY_WARNING_DAYS)
        ).count(),
        "partners_expired": partners.filter(valid_to__lt=today).count(),
        "latest_job": register_jobs(user).order_by("-created_at", "-id").first(),
        "expiry_days": EXPIRY_WARNING_DAYS,
    }


def regulator_summary(*, user, today: dt.date | None = None) -> dict:
    """The province's registry at a glance (regulators' dashboard panel)."""
    today = today or timezone.localdate()
    active = RegisteredNumber.objects.visible_to(user).filter(status=Status.ACTIVE)
    jobs_today = register_jobs(user).filter(created_at__date=today)
    return {
        "numbers_total": active.count(),
        "institutions_registered": active.order_by().values("institution_id").distinct().count(),
        "institutions_total": Organisation.objects.visible_to(user)
        .filter(kind=OrgKind.INSTITUTION)
        .count(),
        "imports_today": jobs_today.count(),
        "rejected_today": jobs_today.filter(status=ImportStatus.REJECTED).count(),
    }


# --- carriers' quarterly service-object reports (issue 11) --------------------------------

REPORT_READERS = (OrgKind.CARRIER, OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
LINES = "registry_servicereportline"
# What a compare shows field by field (issue 11 §4), in the form's order.
COMPARE_FIELDS = (
    ("kind", "号码类型"),
    ("main_port", "所属主端口"),
    ("object_name", "服务对象名称"),
    ("object_credit_code", "服务对象统一社会信用代码"),
    ("institution_name", "委托金融机构名称"),
    ("institution_credit_code", "委托金融机构统一社会信用代码"),
    ("purpose", "用途"),
    ("document_number", "委托书编号"),
    ("valid_from", "合作起始日期"),
    ("valid_to", "合作截止日期"),
)
LINE_FIELDS = ("number", *(name for name, _ in COMPARE_FIELDS))
COMPARE_LIMIT = 100
COMPARE_LIMIT_MAX = 1000


def reports_visible(user) -> QuerySet:
    return ServiceReport.objects.visible_to(user).select_related("carrier")


def can_compare(user) -> bool:
    """The compare of two versions (issue 11 §4) is the carrier's and the administration's:
    it counts and lists every line of both versions, whichever institution a line serves,
    and a financial regulator reads only the lines of its scope (issue 14 §6)."""
    return user.kind in (OrgKind.CARRIER, OrgKind.REGULATOR)


def report_lines(
    *, user, report: ServiceReport, q: str = "", purpose: str = "", flagged: bool = False
) -> QuerySet:
    """A report's lines as ``user`` may read them (a financial regulator: those of its
    scope, ``ServiceReportLine.objects.visible_to``), searched by number (any spelling,
    substring of the digits), by service object (name or credit code) and by purpose
    (issue 11 §4). ``report`` comes from ``reports_visible(user)``."""
    lines = ServiceReportLine.objects.visible_to(user).filter(report=report)
    q = (q or "").strip()
    if q:
        digits = number_search_digits(q)
        match = Q(object_name__icontains=q) | Q(object_credit_code__icontains=q.upper())
        match |= Q(institution_name__icontains=q)
        if digits:
            match |= Q(number__contains=digits)
        lines = lines.filter(match)
    if purpose:
        code = PURPOSE_BY_LABEL.get(purpose, purpose)
        lines = lines.filter(purpose=code)
    if flagged:
        lines = lines.filter(
            Q(object_match__in=FLAGGED_MATCHES) | Q(institution_match__in=FLAGGED_MATCHES)
        )
    return lines.order_by("number")


def compare_default(*, user, report: ServiceReport) -> ServiceReport | None:
    """What a version is compared with by default: the version it started from, else this
    quarter's previous version, else the previous quarter's latest accepted version."""
    visible = reports_visible(user).filter(carrier_id=report.carrier_id)
    if report.based_on_id:
        based = visible.filter(pk=report.based_on_id).first()
        if based is not None:
            return based
    earlier = visible.filter(
        year=report.year, quarter=report.quarter, version__lt=report.version
    ).order_by("-version")
    if earlier.exists():
        return earlier.first()
    year, quarter = (
        (report.year - 1, 4) if report.quarter == 1 else (report.year, report.quarter - 1)
    )
    return (
        visible.filter(year=year, quarter=quarter, status=ReportStatus.ACCEPTED)
        .order_by("-version")
        .first()
    )


@dataclass
class Comparison:
    old: ServiceReport
    new: ServiceReport
    added: int
    ended: int
    changed: int
    unchanged: int
    fields: dict[str, int]
    added_lines: list[dict] = field(default_factory=list)
    ended_lines: list[dict] = field(default_factory=list)
    changed_lines: list[dict] = field(default_factory=list)


def _same(column: str) -> str:
    """Null-safe equality of one column of a (old) and b (new), in SQL both databases run."""
    if column == "valid_to":
        return "(a.valid_to = b.valid_to OR (a.valid_to IS NULL AND b.valid_to IS NULL))"
    return f"a.{column} = b.{column}"


def _shown(column: str, value) -> str:
    if value is None or value == "":
        return ""
    if column == "purpose":
        return str(Purpose(value).label) if value in Purpose.values else str(value)
    if column == "kind":
        return str(NumberKindField(value).label) if value in NumberKindField.values else value
    return str(value)


PAIRS = "registry_report_compare"


def _pairs_sql() -> str:
    """The lines that differ between two versions, as (old line id, new line id) pairs: only
    in the new one (aid NULL), only in the old one (bid NULL), or in both with another
    fingerprint. One pass over the narrow columns: a full hash join on PostgreSQL; SQLite
    (which gained FULL JOIN only in 3.39) a left join and an anti-join."""
    narrow = f"SELECT id, number, fingerprint FROM {LINES} WHERE report_id = %s"  # noqa: S608
    if connection.vendor == "postgresql":
        return (
            f"SELECT a.id AS aid, b.id AS bid FROM ({narrow}) a FULL OUTER JOIN ({narrow}) b"  # noqa: S608
            " ON a.number = b.number"
            " WHERE a.id IS NULL OR b.id IS NULL OR a.fingerprint <> b.fingerprint"
        )
    return (
        f"SELECT a.id AS aid, b.id AS bid FROM {LINES} a LEFT JOIN {LINES} b"  # noqa: S608
        " ON b.report_id = %s AND b.number = a.number"
        " WHERE a.report_id = %s AND (b.id IS NULL OR a.fingerprint <> b.fingerprint)"
        f" UNION ALL SELECT NULL, b.id FROM {LINES} b WHERE b.report_id = %s AND NOT EXISTS ("
        f"SELECT 1 FROM {LINES} a WHERE a.report_id = %s AND a.number = b.number)"
    )


def report_compare(
    *, old: ServiceReport, new: ServiceReport, limit: int = COMPARE_LIMIT
) -> Comparison:
    """Compare two versions set-based in SQL (issue 11 §4): lines added (in ``new`` only),
    ended (in ``old`` only) and changed (in both, another fingerprint), with per-field counts
    of the changes. One pass over both versions finds the differing pairs (a temporary
    table: as small as the difference); the counts and the first ``limit`` lines of each
    kind, field by field, come from it. Both reports come from ``reports_visible(user)``."""
    from django.db import transaction

    from portal.spreadsheets.staging import drop_batch_table

    limit = max(0, min(int(limit), COMPARE_LIMIT_MAX))
    postgres = connection.vendor == "postgresql"
    params = [old.pk, new.pk] if postgres else [new.pk, old.pk, new.pk, old.pk]
    per_field = ", ".join(
        f"COALESCE(SUM(CASE WHEN {_same(c)} THEN 0 ELSE 1 END), 0)" for c, _ in COMPARE_FIELDS
    )
    both = f"FROM {PAIRS} p JOIN {LINES} a ON a.id = p.aid JOIN {LINES} b ON b.id = p.bid"
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            # One hash of the narrow columns of a version (500,000 lines: about 60 MB) kept
            # in memory; no JIT compile for one statement.
            cursor.execute("SET LOCAL work_mem = '128MB'")
            cursor.execute("SET LOCAL jit = off")
        drop_batch_table(PAIRS)
        on_commit = " ON COMMIT DROP" if postgres else ""
        cursor.execute(f"CREATE TEMPORARY TABLE {PAIRS}{on_commit} AS {_pairs_sql()}", params)
        cursor.execute(
            "SELECT COALESCE(SUM(CASE WHEN aid IS NULL THEN 1 ELSE 0 END), 0),"  # noqa: S608
            " COALESCE(SUM(CASE WHEN bid IS NULL THEN 1 ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN aid IS NOT NULL AND bid IS NOT NULL THEN 1 ELSE 0 END), 0)"
            f" FROM {PAIRS}"
        )
        added, ended, changed = (int(n) for n in cursor.fetchone())
        cursor.execute(f"SELECT {per_field} {both}")  # noqa: S608
        field_counts = cursor.fetchone()
        result = Comparison(
            old=old,
            new=new,
            added=added,
            ended=ended,
            changed=changed,
            unchanged=max(new.line_count - added - changed, 0),
            fields={
                name: int(n) for (name, _), n in zip(COMPARE_FIELDS, field_counts, strict=True)
            },
        )
        cols = ", ".join(f"x.{c}" for c in LINE_FIELDS)
        for target, side, other, count in (
            ("added_lines", "bid", "aid", added),
            ("ended_lines", "aid", "bid", ended),
        ):
            if not (limit and count):
                continue
            cursor.execute(
                f"SELECT {cols} FROM {PAIRS} p JOIN {LINES} x ON x.id = p.{side}"  # noqa: S608
                f" WHERE p.{other} IS NULL ORDER BY x.number LIMIT %s",
                [limit],
            )
            setattr(
                result,
                target,
                [
                    {c: _shown(c, v) for c, v in zip(LINE_FIELDS, row, strict=True)}
                    for row in cursor.fetchall()
                ],
            )
        if limit and changed:
            values = ", ".join(
                [f"a.{c}" for c, _ in COMPARE_FIELDS] + [f"b.{c}" for c, _ in COMPARE_FIELDS]
            )
            cursor.execute(
                f"SELECT a.number, {values} {both} ORDER BY a.number LIMIT %s",  # noqa: S608
                [limit],
            )
            n = len(COMPARE_FIELDS)
            for number, *row in cursor.fetchall():
                changes = [
                    {"field": name, "label": label, "old": _shown(name, a), "new": _shown(name, b)}
                    for (name, label), a, b in zip(COMPARE_FIELDS, row[:n], row[n:], strict=True)
                    if a != b
                ]
                result.changed_lines.append({"number": number, "changes": changes})
        drop_batch_table(PAIRS)
    return result


def current_quarter(today: dt.date | None = None) -> tuple[int, int]:
    from portal.workdays import quarter_of

    return quarter_of(today or timezone.localdate())


def quarter_state(*, year: int, quarter: int, today: dt.date | None = None) -> dict:
    """The quarter's deadline and its countdown in working days (issue 11 §2): ``due``,
    ``working_days_left`` (working days after today up to the due day), ``late_by`` (working
    days past it, when it is past), or ``calendar_error``."""
    from portal import workdays

    today = today or timezone.localdate()
    try:
        due = workdays.quarterly_report_deadline(year, quarter)
        now = timezone.now()
        return {
            "due": due,
            "due_today": due.date() == today,
            "working_days_left": workdays.working_days_between(today, due.date()),
            "late_by": workdays.working_days_late(due, now),
            "calendar_error": None,
        }
    except workdays.CalendarYearMissing as exc:
        return {"due": None, "calendar_error": exc.message}


def carrier_report_summary(*, user, today: dt.date | None = None) -> dict:
    """A carrier's current quarter at a glance (dashboard panel and its report page)."""
    year, quarter = current_quarter(today)
    mine = reports_visible(user).filter(year=year, quarter=quarter).order_by("-version")
    prev_year, prev_quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    previous = (
        reports_visible(user)
        .filter(year=prev_year, quarter=prev_quarter, status=ReportStatus.ACCEPTED)
        .order_by("-version")
        .first()
    )
    return {
        "year": year,
        "quarter": quarter,
        "quarter_code": f"{year}Q{quarter}",
        "quarter_display": f"{year} 年第 {quarter} 季度",
        "latest": mine.first(),
        "open": mine.filter(status__in=OPEN_STATUSES).first(),
        "previous_accepted": previous,
        **quarter_state(year=year, quarter=quarter, today=today),
    }


def not_submitted_summary(*, user, today: dt.date | None = None) -> dict:
    """The regulator's dashboard: carriers that have not yet submitted this quarter."""
    from .services import carriers_not_submitted

    year, quarter = current_quarter(today)
    if not user.is_regulator:
        return {"carriers": []}
    carriers = list(carriers_not_submitted(year, quarter).order_by("name"))
    return {
        "year": year,
        "quarter": quarter,
        "quarter_code": f"{year}Q{quarter}",
        "quarter_display": f"{year} 年第 {quarter} 季度",
        "carriers": carriers,
        **quarter_state(year=year, quarter=quarter, today=today),
    }
