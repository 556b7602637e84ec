"""The quarterly exchange with the financial regulators (issue 14 §4; 000 §三(二): each
quarter the two sides exchange the list of communication resources in use, the suspected
violations, the complaints and the disposal results).

One package is one quarter for one financial regulator (金融管理部门), limited to the
institutions it supervises (``Organisation.supervised``); the whole-province variant (every
institution) is written by the command line only. Its contents:

- 说明: the quarter, the recipient, when it was generated (Asia/Shanghai), the counts;
- 机构汇总: per institution, its resources in use by kind and purpose, and how many
  findings, cases, complaints and appeals concern it;
- 在用通信资源: the register lines in use on the quarter's last day (or today, while the
  quarter runs): in force at the end of that day (created by then, neither superseded nor
  ended) and inside their cooperation period, as the cross-match reads them
  (``reconcile._build_register``);
- 问题线索: the open findings of the quarter's latest finished cross-match, with their review;
- 处置情况: the disposal cases of the quarter (ordered in it, or ordered before and still
  open or verified in it), with their timeliness;
- 投诉统计: complaints received in the quarter, counted by institution and category, those
  that count as evidence apart from those in a group marked abnormal. Counts only: never a
  complainant's contact or a complaint's text (000 §二(一)5);
- 申诉情况: appeals lodged in the quarter and their outcomes (002).

The workbook is streamed row by row from iterators (a province holds a million numbers)
by the portal's own xlsx writer (``portal.spreadsheets.xlsx.write_sheets``; openpyxl's
write-only mode took minutes for that). Every sheet is declared once (``SHEETS``): the same
declaration writes the workbook and reads it back (``read_package``), so the API's JSON is
the stored package itself, not a second query that may have moved on since.

The verbs at the end (generate, download, mark sent) are atomic, check who may, and write
their audit events."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone

from portal import audit, workdays
from portal.errors import Conflict, NotPermitted, PortalError
from portal.models import LicenceCategory, Organisation, OrgKind, Role
from portal.spreadsheets.xlsx import FORMULA_TRIGGERS, Sheet, WrittenWorkbook, write_sheets
from registry.models import Purpose, RegisteredNumber, UserType
from registry.numbers import KIND_LABELS, NumberKind

from .cases import (
    AWAITING_CARRIER,
    OPEN_CASE_STATUSES,
    Appeal,
    CaseStatus,
    DisposalCase,
    ExchangePackage,
    in_scope,
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
from .reconcile import Window

EARLIEST_YEAR = 2000  # no exchange predates the portal by decades: an earlier year is a typo
NOTE_MAX = 300
PROVINCE = "全省（全部金融机构）"
NO_INSTITUTION = "（未关联机构）"

# --- the declaration: (key, header, kind) per column; kind "text" or "int" ----------------

Column = tuple[str, str, str]

META: list[Column] = [
    ("quarter", "季度", "text"),
    ("period", "统计期间", "text"),
    ("as_of", "在用资源统计日", "text"),
    ("recipient", "接收单位", "text"),
    ("recipient_credit_code", "接收单位统一社会信用代码", "text"),
    ("scope", "机构范围", "text"),
    ("provider", "提供单位", "text"),
    ("generated_at", "生成时间（北京时间）", "text"),
    ("run", "问题线索所依据的比对", "text"),
    ("institutions", "机构数", "int"),
    ("resources", "在用通信资源（条）", "int"),
    ("findings", "问题线索（条）", "int"),
    ("cases", "处置案件（件）", "int"),
    ("complaints", "投诉（件）", "int"),
    ("appeals", "申诉（件）", "int"),
]
COUNT_KEYS = ("institutions", "resources", "findings", "cases", "complaints", "appeals")

INSTITUTION_COLUMNS: list[Column] = [
    ("institution", "机构名称", "text"),
    ("credit_code", "统一社会信用代码", "text"),
    ("licence", "许可类别", "text"),
    ("resources", "在用通信资源", "int"),
    ("mobile", KIND_LABELS[NumberKind.MOBILE], "int"),
    ("landline", KIND_LABELS[NumberKind.LANDLINE], "int"),
    ("short", KIND_LABELS[NumberKind.SHORT], "int"),
    ("tollfree", "400/800号码", "int"),
    ("sms_port", KIND_LABELS[NumberKind.SMS_PORT], "int"),
    ("sub_port", "其中子端口", "int"),
    ("marketing", "用途：营销", "int"),
    ("collection", "用途：催收", "int"),
    ("both", "用途：营销及催收", "int"),
    ("partner", "委托合作单位使用", "int"),
    ("findings", "问题线索", "int"),
    ("cases", "处置案件", "int"),
    ("complaints", "投诉", "int"),
    ("appeals", "申诉", "int"),
]
RESOURCE_COLUMNS: list[Column] = [
    ("institution", "机构名称", "text"),
    ("credit_code", "统一社会信用代码", "text"),
    ("number", "号码", "text"),
    ("kind", "号码类型", "text"),
    ("main_port", "所属主端口", "text"),
    ("purpose", "用途", "text"),
    ("user_type", "使用单位类型", "text"),
    ("user_name", "使用单位", "text"),
    ("user_credit_code", "使用单位统一社会信用代码", "text"),
    ("carrier", "电信运营商", "text"),
    ("valid_from", "合作起始日期", "text"),
    ("valid_to", "合作截止日期", "text"),
]
FINDING_COLUMNS: list[Column] = [
    ("institution", "机构名称", "text"),
    ("credit_code", "统一社会信用代码", "text"),
    ("other_institution", "另一机构", "text"),
    ("number", "号码", "text"),
    ("code", "问题类型代码", "text"),
    ("code_label", "问题类型", "text"),
    ("state", "比对状态", "text"),
    ("review", "研判结论", "text"),
    ("review_reason", "研判理由", "text"),
    ("carrier", "运营商", "text"),
    ("object_name", "服务对象", "text"),
    ("object_credit_code", "服务对象统一社会信用代码", "text"),
    ("complaints", "投诉数", "int"),
]
CASE_COLUMNS: list[Column] = [
    ("case_number", "案件编号", "text"),
    ("institution", "机构名称", "text"),
    ("credit_code", "统一社会信用代码", "text"),
    ("number", "号码", "text"),
    ("code", "问题类型代码", "text"),
    ("code_label", "问题类型", "text"),
    ("carrier", "运营商", "text"),
    ("action", "处置要求", "text"),
    ("status", "状态", "text"),
    ("ordered_on", "下达日期", "text"),
    ("deadline", "处置期限", "text"),
    ("action_taken", "已采取措施", "text"),
    ("action_date", "处置日期", "text"),
    ("reported_on", "反馈日期", "text"),
    ("verified_on", "核验办结日期", "text"),
    ("timeliness", "时效", "text"),
]
COMPLAINT_COLUMNS: list[Column] = [
    ("institution", "机构名称", "text"),
    ("credit_code", "统一社会信用代码", "text"),
    ("category", "投诉类别", "text"),
    ("total", "投诉数", "int"),
    ("countable", "计入比对", "int"),
    ("excluded", "异常投诉（不计入比对）", "int"),
]
APPEAL_COLUMNS: list[Column] = [
    ("lodged_on", "申诉日期", "text"),
    ("number", "号码", "text"),
    ("institution", "涉及机构", "text"),
    ("credit_code", "统一社会信用代码", "text"),
    ("appellant", "申诉单位", "text"),
    ("case_number", "案件编号", "text"),
    ("code", "问题类型代码", "text"),
    ("code_label", "问题类型", "text"),
    ("status", "处理结果", "text"),
    ("decided_on", "处理日期", "text"),
    ("decision_reason", "处理意见", "text"),
    ("restored_on", "号码恢复日期", "text"),
]

META_SHEET = "说明"
# (data key, sheet title, columns), in the workbook's order after 说明.
SHEETS: list[tuple[str, str, list[Column]]] = [
    ("institutions", "机构汇总", INSTITUTION_COLUMNS),
    ("resources", "在用通信资源", RESOURCE_COLUMNS),
    ("findings", "问题线索", FINDING_COLUMNS),
    ("cases", "处置情况", CASE_COLUMNS),
    ("complaints", "投诉统计", COMPLAINT_COLUMNS),
    ("appeals", "申诉情况", APPEAL_COLUMNS),
]
NOTES = [
    "本数据包由通信管理局按季度提供给金融管理部门（000 §三(二) 联络报送机制）。",
    "在用通信资源：统计日当天有效的机构号码登记（含委托合作单位使用的号码、短信端口及子端口）。",
    "问题线索：本季度最近一次完成的比对发现的未消除问题，是否违规以研判结论为准。",
    "处置情况：本季度下达的处置案件，以及此前下达、本季度仍在办理或办结的案件。",
    "投诉统计：只含件数，不含投诉人联系方式和投诉内容；异常投诉（如组织化代理维权）单列，不计入比对。",
    "申诉情况：本季度提出的申诉及处理结果（002 申诉救济）。",
]


class Timeliness:
    ON_TIME = "按期"
    OVERDUE = "逾期"
    PENDING = "期限内"
    REVERSED = "已撤销"


def case_timeliness(case: DisposalCase, now: dt.datetime) -> str:
    """按期 when the carrier reported by the deadline; 逾期 when it was ever flagged
    overdue, reported late, or still owes the action past the deadline; 期限内 while it
    still has time; 已撤销 for a case reversed (appeal upheld, dispute accepted)."""
    if case.status == CaseStatus.REVERSED:
        return Timeliness.REVERSED
    late = (
        case.overdue_since is not None
        or (case.reported_at is not None and case.reported_at > case.deadline)
        or (case.status in AWAITING_CARRIER and case.deadline < now)
    )
    if late:
        return Timeliness.OVERDUE
    if case.reported_at is not None:
        return Timeliness.ON_TIME
    return Timeliness.PENDING


def _day(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = workdays.local_date(value)
    return value.isoformat()


def parse_quarter(text: str) -> tuple[int, int]:
    """'2026Q4' -> (2026, 4), or a PortalError with the Chinese message (field quarter)."""
    try:
        return workdays.parse_quarter(text)
    except ValueError as exc:
        raise PortalError(str(exc), code="quarter", field="quarter") from exc


def quarter_as_of(year: int, quarter: int, today: dt.date | None = None) -> dt.date:
    """The day the package's resources are counted on: the quarter's last day, or today
    while the quarter runs. A quarter that has not begun has nothing to exchange."""
    if year < EARLIEST_YEAR or quarter not in (1, 2, 3, 4):
        raise PortalError(f"季度 {year}Q{quarter} 超出范围", code="quarter", field="quarter")
    today = today or timezone.localdate()
    first = dt.date(year, 3 * quarter - 2, 1)
    if first > today:
        raise PortalError(
            f"{year}Q{quarter} 尚未开始，不能生成该季度的数据包", code="quarter", field="quarter"
        )
    return min(workdays.quarter_last_day(year, quarter), today)


# --- the contents -----------------------------------------------------------------------


@dataclass
class Contents:
    """One quarter's exchange for ``recipient`` (a financial regulator: the institutions it
    supervises) or, with no recipient, for the whole province (every institution)."""

    year: int
    quarter: int
    recipient: Organisation | None
    now: dt.datetime

    def __post_init__(self) -> None:
        self.as_of = quarter_as_of(self.year, self.quarter, workdays.local_date(self.now))
        self.window = Window.of(self.as_of)
        self.run = (
            ReconciliationRun.objects.filter(
                year=self.year, quarter=self.quarter, status=RunStatus.DONE
            )
            .order_by("-pk")
            .first()
        )
        self._cases: list[dict] | None = None
        self._complaints: list[dict] | None = None
        self._appeals: list[dict] | None = None

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.quarter}"

    # Scope: the recipient's supervised institutions, or all of them.
    def institutions(self):
        if self.recipient is None:
            return Organisation.objects.filter(kind=OrgKind.INSTITUTION)
        return self.recipient.supervised()

    def _scoped(self, queryset, *fields: str):
        if self.recipient is None:
            return queryset
        return queryset.filter(in_scope(self.recipient, *fields))

    # -- 在用通信资源
    def _resources(self):
        end = self.window.day_end
        rows = RegisteredNumber.objects.filter(
            created_at__lte=end, valid_from__lte=self.as_of
        ).filter(
            Q(closed_at__isnull=True) | Q(closed_at__gt=end),
            Q(valid_to__isnull=True) | Q(valid_to__gte=self.as_of),
        )
        if self.recipient is not None:
            rows = rows.filter(institution_id__in=self.institutions().values("pk"))
        return rows

    def resources(self) -> Iterator[dict]:
        kinds = dict(KIND_LABELS)
        purposes = dict(Purpose.choices)
        user_types = dict(UserType.choices)
        rows = (
            self._resources()
            .order_by("institution__name", "institution_id", "number")
            .values_list(
                "institution__name",
                "institution__credit_code",
                "number",
                "kind",
                "is_sub_port",
                "main_port",
                "purpose",
                "user_type",
                "user_name",
                "user_credit_code",
                "carrier",
                "valid_from",
                "valid_to",
            )
        )
        for (
            name,
            code,
            number,
            kind,
            sub,
            main,
            purpose,
            user_type,
            user_name,
            user_code,
            carrier,
            start,
            end,
        ) in rows.iterator(chunk_size=5000):
            yield {
                "institution": name,
                "credit_code": code,
                "number": number,
                "kind": "子端口" if sub else kinds.get(kind, kind),
                "main_port": main,
                "purpose": purposes.get(purpose, purpose),
                "user_type": user_types.get(user_type, user_type),
                "user_name": user_name,
                "user_credit_code": user_code,
                "carrier": carrier,
                "valid_from": _day(start),
                "valid_to": _day(end),
            }

    def _resource_counts(self) -> dict[int, Counter]:
        counts: dict[int, Counter] = defaultdict(Counter)
        groups = (
            self._resources()
            .order_by()
            .values("institution_id", "kind", "is_sub_port", "purpose", "user_type")
            .annotate(n=Count("pk"))
        )
        for g in groups:
            c, n = counts[g["institution_id"]], g["n"]
            c["resources"] += n
            c[g["kind"]] += n
            if g["is_sub_port"]:
                c["sub_port"] += n
            c[g["purpose"]] += n
            if g["user_type"] == UserType.PARTNER:
                c["partner"] += n
        return counts

    # -- 问题线索
    def _findings(self):
        if self.run is None:
            return Finding.objects.none()
        findings = Finding.objects.filter(run=self.run).exclude(state=FindingState.RESOLVED)
        return self._scoped(findings, "institution_id", "other_institution_id")

    def findings(self) -> Iterator[dict]:
        rows = (
            self._findings()
            .select_related("institution", "other_institution", "carrier", "decision")
            .order_by(F("institution__name").asc(nulls_last=True), "code", "number", "pk")
        )
        for f in rows.iterator(chunk_size=2000):
            yield {
                "institution": f.institution.name if f.institution else "",
                "credit_code": f.institution.credit_code if f.institution else "",
                "other_institution": f.other_institution.name if f.other_institution else "",
                "number": f.number,
                "code": f.code,
                "code_label": f.get_code_display(),
                "state": f.get_state_display(),
                "review": f.get_review_display(),
                "review_reason": f.decision.reason if f.decision else "",
                "carrier": f.carrier.name if f.carrier else "",
                "object_name": f.object_name,
                "object_credit_code": f.object_credit_code,
                "complaints": f.complaint_count or 0,
            }

    def _finding_counts(self) -> Counter:
        counts: Counter = Counter()
        for field in ("institution_id", "other_institution_id"):
            named = self._findings().exclude(**{f"{field}__isnull": True}).order_by()
            for row in named.values(field).annotate(n=Count("pk")):
                counts[row[field]] += row["n"]
        return counts

    # -- 处置情况
    def cases(self) -> list[dict]:
        if self._cases is None:
            w = self.window
            cases = (
                DisposalCase.objects.filter(ordered_at__lt=w.quarter_end)
                .filter(
                    Q(ordered_at__gte=w.quarter_start)
                    | Q(status__in=OPEN_CASE_STATUSES)
                    | Q(verified_at__gte=w.quarter_start)
                )
                .select_related("institution", "carrier")
                .order_by(F("institution__name").asc(nulls_last=True), "ordered_at", "pk")
            )
            codes = dict(FindingCode.choices)
            self._cases = [
                {
                    "case_number": c.case_number or "",
                    "institution": c.institution.name if c.institution else "",
                    "credit_code": c.institution.credit_code if c.institution else "",
                    "number": c.number,
                    "code": c.code,
                    "code_label": codes.get(c.code, c.code),
                    "carrier": c.carrier.name,
                    "action": c.get_action_display(),
                    "status": c.get_status_display(),
                    "ordered_on": _day(c.ordered_at),
                    "deadline": _day(c.deadline),
                    "action_taken": c.get_action_taken_display() if c.action_taken else "",
                    "action_date": _day(c.action_date),
                    "reported_on": _day(c.reported_at),
                    "verified_on": _day(c.verified_at),
                    "timeliness": case_timeliness(c, self.now),
                    "_institution": c.institution_id,
                }
                for c in self._scoped(cases, "institution_id")
            ]
        return self._cases

    # -- 投诉统计
    def complaints(self) -> list[dict]:
        if self._complaints is None:
            w = self.window
            complaints = Complaint.objects.filter(
                received_at__gte=w.quarter_start, received_at__lt=w.quarter_end
            )
            if self.recipient is not None:
                complaints = complaints.filter(institution__in=self.institutions())
            groups = (
                complaints.order_by()
                .values(
                    "institution_id", "institution__name", "institution__credit_code", "category"
                )
                .annotate(total=Count("pk"), excluded=Count("pk", filter=~Q(excluded_reason="")))
            )
            order = {value: i for i, value in enumerate(ComplaintCategory.values)}
            labels = dict(ComplaintCategory.choices)
            rows = [
                {
                    "institution": g["institution__name"] or NO_INSTITUTION,
                    "credit_code": g["institution__credit_code"] or "",
                    "category": labels.get(g["category"], g["category"]),
                    "total": g["total"],
                    "countable": g["total"] - g["excluded"],
                    "excluded": g["excluded"],
                    "_institution": g["institution_id"],
                    "_order": (
                        g["institution_id"] is None,
                        g["institution__name"] or "",
                        g["institution_id"] or 0,
                        order.get(g["category"], 99),
                    ),
                }
                for g in groups
            ]
            rows.sort(key=lambda r: r["_order"])
            self._complaints = rows
        return self._complaints

    # -- 申诉情况
    def appeals(self) -> list[dict]:
        if self._appeals is None:
            w = self.window
            appeals = (
                Appeal.objects.filter(lodged_at__gte=w.quarter_start, lodged_at__lt=w.quarter_end)
                .select_related("institution", "appellant", "case", "finding")
                .order_by("lodged_at", "pk")
            )
            self._appeals = [
                {
                    "lodged_on": _day(a.lodged_at),
                    "number": a.number,
                    "institution": a.institution.name if a.institution else "",
                    "credit_code": a.institution.credit_code if a.institution else "",
                    "appellant": a.appellant.name,
                    "case_number": (a.case.case_number or "") if a.case else "",
                    "code": a.finding.code,
                    "code_label": a.finding.get_code_display(),
                    "status": a.get_status_display(),
                    "decided_on": _day(a.decided_at),
                    "decision_reason": a.decision_reason,
                    "restored_on": _day(a.case.restored_on) if a.case else "",
                    "_institution": a.institution_id,
                }
                for a in self._scoped(appeals, "institution_id")
            ]
        return self._appeals

    # -- 机构汇总
    def institution_rows(self) -> list[dict]:
        resources = self._resource_counts()
        findings = self._finding_counts()
        cases = Counter(c["_institution"] for c in self.cases())
        appeals = Counter(a["_institution"] for a in self.appeals())
        complaints: Counter = Counter()
        for row in self.complaints():
            complaints[row["_institution"]] += row["total"]
        licences = dict(LicenceCategory.choices)
        rows = []
        for org in (
            self.institutions()
            .order_by("name", "pk")
            .only("pk", "name", "credit_code", "licence_category")
        ):
            c = resources.get(org.pk, Counter())
            rows.append(
                {
                    "institution": org.name,
                    "credit_code": org.credit_code,
                    "licence": licences.get(org.licence_category, org.licence_category),
                    "resources": c["resources"],
                    "mobile": c[NumberKind.MOBILE.value],
                    "landline": c[NumberKind.LANDLINE.value],
                    "short": c[NumberKind.SHORT.value],
                    "tollfree": c[NumberKind.TOLLFREE.value],
                    "sms_port": c[NumberKind.SMS_PORT.value],
                    "sub_port": c["sub_port"],
                    "marketing": c[Purpose.MARKETING.value],
                    "collection": c[Purpose.COLLECTION.value],
                    "both": c[Purpose.BOTH.value],
                    "partner": c["partner"],
                    "findings": findings[org.pk],
                    "cases": cases[org.pk],
                    "complaints": complaints[org.pk],
                    "appeals": appeals[org.pk],
                }
            )
        return rows

    # -- 说明
    def counts(self) -> dict[str, int]:
        """The package's counts by queries (the same figures the workbook's rows add up to)."""
        return {
            "institutions": self.institutions().count(),
            "resources": self._resources().count(),
            "findings": self._findings().count(),
            "cases": len(self.cases()),
            "complaints": sum(r["total"] for r in self.complaints()),
            "appeals": len(self.appeals()),
        }

    def meta(self, counts: dict[str, int]) -> dict:
        w = self.window
        recipient = self.recipient
        if recipient is None:
            scope = "全省全部金融机构"
        else:
            named = recipient.supervised_institutions.count()
            parts = []
            if recipient.supervised_categories:
                parts.append(f"许可类别：{recipient.supervised_categories_display}")
            if named:
                parts.append(f"逐一指定的机构 {named} 家")
            scope = (
                "监管范围内的金融机构（" + "；".join(parts) + "）" if parts else "尚未设置监管范围"
            )
        provider = (
            Organisation.objects.filter(kind=OrgKind.REGULATOR, is_active=True)
            .order_by("pk")
            .values_list("name", flat=True)
            .first()
        )
        run = (
            f"{self.run.as_of.isoformat()} 的比对（编号 {self.run.pk}）"
            if self.run
            else "本季度尚无已完成的比对"
        )
        last = (w.quarter_end - dt.timedelta(days=1)).date()
        return {
            "quarter": self.label,
            "period": f"{w.quarter_start.date().isoformat()} 至 {last.isoformat()}",
            "as_of": self.as_of.isoformat(),
            "recipient": recipient.name if recipient else PROVINCE,
            "recipient_credit_code": recipient.credit_code if recipient else "",
            "scope": scope,
            "provider": provider or "",
            "generated_at": f"{timezone.localtime(self.now, workdays.SHANGHAI):%Y-%m-%d %H:%M:%S}",
            "run": run,
            **{key: counts[key] for key in COUNT_KEYS},
        }

    # -- the whole package
    def rows(self, key: str) -> Iterable[dict]:
        """One sheet's rows (``SHEETS``' keys), as an iterable read once."""
        return {
            "institutions": self.institution_rows,
            "resources": self.resources,
            "findings": self.findings,
            "cases": self.cases,
            "complaints": self.complaints,
            "appeals": self.appeals,
        }[key]()

    def data(self) -> dict:
        """The package as a JSON-able dict: ``meta`` and one list per sheet (the values as
        the workbook shows them: Chinese labels, ISO dates, counts as integers)."""
        sections = {key: [_public(row) for row in self.rows(key)] for key, _, _ in SHEETS}
        return {"meta": self.meta(self.counts()), **sections}

    def write_xlsx(self, stream: IO[bytes]) -> dict[str, int]:
        """Write the workbook to ``stream``, row by row (``portal.spreadsheets.xlsx``'s
        streaming writer: a province's million numbers in well under a minute, where
        openpyxl takes several); 说明 is the first tab but written last, with the counts of
        the rows written. Returns those counts."""
        written: dict[str, int] = {}

        def counted(key: str, columns: list[Column]):
            def rows():
                n = 0
                for row in self.rows(key):
                    n += 1
                    yield _cells(row, columns)
                written[key] = n

            return rows

        def meta_rows():
            counts = self._written_counts(written)
            meta = self.meta(counts)
            for key, label, _ in META:
                yield [label, meta[key]]
            yield []
            for note in NOTES:
                yield ["", note]

        sheets = [Sheet(META_SHEET, ["项目", "内容"], meta_rows, widths=[26, 90])] + [
            Sheet(title, [header for _, header, _ in columns], counted(key, columns))
            for key, title, columns in SHEETS
        ]
        write_sheets(stream, sheets, order=[*range(1, len(sheets)), 0])
        return self._written_counts(written)

    def _written_counts(self, written: dict[str, int]) -> dict[str, int]:
        return {key: written[key] for key in COUNT_KEYS if key != "complaints"} | {
            "complaints": sum(r["total"] for r in self.complaints())
        }


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _cells(row: dict, columns: list[Column]) -> list:
    # Text as text (the writer neutralises formulas), counts as numbers.
    return [int(row[key]) if kind == "int" else str(row[key]) for key, _, kind in columns]


def _unquote(value) -> str:
    """A cell as written, without the quote ``safe_cell`` put before a formula trigger."""
    text = "" if value is None else str(value)
    if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def _as_int(value) -> int:
    try:
        return int(float(value or 0))
    except (TypeError, ValueError):
        return 0


class StoredPackage:
    """A stored package's workbook read back sheet by sheet, a row at a time (a province's
    million rows never sit in memory at once), by the same declaration that wrote it."""

    def __init__(self, handle: IO[bytes]):
        self.workbook = WrittenWorkbook(handle)

    def rows(self, sheet: str) -> Iterator[list]:
        return self.workbook.rows(sheet)

    def meta(self) -> dict:
        labels = {label: (key, kind) for key, label, kind in META}
        meta = {key: (0 if kind == "int" else "") for key, _, kind in META}
        for row in self.rows(META_SHEET):
            if len(row) >= 2 and isinstance(row[0], str) and row[0] in labels:
                key, kind = labels[row[0]]
                meta[key] = _as_int(row[1]) if kind == "int" else _unquote(row[1])
        return meta

    def section(self, key: str) -> Iterator[dict]:
        title, columns = next((t, c) for k, t, c in SHEETS if k == key)
        rows = self.rows(title)
        header = [str(h) for h in next(rows, [])]
        where = {h: i for i, h in enumerate(header)}
        for row in rows:
            if not any(v not in ("", None) for v in row):
                continue
            item = {}
            for name, heading, kind in columns:
                i = where.get(heading)
                value = row[i] if i is not None and i < len(row) else ""
                item[name] = _as_int(value) if kind == "int" else _unquote(value)
            yield item

    def json_chunks(self) -> Iterator[bytes]:
        """The package as one JSON document (``Contents.data()``'s shape), in chunks."""
        yield b'{"meta":' + json.dumps(self.meta(), ensure_ascii=False).encode()
        for key, _, _ in SHEETS:
            yield f',"{key}":['.encode()
            batch: list[str] = []
            first = True
            for item in self.section(key):
                batch.append(json.dumps(item, ensure_ascii=False))
                if len(batch) >= 1000:
                    yield (("" if first else ",") + ",".join(batch)).encode()
                    batch, first = [], False
            if batch:
                yield (("" if first else ",") + ",".join(batch)).encode()
            yield b"]"
        yield b"}"


def read_package(handle: IO[bytes]) -> dict:
    """A stored package read back into ``Contents.data()``'s shape, by the same
    declaration that wrote it."""
    stored = StoredPackage(handle)
    return {"meta": stored.meta(), **{key: list(stored.section(key)) for key, _, _ in SHEETS}}


# --- the verbs ----------------------------------------------------------------------------


def can_generate(actor) -> bool:
    return audit.is_system(actor) or (
        getattr(actor, "is_regulator", False) and actor.role in (Role.ADMIN, Role.OPERATOR)
    )


def _require_writer(actor, what: str) -> None:
    if not can_generate(actor):
        raise NotPermitted(f"只有通信管理局的管理员或经办人可以{what}")


def package_filename(package: ExchangePackage) -> str:
    return f"信息交换数据包-{package.quarter_label}-{package.recipient.name}.xlsx"


def _summary(package: ExchangePackage) -> dict:
    return {
        "quarter": package.quarter_label,
        "recipient": package.recipient_id,
        "recipient_name": package.recipient.name,
    }


def exchange_package_generate(
    *, actor, year: int, quarter: int, recipient: Organisation
) -> ExchangePackage:
    """Generate (or refresh) one quarter's package for one financial regulator (000 §三(二);
    issue 14 §4) and tell it through the notice centre. The workbook is written before the
    transaction (a long read holds no lock); the row, its audit event and the notice commit
    together. A refreshed package is a new file: whether it was sent, and how often it was
    downloaded, start again (the audit event keeps what was)."""
    _require_writer(actor, "生成信息交换数据包")
    if recipient.kind != OrgKind.FINANCIAL_REGULATOR:
        raise PortalError("数据包只能发给金融管理部门", code="recipient", field="recipient")
    if not recipient.is_active:
        raise PortalError(f"{recipient.name} 已停用", code="recipient", field="recipient")
    now = timezone.now()
    contents = Contents(year=year, quarter=quarter, recipient=recipient, now=now)
    with tempfile.TemporaryFile() as spool:
        counts = contents.write_xlsx(spool)
        spool.seek(0)
        try:
            with transaction.atomic():
                package, created = ExchangePackage.objects.select_for_update().get_or_create(
                    year=year, quarter=quarter, recipient=recipient
                )
                before = {
                    "generated_at": None if created else package.generated_at,
                    "sent_on": package.sent_on,
                    "downloads": package.downloads,
                }
                old_file = package.file.name if package.file else ""
                package.file.save(package_filename(package), File(spool), save=False)
                package.counts = {
                    **counts,
                    "as_of": contents.as_of.isoformat(),
                    "run": contents.run.pk if contents.run else None,
                }
                package.generated_at = now
                package.generated_by = actor if getattr(actor, "pk", None) else None
                package.sent_on, package.sent_note, package.sent_by = None, "", None
                package.downloads = 0
                package.save()
                audit.record(
                    "exchange.generate",
                    actor=actor,
                    obj=package,
                    summary=_summary(package)
                    | {"created": created, "counts": counts, "as_of": contents.as_of}
                    | ({} if created else {"before": before}),
                )
                _notify_generated(actor, package, counts)
                if old_file and old_file != package.file.name:
                    storage = package.file.storage
                    transaction.on_commit(lambda: storage.delete(old_file))
        except IntegrityError as exc:  # two generations of one package at once
            raise Conflict("该数据包正在生成，请稍后刷新", code="conflict") from exc
    return package


def _notify_generated(actor, package: ExchangePackage, counts: dict) -> None:
    from portal.notices import notice_send

    notice_send(
        actor=actor,
        organisation=package.recipient,
        kind="exchange.generated",
        url=reverse("exchange_detail", args=[package.pk]),
        title=f"【信息交换】{package.quarter_label} 季度数据包已生成",
        body=(
            f"通信管理局已生成 {package.quarter_label} 的信息交换数据包：机构 "
            f"{counts['institutions']} 家，在用通信资源 {counts['resources']} 条，问题线索 "
            f"{counts['findings']} 条，处置案件 {counts['cases']} 件，投诉 "
            f"{counts['complaints']} 件，申诉 {counts['appeals']} 件。请在平台下载。"
        ),
    )


def exchange_package_download(*, actor, package: ExchangePackage, fmt: str = "xlsx"):
    """Record a download of the package (the workbook, or its data as JSON through the
    API): audited for everyone (issue 14 §4: the financial regulator's download is
    audited); ``downloads`` counts the recipient's own, the record that it got it."""
    if not ExchangePackage.objects.visible_to(actor).filter(pk=package.pk).exists():
        raise NotPermitted("无权下载该数据包")
    if not package.file or not package.file.storage.exists(package.file.name):
        raise PortalError("数据包文件不存在，请重新生成", code="not_found")
    by_recipient = getattr(actor, "organisation_id", None) == package.recipient_id
    with transaction.atomic():
        if by_recipient:
            ExchangePackage.objects.filter(pk=package.pk).update(downloads=F("downloads") + 1)
            package.refresh_from_db(fields=["downloads"])
        audit.record(
            "exchange.download",
            actor=actor,
            obj=package,
            summary=_summary(package) | {"format": fmt, "by_recipient": by_recipient},
        )
    return package


def exchange_package_data(*, actor, package: ExchangePackage) -> Iterator[bytes]:
    """The stored package as one JSON document (the API's), read back from its workbook a
    row at a time: audited like a download."""
    exchange_package_download(actor=actor, package=package, fmt="json")
    return _json_stream(package)


def _json_stream(package: ExchangePackage) -> Iterator[bytes]:
    with package.file.open("rb") as handle:
        yield from StoredPackage(handle).json_chunks()


def exchange_package_mark_sent(
    *, actor, package: ExchangePackage, sent_on: dt.date, note: str = ""
) -> ExchangePackage:
    """The administration records the day it sent the package, for the 联席会议's record
    (issue 14 §4): not in the future, not before the package was generated."""
    _require_writer(actor, "登记数据包的发送")
    today = timezone.localdate()
    if sent_on is None or sent_on > today:
        raise PortalError("发送日期不能晚于今天", code="sent_on", field="sent_on")
    generated = workdays.local_date(package.generated_at)
    if sent_on < generated:
        raise PortalError(
            f"发送日期不能早于数据包的生成日期（{generated:%Y-%m-%d}）",
            code="sent_on",
            field="sent_on",
        )
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise PortalError(f"发送说明不能超过 {NOTE_MAX} 字", code="note", field="note")
    with transaction.atomic():
        package = ExchangePackage.objects.select_for_update().get(pk=package.pk)
        before = {"sent_on": package.sent_on, "note": package.sent_note}
        package.sent_on, package.sent_note = sent_on, note
        package.sent_by = actor if getattr(actor, "pk", None) else None
        package.save(update_fields=["sent_on", "sent_note", "sent_by"])
        audit.record(
            "exchange.sent",
            actor=actor,
            obj=package,
            summary=_summary(package)
            | {"sent_on": sent_on, "note": note}
            | ({"before": before} if before["sent_on"] else {}),
        )
    return package


def exchange_province_write(*, actor, year: int, quarter: int, stream: IO[bytes]) -> dict:
    """The whole province's package (every institution) written to ``stream`` (the command
    line's ``--out``): never stored, audited as an export."""
    _require_writer(actor, "导出全省信息交换数据")
    contents = Contents(year=year, quarter=quarter, recipient=None, now=timezone.now())
    counts = contents.write_xlsx(stream)
    with transaction.atomic():
        audit.record(
            "exchange.export",
            actor=actor,
            object_type="oversight.ExchangePackage",
            object_repr=f"{contents.label} {PROVINCE}",
            summary={"quarter": contents.label, "as_of": contents.as_of, "counts": counts},
        )
    return counts


def province_counts(*, year: int, quarter: int) -> dict[str, int]:
    """The whole province's counts (each institution once) without writing the workbook."""
    return Contents(year=year, quarter=quarter, recipient=None, now=timezone.now()).counts()
