# ruff: noqa: S608 - every statement is built from this module's own constants and code
# labels; values always go in as query parameters.
"""The cross-match (比对; issue 13 item 2; 000 §三(三), 002): the institutions' registers
against the carriers' service-object reports, the SMS filings and the complaints, as of a
date, in set-based SQL (the same statements on SQLite and PostgreSQL).

The run works on a few temporary tables, each one statement:

- ``rec_reg``: the register rows in force at the end of the day (created by then, not yet
  superseded or ended), with ``active`` = the cooperation period covers the day;
- ``rec_line``: the lines of each carrier's counted report version for the quarter (the
  latest accepted one, or else the latest submitted one, marked unaccepted in the inputs),
  with the institution the line serves and ``covers`` = its period covers the day;
- ``rec_pref``: for every SMS port in play, each of its prefixes (5 digits up to itself):
  a sub-port is matched to a main port through this table and an index, never by ``LIKE``
  over a cross join (domain.md: matching is by prefix along the port tree);
- ``rec_pair``: report line x register row, where the register row is the line's number or
  a main port above it.

Each finding code is then one ``INSERT … SELECT`` (anti-joins and joins over those tables)
into ``oversight_finding``, grouped so that one identity (code + number + organisations)
is one finding. Identities found in the previous run are marked persisting, and those of
the previous run not found again are carried over as resolved.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from portal import workdays
from portal.models import OrgKind

from .models import FindingCode, FindingState

MIN_PREFIX = 5  # the shortest main port (106 + a carrier's or provider's code)
MAX_NUMBER = 21

FINDING_COLUMNS = (
    "run_id",
    "code",
    "identity",
    "state",
    "number",
    "institution_id",
    "other_institution_id",
    "carrier_id",
    "registered_id",
    "other_registered_id",
    "report_line_id",
    "report_id",
    "filing_id",
    "object_name",
    "object_credit_code",
    "complaint_count",
)

# Complaint categories that are about financial marketing or collection.
FINANCIAL_CATEGORIES = ("marketing", "collection")
# Filings that announce a campaign the cross-match must see.
FILING_STATUSES = ("submitted", "accepted", "sent")


@dataclass
class Window:
    """The day and quarter a run is about, as the SQL needs them."""

    as_of: dt.date
    year: int
    quarter: int
    day_end: dt.datetime  # end of the as-of day, Asia/Shanghai, aware
    quarter_start: dt.datetime
    quarter_end: dt.datetime  # exclusive

    @classmethod
    def of(cls, as_of: dt.date) -> Window:
        year, quarter = workdays.quarter_of(as_of)
        first = dt.date(year, 3 * quarter - 2, 1)
        after = dt.date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
        zone = workdays.SHANGHAI
        return cls(
            as_of=as_of,
            year=year,
            quarter=quarter,
            day_end=workdays.end_of_day(as_of),
            quarter_start=dt.datetime.combine(first, dt.time(), zone),
            quarter_end=dt.datetime.combine(after, dt.time(), zone),
        )

    @property
    def params(self) -> dict:
        return {
            "d": self.as_of,
            "end": self.day_end,
            "q_start": self.quarter_start,
            "q_end": self.quarter_end,
            "q_first": self.quarter_start.date(),
            "q_last": (self.quarter_end - dt.timedelta(days=1)).date(),
        }


@dataclass
class Result:
    counts: dict[str, int]
    new: int
    persisting: int
    resolved: int
    inputs: dict
    seconds: float
    steps: list[tuple[str, float]] = field(default_factory=list)


def counted_reports(window: Window) -> list[dict]:
    """Per carrier, the quarter's latest accepted report version, or else its latest
    submitted one (marked ``accepted: false``)."""
    from registry.models import ServiceReport

    rows = ServiceReport.objects.filter(
        year=window.year, quarter=window.quarter, status__in=("accepted", "submitted")
    ).values_list("pk", "carrier_id", "version", "status")
    best: dict[int, tuple] = {}
    for pk, carrier_id, version, status in rows:
        rank = (status == "accepted", version)
        if carrier_id not in best or rank > best[carrier_id][0]:
            best[carrier_id] = (rank, pk, version, status)
    return [
        {"carrier": carrier_id, "report": pk, "version": version, "accepted": status == "accepted"}
        for carrier_id, (_, pk, version, status) in sorted(best.items())
    ]


# --- the temporary tables ---------------------------------------------------------------

TEMP_TABLES = (
    "rec_len",
    "rec_reg",
    "rec_line",
    "rec_pref",
    "rec_owner",
    "rec_pair",
    "rec_complaint",
)


def _drop(cursor) -> None:
    for name in TEMP_TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


def _analyze(cursor, *tables: str) -> None:
    if connection.vendor == "postgresql":
        for name in tables:
            cursor.execute(f"ANALYZE {name}")


def _index(cursor, name: str, table: str, columns: str) -> None:
    """SQLite joins through indexes; PostgreSQL hashes these tables whole (an index on a
    million-row temporary table costs more to build than it saves)."""
    if connection.vendor != "postgresql":
        cursor.execute(f"CREATE INDEX {name} ON {table} ({columns})")


def _temp(cursor, name: str, select: str, params: dict | None = None) -> None:
    """One temporary table from one statement. Analysed at once on PostgreSQL: the next
    statement's plan depends on its size (without statistics the planner guesses, and a
    guessed nested loop over two such tables is a cross product)."""
    cursor.execute(f"CREATE TEMP TABLE {name} AS {select}", params or {})
    _analyze(cursor, name)


def _build_register(cursor, p: dict) -> None:
    _temp(
        cursor,
        "rec_reg",
        """
        SELECT r.id, r.institution_id AS inst, r.number, r.kind, r.purpose, r.carrier,
               r.user_credit_code AS ucc, r.partner_id, r.valid_from, r.valid_to,
               CASE WHEN r.valid_from <= %(d)s AND (r.valid_to IS NULL OR r.valid_to >= %(d)s)
                    THEN 1 ELSE 0 END AS active
        FROM registry_registerednumber r
        WHERE r.created_at <= %(end)s AND (r.closed_at IS NULL OR r.closed_at > %(end)s)
        """,
        p,
    )
    _index(cursor, "rec_reg_number", "rec_reg", "number")
    _index(cursor, "rec_reg_inst", "rec_reg", "inst, number")


def _build_lines(cursor, p: dict, report_ids: list[int]) -> None:
    """The counted reports' lines, with the institution each serves: the declared
    entrusting institution, else the service object itself when it is an institution,
    else the institution whose partner the service object is."""
    ids = ",".join(str(int(i)) for i in report_ids) or "NULL"
    _temp(
        cursor,
        "rec_line",
        f"""
        SELECT l.id, l.report_id, s.carrier_id, l.number, l.kind, l.purpose,
               l.object_name, l.object_credit_code, l.valid_from, l.valid_to,
               COALESCE(l.institution_org_id, o.id, pa.inst) AS inst,
               CASE WHEN l.valid_from <= %(d)s AND (l.valid_to IS NULL OR l.valid_to >= %(d)s)
                    THEN 1 ELSE 0 END AS covers
        FROM registry_servicereportline l
        JOIN registry_servicereport s ON s.id = l.report_id
        LEFT JOIN portal_organisation o
          ON o.id = l.object_org_id AND o.kind = '{OrgKind.INSTITUTION}'
        LEFT JOIN (SELECT credit_code, MIN(institution_id) AS inst
                   FROM registry_partner GROUP BY credit_code) pa
          ON pa.credit_code = l.object_credit_code
        WHERE l.report_id IN ({ids})
        """,
        p,
    )
    _index(cursor, "rec_line_number", "rec_line", "number")
    # Findings look their line up by id (a few thousand probes), on both databases.
    cursor.execute("CREATE INDEX rec_line_id ON rec_line (id)")


def _build_prefixes(cursor, p: dict) -> None:
    """The proper prefixes of every SMS port in play (registered, reported, filed or
    complained about) that could be a main port: only of the lengths that registered or
    reported ports have (a handful), so a 20-digit sub-port yields a few rows, not 15."""
    statuses = ",".join(f"'{s}'" for s in FILING_STATUSES)
    _temp(
        cursor,
        "rec_len",
        """
        SELECT DISTINCT LENGTH(number) AS n FROM rec_reg WHERE kind = 'sms_port'
        UNION SELECT DISTINCT LENGTH(number) FROM rec_line WHERE kind = 'sms_port'
        """,
    )
    _temp(
        cursor,
        "rec_pref",
        f"""
        SELECT ports.number, SUBSTR(ports.number, 1, k.n) AS prefix
        FROM (
            SELECT number FROM rec_reg WHERE kind = 'sms_port'
            UNION SELECT number FROM rec_line WHERE kind = 'sms_port'
            UNION SELECT port FROM filings_smsfiling
             WHERE status IN ({statuses}) AND start_at < %(q_end)s AND end_at >= %(q_start)s
            UNION SELECT number FROM oversight_complaint
             WHERE number_kind = 'sms_port'
               AND received_at >= %(q_start)s AND received_at < %(q_end)s
        ) ports
        JOIN rec_len k ON k.n < LENGTH(ports.number) AND k.n >= {MIN_PREFIX}
        """,
        p,
    )
    _index(cursor, "rec_pref_number", "rec_pref", "number")
    _index(cursor, "rec_pref_prefix", "rec_pref", "prefix")


def _build_pairs(cursor) -> None:
    """Report line x register row where the row is the line's number or a main port above
    it, with what the pair-based codes compare, and ``owned`` = the line's service object
    is the registering institution or one of its partners (000 §一(二): carriers serve no
    one without a licence or an entrustment), ``carrier_ok`` = the row's 电信运营商 is a
    name the reporting carrier answers to (portal.CarrierName)."""
    _temp(
        cursor,
        "rec_owner",
        f"""
        SELECT id AS inst, credit_code AS code FROM portal_organisation
         WHERE kind = '{OrgKind.INSTITUTION}'
        UNION SELECT institution_id, credit_code FROM registry_partner
        """,
    )
    _index(cursor, "rec_owner_key", "rec_owner", "inst, code")
    # Narrow rows (a million of them): what each pair-based code compares, as flags.
    columns = """l.id AS line_id, r.id AS reg_id, l.number, l.carrier_id, l.object_credit_code,
                 r.inst, r.carrier AS reg_carrier,
                 CASE WHEN r.purpose = 'both' OR r.purpose = l.purpose THEN 1 ELSE 0 END
                   AS purpose_ok,
                 CASE WHEN r.active = l.covers THEN 1 ELSE 0 END AS period_ok"""
    _temp(
        cursor,
        "rec_pair",
        f"""
        SELECT x.line_id, x.reg_id, x.number, x.carrier_id, x.inst, x.purpose_ok, x.period_ok,
               CASE WHEN ow.inst IS NULL THEN 0 ELSE 1 END AS owned,
               CASE WHEN cn.name IS NULL THEN 0 ELSE 1 END AS carrier_ok
        FROM (
            SELECT {columns}
            FROM rec_line l JOIN rec_reg r ON r.number = l.number
            UNION ALL
            SELECT {columns}
            FROM rec_line l JOIN rec_pref pf ON pf.number = l.number
            JOIN rec_reg r ON r.number = pf.prefix
            WHERE l.kind = 'sms_port' AND r.kind = 'sms_port'
        ) x
        LEFT JOIN rec_owner ow ON ow.inst = x.inst AND ow.code = x.object_credit_code
        LEFT JOIN portal_carriername cn
          ON cn.organisation_id = x.carrier_id AND cn.name = x.reg_carrier
        """,
    )
    _index(cursor, "rec_pair_line", "rec_pair", "line_id, inst")


def _build_complaints(cursor, p: dict) -> None:
    """The quarter's complaints about financial marketing or collection, without those in
    a group the administration marked abnormal (issue 15: kept out of the counts)."""
    categories = ",".join(f"'{c}'" for c in FINANCIAL_CATEGORIES)
    excluded = _abnormal_exclusion()
    _temp(
        cursor,
        "rec_complaint",
        f"""
        SELECT c.id, c.number, c.number_kind AS kind, c.institution_id AS named_inst
        FROM oversight_complaint c
        WHERE c.received_at >= %(q_start)s AND c.received_at < %(q_end)s
          AND c.category IN ({categories}) {excluded}
        """,
        p,
    )
    _index(cursor, "rec_complaint_number", "rec_complaint", "number")


def _abnormal_exclusion() -> str:
    """SQL that keeps complaints of an abnormal group out (when that model exists)."""
    from . import models

    if hasattr(models.Complaint, "excluded_reason"):
        return "AND c.excluded_reason = ''"
    return ""


# --- the findings -------------------------------------------------------------------------


def _identity(code: str, *parts: str) -> str:
    """'CODE:' || number || ':' || inst || ':' || carrier … in SQL (both databases)."""
    pieces = [f"'{code}'"]
    for part in parts:
        pieces.append("':'")
        pieces.append(f"COALESCE(CAST({part} AS TEXT), '')")
    return " || ".join(pieces)


def _insert(cursor, run_id: int, code: str, select: str, p: dict) -> None:
    """``select`` yields the finding columns after run_id, code and state, in order."""
    columns = ", ".join(FINDING_COLUMNS)
    cursor.execute(
        f"INSERT INTO oversight_finding ({columns}) "
        f"SELECT %(run)s, '{code}', identity, '{FindingState.NEW}', number, inst, other_inst, "
        "carrier, reg, other_reg, line, report, filing, object_name, object_code, complaints "
        f"FROM ({select}) found",
        {**p, "run": run_id},
    )


_NONE = "CAST(NULL AS BIGINT)"  # typed, for PostgreSQL's INSERT … SELECT
_NO_REPORT = f"{_NONE} AS line, {_NONE} AS report, {_NONE} AS filing"
_NO_OBJECT = "'' AS object_name, '' AS object_code"


def _unregistered(code=FindingCode.UNREGISTERED) -> str:
    return f"""
        SELECT {_identity(code, "l.number", "l.inst", "l.carrier_id")} AS identity,
               l.number, l.inst, {_NONE} AS other_inst, l.carrier_id AS carrier,
               {_NONE} AS reg, {_NONE} AS other_reg, MIN(l.id) AS line, MIN(l.report_id) AS report,
               {_NONE} AS filing, MIN(l.object_name) AS object_name,
               MIN(l.object_credit_code) AS object_code, 0 AS complaints
        FROM rec_line l
        WHERE l.inst IS NOT NULL AND l.covers = 1
          AND NOT EXISTS (SELECT 1 FROM rec_pair pr WHERE pr.line_id = l.id AND pr.inst = l.inst)
        GROUP BY l.number, l.inst, l.carrier_id
    """


def _unreported(code=FindingCode.UNREPORTED) -> str:
    """Registered and active, and no line reports the number or a main port above it."""
    return f"""
        SELECT {_identity(code, "r.number", "r.inst", "NULL")} AS identity,
               r.number, r.inst, {_NONE} AS other_inst, {_NONE} AS carrier, MIN(r.id) AS reg,
               {_NONE} AS other_reg, {_NO_REPORT}, {_NO_OBJECT}, 0 AS complaints
        FROM rec_reg r
        WHERE r.active = 1
          AND NOT EXISTS (SELECT 1 FROM rec_line l WHERE l.number = r.number)
          AND NOT (r.kind = 'sms_port' AND EXISTS (
              SELECT 1 FROM rec_pref pf JOIN rec_line l ON l.number = pf.prefix
              WHERE pf.number = r.number))
        GROUP BY r.number, r.inst
    """


def _pair_finding(code: str, condition: str) -> str:
    """A finding for each (line, register row) pair that meets ``condition``, with the
    service object and report version from its line (by id: the few findings, not a wider
    million-row pair table)."""
    return f"""
        SELECT g.identity, g.number, g.inst, g.other_inst, g.carrier, g.reg, g.other_reg,
               g.line, l.report_id AS report, g.filing, l.object_name,
               l.object_credit_code AS object_code, g.complaints
        FROM (
            SELECT {_identity(code, "pr.number", "pr.inst", "pr.carrier_id")} AS identity,
                   pr.number, pr.inst, {_NONE} AS other_inst, pr.carrier_id AS carrier,
                   MIN(pr.reg_id) AS reg, {_NONE} AS other_reg, MIN(pr.line_id) AS line,
                   {_NONE} AS filing, 0 AS complaints
            FROM rec_pair pr
            WHERE {condition}
            GROUP BY pr.number, pr.inst, pr.carrier_id
        ) g JOIN rec_line l ON l.id = g.line
    """


def _owner_mismatch() -> str:
    """The service object is none of the number's registrants nor a partner of one (a
    number two institutions registered, served for one of them, is a DOUBLE_CLAIM only)."""
    return _pair_finding(
        FindingCode.OWNER_MISMATCH,
        "NOT EXISTS (SELECT 1 FROM rec_pair p2 WHERE p2.line_id = pr.line_id AND p2.owned = 1)",
    )


def _carrier_mismatch() -> str:
    """Registered with one carrier, reported by another: the register line's 电信运营商 is
    not a name the reporting carrier answers to (portal.CarrierName)."""
    return _pair_finding(
        FindingCode.CARRIER_MISMATCH,
        "pr.owned = 1 AND pr.carrier_ok = 0",
    )


def _purpose_mismatch() -> str:
    return _pair_finding(
        FindingCode.PURPOSE_MISMATCH,
        "pr.owned = 1 AND pr.purpose_ok = 0",
    )


def _period_mismatch() -> str:
    return _pair_finding(FindingCode.PERIOD_MISMATCH, "pr.owned = 1 AND pr.period_ok = 0")


def _auth_expired(code=FindingCode.AUTH_EXPIRED) -> str:
    """Served (on the day) for a partner of the institution whose entrustment does not
    cover the day."""
    return f"""
        SELECT {_identity(code, "l.number", "l.inst", "l.carrier_id")} AS identity,
               l.number, l.inst, {_NONE} AS other_inst, l.carrier_id AS carrier,
               {_NONE} AS reg, {_NONE} AS other_reg, MIN(l.id) AS line, MIN(l.report_id) AS report,
               {_NONE} AS filing, MIN(l.object_name) AS object_name,
               MIN(l.object_credit_code) AS object_code, 0 AS complaints
        FROM rec_line l JOIN registry_partner pa
          ON pa.institution_id = l.inst AND pa.credit_code = l.object_credit_code
        WHERE l.covers = 1
          AND (pa.valid_from > %(d)s OR (pa.valid_to IS NOT NULL AND pa.valid_to < %(d)s))
        GROUP BY l.number, l.inst, l.carrier_id
    """


def _unlicensed(code=FindingCode.UNLICENSED) -> str:
    """The service object is neither a known institution nor anyone's entrusted partner."""
    return f"""
        SELECT {_identity(code, "l.number", "l.object_credit_code", "l.carrier_id")}
               AS identity, l.number, l.inst, {_NONE} AS other_inst, l.carrier_id AS carrier,
               {_NONE} AS reg, {_NONE} AS other_reg, MIN(l.id) AS line, MIN(l.report_id) AS report,
               {_NONE} AS filing, MIN(l.object_name) AS object_name,
               l.object_credit_code AS object_code, 0 AS complaints
        FROM rec_line l
        WHERE NOT EXISTS (SELECT 1 FROM portal_organisation o
                          WHERE o.credit_code = l.object_credit_code
                            AND o.kind = '{OrgKind.INSTITUTION}')
          AND NOT EXISTS (SELECT 1 FROM registry_partner pa
                          WHERE pa.credit_code = l.object_credit_code)
        GROUP BY l.number, l.inst, l.object_credit_code, l.carrier_id
    """


def _double_claim(code=FindingCode.DOUBLE_CLAIM) -> str:
    """Active at two institutions, and not through one shared partner (the same 使用单位
    credit code on both registrations: the engine's 多机构登记 mark)."""
    return f"""
        SELECT {_identity(code, "a.number", "a.inst", "b.inst")} AS identity,
               a.number, a.inst, b.inst AS other_inst, {_NONE} AS carrier,
               MIN(a.id) AS reg, MIN(b.id) AS other_reg, {_NO_REPORT}, {_NO_OBJECT},
               0 AS complaints
        FROM rec_reg a JOIN rec_reg b ON b.number = a.number AND b.inst > a.inst
        WHERE a.active = 1 AND b.active = 1 AND (a.ucc = '' OR a.ucc <> b.ucc)
          AND a.number IN (SELECT number FROM rec_reg WHERE active = 1
                           GROUP BY number HAVING COUNT(*) > 1)
        GROUP BY a.number, a.inst, b.inst
    """


def _filing_port_unregistered(code=FindingCode.FILING_PORT_UNREGISTERED) -> str:
    """A submitted, accepted or sent campaign whose send window touches the quarter, from a
    port that no register row (the port or a main port above it; of the filing's
    institution when it names one) covers on every send date."""
    statuses = ",".join(f"'{s}'" for s in FILING_STATUSES)
    covers = (
        "AND (f.institution_id IS NULL OR r.inst = f.institution_id) "
        f"AND r.valid_from <= {_local_date('f.start_at')} "
        f"AND (r.valid_to IS NULL OR r.valid_to >= {_local_date('f.end_at')})"
    )
    return f"""
        SELECT {_identity(code, "f.port", "f.institution_id", "f.carrier_id")} AS identity,
               f.port AS number, f.institution_id AS inst, {_NONE} AS other_inst,
               f.carrier_id AS carrier, {_NONE} AS reg, {_NONE} AS other_reg, {_NONE} AS line,
               {_NONE} AS report, MIN(f.id) AS filing, MIN(f.sender_name) AS object_name,
               MIN(f.sender_credit_code) AS object_code, 0 AS complaints
        FROM filings_smsfiling f
        WHERE f.status IN ({statuses}) AND f.start_at < %(q_end)s AND f.end_at >= %(q_start)s
          AND NOT EXISTS (
              SELECT 1 FROM rec_reg r
              WHERE r.number = f.port {covers})
          AND NOT EXISTS (
              SELECT 1 FROM rec_pref pf JOIN rec_reg r ON r.number = pf.prefix
              WHERE pf.number = f.port AND r.kind = 'sms_port' {covers})
        GROUP BY f.port, f.institution_id, f.carrier_id
    """


def _local_date(column: str) -> str:
    """The Asia/Shanghai calendar date of a stored UTC timestamp, in SQL."""
    if connection.vendor == "postgresql":
        return f"CAST(({column} AT TIME ZONE 'Asia/Shanghai') AS DATE)"
    return f"DATE({column}, '+8 hours')"  # China keeps no daylight saving time


def _complained_unregistered(code=FindingCode.COMPLAINED_UNREGISTERED) -> str:
    return f"""
        SELECT {_identity(code, "c.number", "NULL", "NULL")} AS identity,
               c.number, MIN(c.named_inst) AS inst, {_NONE} AS other_inst, {_NONE} AS carrier,
               {_NONE} AS reg, {_NONE} AS other_reg, {_NO_REPORT}, {_NO_OBJECT},
               COUNT(*) AS complaints
        FROM rec_complaint c
        WHERE NOT EXISTS (SELECT 1 FROM rec_reg r WHERE r.number = c.number)
          AND NOT (c.kind = 'sms_port' AND EXISTS (
              SELECT 1 FROM rec_pref pf JOIN rec_reg r ON r.number = pf.prefix
              WHERE pf.number = c.number))
        GROUP BY c.number
    """


def _complained_registered(code=FindingCode.COMPLAINED_REGISTERED) -> str:
    """Registered and active, with complaints about it (or about a sub-port under it) at
    or above the quarterly threshold."""
    return f"""
        SELECT {_identity(code, "r.number", "r.inst", "NULL")} AS identity,
               r.number, r.inst, {_NONE} AS other_inst, {_NONE} AS carrier, MIN(r.id) AS reg,
               {_NONE} AS other_reg, {_NO_REPORT}, {_NO_OBJECT},
               COUNT(DISTINCT c.id) AS complaints
        FROM rec_reg r JOIN (
            SELECT c.id, c.number AS target FROM rec_complaint c
            UNION
            SELECT c.id, pf.prefix FROM rec_complaint c JOIN rec_pref pf ON pf.number = c.number
            WHERE c.kind = 'sms_port'
        ) c ON c.target = r.number
        WHERE r.active = 1
        GROUP BY r.number, r.inst
        HAVING COUNT(DISTINCT c.id) >= %(threshold)s
    """


CODES: list[tuple[str, Callable[[], str]]] = [
    (FindingCode.UNREGISTERED, _unregistered),
    (FindingCode.UNREPORTED, _unreported),
    (FindingCode.OWNER_MISMATCH, _owner_mismatch),
    (FindingCode.CARRIER_MISMATCH, _carrier_mismatch),
    (FindingCode.PURPOSE_MISMATCH, _purpose_mismatch),
    (FindingCode.DOUBLE_CLAIM, _double_claim),
    (FindingCode.PERIOD_MISMATCH, _period_mismatch),
    (FindingCode.AUTH_EXPIRED, _auth_expired),
    (FindingCode.UNLICENSED, _unlicensed),
    (FindingCode.FILING_PORT_UNREGISTERED, _filing_port_unregistered),
    (FindingCode.COMPLAINED_UNREGISTERED, _complained_unregistered),
    (FindingCode.COMPLAINED_REGISTERED, _complained_registered),
]


def _states(cursor, run_id: int, previous_id: int | None) -> tuple[int, int]:
    """Mark this run's findings already open in the previous run persisting, and carry the
    previous run's open findings not found again over as resolved. (persisting, resolved)"""
    if previous_id is None:
        return 0, 0
    p = {"run": run_id, "prev": previous_id, "resolved": FindingState.RESOLVED}
    cursor.execute(
        f"""UPDATE oversight_finding SET state = '{FindingState.PERSISTING}'
            WHERE run_id = %(run)s AND identity IN (
                SELECT identity FROM oversight_finding
                WHERE run_id = %(prev)s AND state <> %(resolved)s)""",
        p,
    )
    persisting = cursor.rowcount
    columns = ", ".join(FINDING_COLUMNS)
    carried = ", ".join(FINDING_COLUMNS[4:])
    cursor.execute(
        f"""INSERT INTO oversight_finding ({columns})
            SELECT %(run)s, o.code, o.identity, %(resolved)s, {carried}
            FROM oversight_finding o
            WHERE o.run_id = %(prev)s AND o.state <> %(resolved)s
              AND NOT EXISTS (SELECT 1 FROM oversight_finding n
                              WHERE n.run_id = %(run)s AND n.identity = o.identity)""",
        p,
    )
    return persisting, cursor.rowcount


def reconcile(
    *,
    run_id: int,
    as_of: dt.date,
    previous_id: int | None,
    progress: Callable[[int, str], None] = lambda percent, step: None,
) -> Result:
    """Run every finding code for ``run_id`` as of ``as_of``, inside the caller's
    transaction. Returns the counts per code (open findings), new/persisting/resolved."""
    started = time.perf_counter()
    window = Window.of(as_of)
    p = window.params | {"threshold": settings.COMPLAINT_THRESHOLD}
    reports = counted_reports(window)
    steps: list[tuple[str, float]] = []

    def step(label: str, percent: int) -> None:
        steps.append((label, time.perf_counter() - started))
        progress(percent, label)

    with connection.cursor() as cursor:
        _drop(cursor)
        if connection.vendor == "postgresql":
            # Hash joins in memory for this transaction only (the default is 4 MB); no JIT
            # (compiling each statement costs more than it saves on these).
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")
        step("读取号码登记", 5)
        _build_register(cursor, p)
        step("读取服务对象报送", 15)
        _build_lines(cursor, p, [r["report"] for r in reports])
        step("读取投诉", 22)
        _build_complaints(cursor, p)
        step("展开端口前缀", 28)
        _build_prefixes(cursor, p)
        _build_pairs(cursor)
        for index, (code, select) in enumerate(CODES):
            step(f"比对：{FindingCode(code).label}", 35 + index * 5)
            _insert(cursor, run_id, code, select(), p)
        step("与上次比对对照", 96)
        persisting, resolved = _states(cursor, run_id, previous_id)
        cursor.execute(
            "SELECT code, COUNT(*) FROM oversight_finding "
            f"WHERE run_id = %s AND state <> '{FindingState.RESOLVED}' GROUP BY code",
            [run_id],
        )
        counts = {code: 0 for code, _ in CODES} | dict(cursor.fetchall())
        cursor.execute(
            "SELECT COUNT(*) FROM rec_line",
        )
        line_count = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM rec_reg WHERE active = 1")
        register_count = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM rec_complaint")
        complaint_count = cursor.fetchone()[0]
        filing_count = _filing_count(cursor, p)
        _drop(cursor)
    total_open = sum(counts.values())
    inputs = {
        "quarter": f"{window.year}Q{window.quarter}",
        "reports": reports,
        "register_rows": register_count,
        "report_lines": line_count,
        "filings": filing_count,
        "complaints": complaint_count,
        "complaint_threshold": settings.COMPLAINT_THRESHOLD,
    }
    return Result(
        counts={str(k): v for k, v in counts.items()},
        new=total_open - persisting,
        persisting=persisting,
        resolved=resolved,
        inputs=inputs,
        seconds=time.perf_counter() - started,
        steps=steps,
    )


def _filing_count(cursor, p: dict) -> int:
    statuses = ",".join(f"'{s}'" for s in FILING_STATUSES)
    cursor.execute(
        f"SELECT COUNT(*) FROM filings_smsfiling WHERE status IN ({statuses}) "
        "AND start_at < %(q_end)s AND end_at >= %(q_start)s",
        p,
    )
    return cursor.fetchone()[0]
