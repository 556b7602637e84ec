"""The public number check (issue 15 §1; 003 双向核查): is this number a registered,
active financial marketing or collection number today, and whose?

The answer is a fixed list of fields (:data:`FIELDS`) and nothing else: no other numbers,
no internal ids, no counts, nothing about people. A number registered by several
institutions (an agency serving two banks) names each of them. A sub-port that is not
registered on its own is answered through the registered port above it (its main port:
domain.md, matching along the port tree). A registration that ended, has not started yet,
or whose partner's entrustment is not valid today is "not registered", with the same
answer as a number never seen, so the answer tells nothing about the past."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import psycopg
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from portal.models import Organisation
from registry import numbers
from registry.models import Partner, Purpose, RegisteredNumber, Status, UserType

# Every field an answer may carry, in order. Tests check each response against it.
FIELDS = (
    "number",
    "registered",
    "institution",
    "purpose",
    "user",
    "valid_from",
    "valid_to",
    "message",
)
REGISTERED_ONLY = ("institution", "purpose", "user", "valid_from", "valid_to")

MESSAGE_REGISTERED = (
    "该号码已在本平台备案，是下列机构登记的金融{purpose}号码。请核对来电或短信自称的机构与此一致；"
    "不一致或有骚扰、威胁等行为，仍可投诉。"
)
MESSAGE_NOT_REGISTERED = (
    "该号码今天不是本平台备案的金融营销或催收号码。如果对方自称银行、贷款、保险等金融机构"
    "或其委托的催收、营销公司，请提高警惕，不要转账或提供验证码，可以向我们投诉。"
)
PURPOSE_WORDS = {Purpose.MARKETING: "营销", Purpose.COLLECTION: "催收", Purpose.BOTH: "营销及催收"}


class InvalidNumber(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CheckResult:
    number: str
    registered: bool
    institution: str = ""
    purpose: str = ""
    user: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    @property
    def message(self) -> str:
        if self.registered:
            return MESSAGE_REGISTERED.format(purpose=self.purpose)
        return MESSAGE_NOT_REGISTERED

    def as_dict(self) -> dict:
        """The API's answer: the registered-only fields only for a registered number."""
        data: dict = {"number": self.number, "registered": self.registered}
        if self.registered:
            data.update(
                institution=self.institution,
                purpose=self.purpose,
                user=self.user,
                valid_from=self.valid_from.isoformat() if self.valid_from else None,
                valid_to=self.valid_to.isoformat() if self.valid_to else None,
            )
        data["message"] = self.message
        return data


def _sql(candidates: int) -> str:
    """The one lookup, as SQL written once per number of candidates (the ORM's query
    building cost more than the query itself on this hot path). ``status = 'active'`` is
    a literal so that PostgreSQL uses the partial index ``regnum_number_active``."""
    numbers_table = RegisteredNumber._meta.db_table
    partners = Partner._meta.db_table
    organisations = Organisation._meta.db_table
    marks = ", ".join(["%s"] * candidates)
    return (
        "SELECT r.number, o.name, r.purpose, r.user_type, r.user_name, p.name, "  # noqa: S608 - table names from the models
        "r.valid_from, r.valid_to, p.valid_from, p.valid_to "
        f"FROM {numbers_table} r JOIN {organisations} o ON o.id = r.institution_id "
        f"LEFT JOIN {partners} p ON p.id = r.partner_id "
        f"WHERE r.number IN ({marks}) AND r.status = 'active' AND r.valid_from <= %s "
        "AND (r.valid_to IS NULL OR r.valid_to >= %s) "
        "AND (r.partner_id IS NULL OR (p.valid_from <= %s "
        "AND (p.valid_to IS NULL OR p.valid_to >= %s))) "
        "ORDER BY r.number DESC, o.name LIMIT 20"
    )


_SQL = {n: _sql(n) for n in range(1, numbers.MAX_DIGITS + 2)}


def _date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])  # SQLite gives text back


def _rows(candidates: list[str], today: dt.date) -> list[tuple]:
    """Active registrations of any candidate on ``today`` (one query on the partial index
    ``regnum_number_active``), the partner's entrustment valid too."""
    sql = _SQL[len(candidates)]
    if connection.vendor == "postgresql":
        rows = _prepared(sql, [*candidates, today, today, today, today])
    else:
        day = today.isoformat()
        with connection.cursor() as cursor:
            cursor.execute(sql, [*candidates, day, day, day, day])
            rows = cursor.fetchall()
    return [(*row[:6], *(_date(v) for v in row[6:])) for row in rows]


def _prepared(sql: str, params: list) -> list[tuple]:
    """The lookup as a prepared statement of this connection (psycopg keeps it per
    connection, server-side binding): PostgreSQL parses and plans it once, not per check.
    Planning the three-table join cost more than running it (about 1 ms against 0.2 ms);
    Django's cursors bind on the client, so every check was a new statement to plan.

    The connection's ``prepare_threshold`` (portal/settings.py) lets a statement that asks
    be prepared; Django's own queries are unaffected: its client-side cursors never prepare.

    This path does not go through Django's cursor, so not through its per-request health
    check (``CONN_HEALTH_CHECKS``) either: a connection the server closed since the last
    request (a restart, an idle timeout) is found by the lookup itself, and the lookup,
    a read, is run again once on a new connection, outside a transaction."""
    started = time.monotonic()
    for attempt in (1, 2):
        connection.ensure_connection()
        raw = connection.connection
        try:
            with psycopg.Cursor(raw) as cursor:
                cursor.execute(sql, params, prepare=True)
                rows = cursor.fetchall()
            break
        except psycopg.OperationalError:
            if attempt == 2 or connection.in_atomic_block or not raw.closed:
                with connection.wrap_database_errors:
                    raise
            connection.close()
        except psycopg.Error:
            with connection.wrap_database_errors:
                raise
    if connection.queries_logged:  # as Django's debug cursor would (without the number)
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


def _distinct(values) -> str:
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return "、".join(seen)


def check_number(raw: str, *, today: dt.date | None = None) -> CheckResult:
    """Check one number as typed; raises :class:`InvalidNumber` for text that is not a
    number in any format ``registry.numbers`` accepts. A malformed input runs the same
    query as a well-formed one (with no candidate that can match), so the two take the
    same time."""
    today = today or timezone.localdate()
    try:
        parsed = numbers.parse_number((raw or "").strip()[:64])
    except numbers.NumberError as exc:
        _rows([""], today)
        raise InvalidNumber(exc.message) from exc
    number = parsed.number
    candidates = numbers.port_prefixes(number) or [number]
    rows = _rows(candidates, today)
    if not rows:
        return CheckResult(number=number, registered=False)
    longest = rows[0][0]  # the registration nearest to the number along the port tree
    rows = [row for row in rows if row[0] == longest]
    users = []
    for _n, institution, _p, user_type, user_name, partner_name, *_ in rows:
        if user_type == UserType.PARTNER:
            users.append(partner_name or user_name)
        elif user_type == UserType.BRANCH:
            users.append(user_name or institution)
        else:
            users.append(institution)
    purposes = {row[2] for row in rows}
    if Purpose.BOTH in purposes or purposes >= {Purpose.MARKETING, Purpose.COLLECTION}:
        purpose = PURPOSE_WORDS[Purpose.BOTH]
    else:
        purpose = PURPOSE_WORDS[next(iter(purposes))]
    ends = []
    for row in rows:
        own = [d for d in (row[7], row[9]) if d]
        ends.append(min(own) if own else None)
    starts = [max(d for d in (row[6], row[8]) if d) for row in rows]
    return CheckResult(
        number=number,
        registered=True,
        institution=_distinct(row[1] for row in rows),
        purpose=purpose,
        user=_distinct(users),
        valid_from=min(starts),
        valid_to=None if None in ends else max(ends),
    )


def institution_of(number: str, *, today: dt.date | None = None) -> int | None:
    """The one institution that has ``number`` (or a port above it) active today, for a
    public complaint; None when none or several."""
    today = today or timezone.localdate()
    candidates = numbers.port_prefixes(number) or [number]
    ids = set(
        RegisteredNumber.objects.filter(
            number__in=candidates, status=Status.ACTIVE, valid_from__lte=today
        )
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .values_list("institution_id", flat=True)[:5]
    )
    return ids.pop() if len(ids) == 1 else None
