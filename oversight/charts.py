"""What the dashboards draw (issue 14 §5): selectors that return a chart's labels and
series for the acting user, and the short lists beside them.

Every figure comes from a query scoped with ``visible_to(user)`` (issue 14 §6: a financial
regulator counts the institutions it supervises, an institution its own findings, a
carrier its own cases) and is one aggregate query (GROUP BY), never a Python loop over a
run's findings: a run can hold a million of them. A finished run's figures are kept in
the cache under a key that changes whenever they could (``_memo``). The templates draw a
``Chart`` with
Chart.js (``static/oversight/charts.js``), or say in words why there is nothing to draw.

The palette is Okabe–Ito's (safe for the common colour-vision deficiencies); every chart
has its numbers as a table beside the canvas as well."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Count, F, Max, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from portal.models import Organisation, OrgKind

from .cases import (
    AWAITING_CARRIER,
    OPEN_CASE_STATUSES,
    CaseStatus,
    DisposalCase,
    ExchangePackage,
    FindingDecision,
    Review,
)
from .models import (
    Complaint,
    ComplaintCategory,
    Finding,
    FindingCode,
    FindingState,
    ReconciliationRun,
    RunStatus,
)

# Okabe & Ito (2008), "Color Universal Design": distinguishable with protanopia,
# deuteranopia and tritanopia. Grey for what is set aside.
BLUE = "#0072B2"
SKY = "#56B4E9"
GREEN = "#009E73"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#999999"

TOP = 10
QUARTERS = 8
MONTHS = 12
LIST_LIMIT = 20
CACHE_SECONDS = 600

REVIEW_COLOURS = {Review.PENDING: SKY, Review.CONFIRMED: VERMILLION, Review.DISMISSED: GREY}
CATEGORY_COLOURS = {
    ComplaintCategory.MARKETING: BLUE,
    ComplaintCategory.COLLECTION: ORANGE,
    ComplaintCategory.OTHER: GREY,
}
STATUS_COLOURS = {
    CaseStatus.ORDERED: BLUE,
    CaseStatus.REPORTED: SKY,
    CaseStatus.DISPUTED: PURPLE,
    CaseStatus.CLOSED: GREEN,
    CaseStatus.REVERSED: GREY,
}


@dataclass
class Series:
    label: str
    data: list[int]
    colour: str | list[str]  # one colour, or one per label (a doughnut's slices)


@dataclass
class Chart:
    """One chart: what Chart.js needs, and what a reader without the canvas needs."""

    key: str
    title: str
    kind: str  # "bar" or "doughnut"
    axis: str  # what the labels are (the table's first column)
    labels: list[str] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    empty: str = "没有可统计的记录"  # shown as "暂无数据：…" instead of an empty canvas
    note: str = ""
    unit: str = "条"
    horizontal: bool = False
    stacked: bool = False

    @property
    def dom_id(self) -> str:
        return f"chart-{self.key}-data"

    @property
    def totals(self) -> list[int]:
        return [sum(s.data[i] for s in self.series) for i in range(len(self.labels))]

    @property
    def total(self) -> int:
        return sum(self.totals)

    @property
    def has_data(self) -> bool:
        return self.total > 0

    @property
    def rows(self) -> list[dict]:
        return [
            {"label": label, "values": [s.data[i] for s in self.series], "total": total}
            for i, (label, total) in enumerate(zip(self.labels, self.totals, strict=True))
        ]

    @property
    def summary(self) -> str:
        """The numbers in one sentence, for the canvas's aria-label."""
        parts = [
            f"{label} {n} {self.unit}" for label, n in zip(self.labels, self.totals, strict=True)
        ]
        return f"共 {self.total} {self.unit}：" + "，".join(parts)

    def config(self) -> dict:
        """What ``charts.js`` reads (through ``json_script``)."""
        return {
            "type": self.kind,
            "labels": self.labels,
            "datasets": [
                {"label": s.label, "data": s.data, "colour": s.colour} for s in self.series
            ],
            "horizontal": self.horizontal,
            "stacked": self.stacked,
            "unit": self.unit,
        }


# --- findings ---------------------------------------------------------------------------


def latest_run() -> ReconciliationRun | None:
    """The latest finished cross-match. Chosen among all runs whoever reads (as the
    findings list does): when a run happened is no one's secret; what is counted in it is
    each reader's own scoped findings."""
    return ReconciliationRun.objects.filter(status=RunStatus.DONE).order_by("-pk").first()


def _open_findings(user, run_ids) -> QuerySet:
    """The reader's findings of these runs that the run did not carry over as resolved."""
    return (
        Finding.objects.visible_to(user)
        .filter(run_id__in=list(run_ids))
        .exclude(state=FindingState.RESOLVED)
    )


def _institutions_in_view(user) -> QuerySet | None:
    """The institutions a reader's per-institution figures may name; None = all of them.
    A finding about two institutions (多机构登记) is visible to the regulator of either,
    but its other institution is named only to its own regulator."""
    organisation = user.organisation
    if organisation.kind == OrgKind.FINANCIAL_REGULATOR:
        return organisation.supervised().values("pk")
    if organisation.kind != OrgKind.REGULATOR:
        return Organisation.objects.filter(pk=organisation.pk).values("pk")
    return None


def _scope_key(user) -> tuple:
    """Who the figures are for, as far as tenancy goes: the administration all, a financial
    regulator the institutions it supervises now (a change of scope is a new key), anyone
    else its own organisation."""
    organisation = user.organisation
    if organisation.kind == OrgKind.REGULATOR:
        return ("all",)
    if organisation.kind == OrgKind.FINANCIAL_REGULATOR:
        ids = sorted(organisation.supervised().values_list("pk", flat=True))
        return ("supervised", hashlib.sha256(repr(ids).encode()).hexdigest())
    return (organisation.kind, organisation.pk)


def _memo(user, name: str, run_ids, compute: Callable, *, reviews: bool = False):
    """``compute()``, kept in the cache. A finished run's findings never change but for
    their review, and every review writes a ``FindingDecision``: with the runs, the reader's
    scope and (for figures by review) the latest decision in the key, a kept answer is
    never stale. Scanning a million findings on every dashboard load is what this saves."""
    parts = ("oversight.charts", name, tuple(run_ids), _scope_key(user))
    if reviews:
        parts += (FindingDecision.objects.aggregate(last=Max("pk"))["last"],)
    key = "oversight.charts:" + hashlib.sha256(repr(parts).encode()).hexdigest()
    return cache.get_or_set(key, compute, CACHE_SECONDS)


def _run_note(run: ReconciliationRun | None) -> str:
    return f"{run.as_of:%Y-%m-%d} 比对" if run else ""


def findings_by_code(user, run: ReconciliationRun | None) -> Chart:
    """Open findings of the run per code, stacked by the review (待研判 / 已确认 / 已排除).
    SQL: ``SELECT code, review, COUNT(*) … WHERE run_id = ? AND state <> 'resolved'
    GROUP BY code, review`` (index ``finding_run_code``)."""
    chart = Chart(
        key="findings-code",
        title="问题线索按类型",
        kind="bar",
        axis="问题类型",
        stacked=True,
        note=_run_note(run),
    )
    if run is None:
        chart.empty = "还没有完成的比对"
        return chart
    chart.empty = f"{run.as_of:%Y-%m-%d} 的比对中没有未消除的问题线索"

    def compute() -> dict[str, Counter]:
        counts: dict[str, Counter] = {}
        rows = _open_findings(user, [run.pk]).values("code", "review").annotate(n=Count("pk"))
        for row in rows.order_by():
            counts.setdefault(row["code"], Counter())[row["review"]] += row["n"]
        return counts

    counts = _memo(user, "by_code", [run.pk], compute, reviews=True)
    order = {code: i for i, code in enumerate(FindingCode.values)}
    codes = sorted(counts, key=lambda c: (-sum(counts[c].values()), order.get(c, 99)))
    chart.labels = [_code_label(code) for code in codes]
    chart.series = [
        Series(label, [counts[c][value] for c in codes], REVIEW_COLOURS[value])
        for value, label in Review.choices
    ]
    return chart


def _code_label(code: str) -> str:
    return FindingCode(code).label if code in FindingCode.values else code


def findings_by_quarter(user, quarters: int = QUARTERS) -> Chart:
    """Open findings per quarter, from the latest finished run of each quarter (the last
    ``quarters`` quarters that have one). The administration reads the runs' own counts
    (written by the cross-match in the transaction that wrote the findings, the same
    ``state <> 'resolved'`` count); everyone else counts their scoped findings, one
    ``GROUP BY run_id``."""
    chart = Chart(
        key="findings-quarter",
        title="各季度未消除的问题线索",
        kind="bar",
        axis="季度",
        note="每季度取最后一次完成的比对",
    )
    latest = list(
        ReconciliationRun.objects.filter(status=RunStatus.DONE)
        .values("year", "quarter")
        .annotate(last=Max("pk"))
        .order_by("-year", "-quarter")[:quarters]
    )
    if not latest:
        chart.empty = "还没有完成的比对"
        return chart
    latest.reverse()
    ids = [row["last"] for row in latest]
    if user.organisation.kind == OrgKind.REGULATOR:
        runs = ReconciliationRun.objects.filter(pk__in=ids).only("pk", "counts")
        counts = {run.pk: run.total for run in runs}
    else:

        def compute() -> dict[int, int]:
            rows = _open_findings(user, ids).values("run_id").annotate(n=Count("pk"))
            return {row["run_id"]: row["n"] for row in rows.order_by()}

        counts = _memo(user, "by_quarter", ids, compute)
    chart.labels = [f"{row['year']}年第{row['quarter']}季度" for row in latest]
    chart.series = [Series("未消除的问题线索", [counts.get(i, 0) for i in ids], BLUE)]
    chart.empty = "各季度的比对都没有未消除的问题线索"
    return chart


def top_institutions(user, run: ReconciliationRun | None, limit: int = TOP) -> Chart:
    """The institutions with the most open findings in the run. A finding about two
    institutions (多机构登记) counts for each. Two ``GROUP BY`` (institution, other
    institution), merged over the institutions, not the findings."""
    return _top(
        user,
        run,
        limit,
        key="top-institutions",
        noun="机构",
        columns=("institution_id", "other_institution_id"),
        colour=ORANGE,
        restrict=_institutions_in_view,
    )


def top_carriers(user, run: ReconciliationRun | None, limit: int = TOP) -> Chart:
    """The carriers with the most open findings in the run (one ``GROUP BY carrier_id``)."""
    return _top(
        user, run, limit, key="top-carriers", noun="运营商", columns=("carrier_id",), colour=BLUE
    )


def _top(user, run, limit: int, *, key, noun, columns, colour, restrict=None) -> Chart:
    """The ``limit`` organisations named most often in ``columns`` of the run's open
    findings (one ``GROUP BY`` per column, added up), ``restrict(user)`` the ids the user
    may see (None: all)."""
    chart = Chart(
        key=key,
        title=f"问题线索最多的 {limit} 家{noun}",
        kind="bar",
        axis=noun,
        horizontal=True,
        note=_run_note(run),
    )
    if run is None:
        chart.empty = "还没有完成的比对"
        return chart
    chart.empty = f"{run.as_of:%Y-%m-%d} 的比对中没有涉及{noun}的未消除问题线索"

    def compute() -> Counter:
        allowed = restrict(user) if restrict else None
        counter: Counter = Counter()
        for name in columns:
            qs = _open_findings(user, [run.pk]).exclude(**{f"{name}__isnull": True})
            if allowed is not None:
                qs = qs.filter(**{f"{name}__in": allowed})
            for row in qs.values(name).annotate(n=Count("pk")).order_by():
                counter[row[name]] += row["n"]
        return counter

    _name_top(chart, _memo(user, key.replace("-", "_"), [run.pk], compute), limit, colour)
    return chart


def _name_top(chart: Chart, counter: Counter, limit: int, colour: str) -> None:
    """The ``limit`` largest, named (names are read now: a renamed organisation shows its
    new name)."""
    top = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]
    names = dict(
        Organisation.objects.filter(pk__in=[pk for pk, _ in top]).values_list("pk", "name")
    )
    chart.labels = [names.get(pk, f"单位 {pk}") for pk, _ in top]
    chart.series = [Series("未消除的问题线索", [n for _, n in top], colour)]


# --- disposal ---------------------------------------------------------------------------

TIMELINESS = (
    ("on_time", "按期办结", GREEN),
    ("late", "逾期办结", ORANGE),
    ("pending", "办理中（未逾期）", BLUE),
    ("overdue", "已逾期未处置", VERMILLION),
)


def disposal_timeliness(user, now: dt.datetime | None = None) -> Chart:
    """The reader's disposal cases by timeliness: closed with the carrier's report by the
    deadline, closed with it after the deadline, open within the deadline (or reported and
    awaiting verification), overdue (awaiting the carrier past the deadline, as
    ``DisposalCase.objects.overdue``). Cases reversed on an appeal are not a carrier's
    timeliness and are left out. One query (conditional counts)."""
    now = now or timezone.now()
    chart = Chart(
        key="timeliness",
        title="处置时效",
        kind="doughnut",
        axis="办理情况",
        unit="件",
        empty="还没有处置案件",
        note="不含申诉成立撤销的案件",
    )
    awaiting = Q(status__in=AWAITING_CARRIER)
    closed = Q(status=CaseStatus.CLOSED)
    figures = DisposalCase.objects.visible_to(user).aggregate(
        closed=Count("pk", filter=closed),
        on_time=Count("pk", filter=closed & Q(reported_at__lte=F("deadline"))),
        pending=Count(
            "pk", filter=Q(status=CaseStatus.REPORTED) | (awaiting & Q(deadline__gte=now))
        ),
        overdue=Count("pk", filter=awaiting & Q(deadline__lt=now)),
    )
    figures["late"] = figures["closed"] - figures["on_time"]
    chart.labels = [label for _, label, _ in TIMELINESS]
    chart.series = [
        Series(
            "案件数",
            [figures[key] for key, _, _ in TIMELINESS],
            [colour for _, _, colour in TIMELINESS],
        )
    ]
    return chart


def cases_by_status(user) -> Chart:
    """The reader's disposal cases per status (one ``GROUP BY status``)."""
    chart = Chart(
        key="case-status",
        title="处置案件按状态",
        kind="bar",
        axis="状态",
        unit="件",
        empty="还没有处置案件",
        horizontal=True,
    )
    rows = DisposalCase.objects.visible_to(user).values("status").annotate(n=Count("pk"))
    counts = {row["status"]: row["n"] for row in rows.order_by()}
    chart.labels = [label for _, label in CaseStatus.choices]
    chart.series = [
        Series(
            "案件数",
            [counts.get(value, 0) for value, _ in CaseStatus.choices],
            [STATUS_COLOURS[value] for value, _ in CaseStatus.choices],
        )
    ]
    return chart


def overdue_cases(user, now: dt.datetime | None = None, limit: int = LIST_LIMIT):
    """(the first ``limit`` overdue cases, oldest deadline first; how many there are)."""
    qs = DisposalCase.objects.visible_to(user).overdue(now or timezone.now())
    return _labelled(qs, limit), qs.count()


def open_cases(user, limit: int = 50):
    """(the reader's open cases, nearest deadline first; how many there are)."""
    qs = DisposalCase.objects.visible_to(user).open()
    return _labelled(qs, limit), qs.count()


def _labelled(qs: QuerySet, limit: int) -> list[DisposalCase]:
    rows = list(qs.select_related("carrier", "institution").order_by("deadline", "pk")[:limit])
    for case in rows:
        case.code_label = _code_label(case.code)
    return rows


def case_counts(user, now: dt.datetime | None = None) -> dict:
    """How many of the reader's cases are open, overdue, closed, reversed (one query)."""
    return DisposalCase.objects.visible_to(user).aggregate(
        open=Count("pk", filter=Q(status__in=OPEN_CASE_STATUSES)),
        overdue=Count(
            "pk",
            filter=Q(status__in=AWAITING_CARRIER, deadline__lt=now or timezone.now()),
        ),
        closed=Count("pk", filter=Q(status=CaseStatus.CLOSED)),
        reversed=Count("pk", filter=Q(status=CaseStatus.REVERSED)),
    )


def recent_closed_cases(user, limit: int = 5) -> list[DisposalCase]:
    qs = DisposalCase.objects.visible_to(user).filter(
        status__in=(CaseStatus.CLOSED, CaseStatus.REVERSED)
    )
    return list(qs.select_related("carrier").order_by("-verified_at", "-pk")[:limit])


# --- complaints and the exchange --------------------------------------------------------


def _month_start(day: dt.date, back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def complaints_per_month(user, today: dt.date | None = None, months: int = MONTHS) -> Chart:
    """Complaints received per calendar month (Asia/Shanghai) over the last ``months``
    months, this one included, stacked by category. One ``GROUP BY`` month, category."""
    tz = timezone.get_default_timezone()
    today = today or timezone.localdate()
    first = _month_start(today, months - 1)
    after = _month_start(today, -1)
    chart = Chart(
        key="complaints-month",
        title=f"近 {months} 个月投诉量",
        kind="bar",
        axis="月份",
        unit="件",
        stacked=True,
        empty=f"近 {months} 个月没有收到投诉",
        note="按投诉时间（北京时间）",
    )
    rows = (
        Complaint.objects.visible_to(user)
        .filter(
            received_at__gte=dt.datetime.combine(first, dt.time(), tzinfo=tz),
            received_at__lt=dt.datetime.combine(after, dt.time(), tzinfo=tz),
        )
        .annotate(month=TruncMonth("received_at", tzinfo=tz))
        .values("month", "category")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: Counter = Counter()
    for row in rows:
        month = row["month"]
        if isinstance(month, dt.datetime) and timezone.is_aware(month):
            month = timezone.localtime(month, tz)
        counts[(month.year, month.month, row["category"])] += row["n"]
    keys = [_month_start(today, back) for back in range(months - 1, -1, -1)]
    chart.labels = [f"{m.year}年{m.month}月" for m in keys]
    chart.series = [
        Series(
            label,
            [counts[(m.year, m.month, value)] for m in keys],
            CATEGORY_COLOURS[value],
        )
        for value, label in ComplaintCategory.choices
    ]
    return chart


def exchange_packages(user, limit: int = 8) -> list[ExchangePackage]:
    """The reader's exchange packages, newest quarter first (a financial regulator its own)."""
    return list(
        ExchangePackage.objects.visible_to(user)
        .select_related("recipient")
        .order_by("-year", "-quarter", "-pk")[:limit]
    )


def overview(user, now: dt.datetime | None = None) -> list[Chart]:
    """The overseers' charts (the administration; a financial regulator within its scope)."""
    run = latest_run()
    return [
        findings_by_code(user, run),
        findings_by_quarter(user),
        top_institutions(user, run),
        top_carriers(user, run),
        disposal_timeliness(user, now),
        complaints_per_month(user, timezone.localdate(now) if now else None),
    ]
