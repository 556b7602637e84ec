"""Every number check counted per client address per day (issue 15 §1: for the dashboard,
and the heavy callers listed for the administration; never the numbers asked).

A check is a read: writing a row per request would make each one a write transaction and
serialise them all on the day's row. Each process adds its counts up in memory and writes
them every ``PUBLIC_CHECK_FLUSH_SECONDS`` (and at exit) in one upsert that adds to the
stored counts, which SQLite and PostgreSQL both run as ``INSERT … ON CONFLICT DO UPDATE``.
A process killed outright loses at most those seconds of counts."""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections import Counter

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

_lock = threading.Lock()
_pending: Counter = Counter()  # (day, client, limited) -> n
_last_flush = time.monotonic()


def count(client: str | None, *, limited: bool = False) -> None:
    global _last_flush
    key = (timezone.localdate(), (client or "unknown")[:64], limited)
    with _lock:
        _pending[key] += 1
        due = time.monotonic() - _last_flush >= settings.PUBLIC_CHECK_FLUSH_SECONDS
        if due:
            _last_flush = time.monotonic()
    if due:
        flush()


def flush() -> int:
    """Write the counts gathered so far; how many rows were written."""
    with _lock:
        items = list(_pending.items())
        _pending.clear()
    if not items:
        return 0
    rows: Counter = Counter()
    limited_rows: Counter = Counter()
    for (day, client, limited), n in items:
        (limited_rows if limited else rows)[(day, client)] += n
    keys = set(rows) | set(limited_rows)
    params = []
    for day, client in sorted(keys):
        params.append((day.isoformat(), client, rows[(day, client)], limited_rows[(day, client)]))
    sql = (
        "INSERT INTO oversight_publiccheckcount (day, client, checks, limited) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (day, client) DO UPDATE SET "
        "checks = oversight_publiccheckcount.checks + excluded.checks, "
        "limited = oversight_publiccheckcount.limited + excluded.limited"
    )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, params)
    except Exception:
        with _lock:  # keep them for the next flush rather than lose a day's counts
            for key, n in items:
                _pending[key] += n
        raise
    return len(params)


def _flush_at_exit() -> None:
    with contextlib.suppress(Exception):  # the process is ending; nothing to report to
        flush()


atexit.register(_flush_at_exit)
