"""Set-based checks and the merge of one staged import into the registry (one transaction).

Every statement works on the whole staged set at once (style.md: set-based), in SQL that
PostgreSQL and SQLite (3.33+) both run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from ..models import Status
from .register import STAGING_COLUMNS

# Serialises merges across institutions, so two institutions importing the same number at
# the same moment cannot both pass the cross-institution conflict check.
MERGE_LOCK_KEY = 727_002

# The staged values that become a registered number (all staging columns but job and row).
NUMBER_COLUMNS = STAGING_COLUMNS[2:]


@dataclass
class MergeCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ended: int = 0


def analyze_staging() -> None:
    """Fresh planner statistics: without them PostgreSQL takes the just-filled staging
    table for empty and picks nested loops over a million rows."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE registry_numberstaging")


def lock_merges() -> None:
    """Take the merge lock for the current transaction (SQLite: IMMEDIATE already did)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MERGE_LOCK_KEY])


def duplicate_rows(job_id: int) -> list[tuple[int, str, int]]:
    """(row_no, number, first row_no) for every repeat of a number within the file."""
    sql = """
        SELECT s.row_no, s.number, f.first_row
        FROM registry_numberstaging s
        JOIN (SELECT number, MIN(row_no) AS first_row, COUNT(*) AS n
              FROM registry_numberstaging WHERE job_id = %s
              GROUP BY number HAVING COUNT(*) > 1) f ON f.number = s.number
        WHERE s.job_id = %s AND s.row_no <> f.first_row
        ORDER BY s.row_no
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [job_id, job_id])
        return list(cursor.fetchall())


def conflicting_rows(job_id: int, institution_id: int) -> list[tuple[int, str, str]]:
    """(row_no, number, other institution) where another institution has it active."""
    sql = """
        SELECT s.row_no, s.number, o.name
        FROM registry_numberstaging s
        JOIN registry_registerednumber r
          ON r.number = s.number AND r.status = %s AND r.institution_id <> %s
        JOIN portal_organisation o ON o.id = r.institution_id
        WHERE s.job_id = %s
        ORDER BY s.row_no
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [Status.ACTIVE, institution_id, job_id])
        return list(cursor.fetchall())


def merge(
    *, job_id: int, institution_id: int, replace: bool, actor_id: int | None, today: dt.date
) -> MergeCounts:
    """Merge staged rows into the institution's register. Run inside ``atomic()``.

    Changed numbers: the active row becomes history (superseded) and a new active row is
    inserted. New numbers: inserted. Same fingerprint: untouched. ``replace``: active
    numbers absent from the file are ended with today's date (forms.md §1), never deleted.
    """
    now = timezone.now()
    counts = MergeCounts()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE registry_registerednumber SET status = %s, closed_at = %s
            WHERE institution_id = %s AND status = %s AND EXISTS (
                SELECT 1 FROM registry_numberstaging s
                WHERE s.job_id = %s AND s.number = registry_registerednumber.number
                  AND s.fingerprint <> registry_registerednumber.fingerprint)
            """,
            [Status.SUPERSEDED, now, institution_id, Status.ACTIVE, job_id],
        )
        counts.updated = cursor.rowcount
        columns = ", ".join(NUMBER_COLUMNS)
        selected = ", ".join(f"s.{c}" for c in NUMBER_COLUMNS)
        cursor.execute(
            f"""
            INSERT INTO registry_registerednumber
                (institution_id, {columns}, status, end_reason, source_job_id,
                 created_by_id, created_at)
            SELECT %s, {selected}, %s, '', %s, %s, %s
            FROM registry_numberstaging s
            WHERE s.job_id = %s AND NOT EXISTS (
                SELECT 1 FROM registry_registerednumber r
                WHERE r.institution_id = %s AND r.status = %s AND r.number = s.number)
            """,  # noqa: S608 - column names are constants
            [
                institution_id,
                Status.ACTIVE,
                job_id,
                actor_id,
                now,
                job_id,
                institution_id,
                Status.ACTIVE,
            ],
        )
        inserted = cursor.rowcount
        counts.created = inserted - counts.updated
        cursor.execute("SELECT COUNT(*) FROM registry_numberstaging WHERE job_id = %s", [job_id])
        counts.unchanged = cursor.fetchone()[0] - inserted
        if replace:
            cursor.execute(
                """
                UPDATE registry_registerednumber
                SET status = %s, closed_at = %s, end_reason = %s,
                    valid_to = CASE
                        WHEN valid_from > %s THEN valid_from
                        WHEN valid_to IS NULL OR valid_to > %s THEN %s
                        ELSE valid_to END
                WHERE institution_id = %s AND status = %s AND NOT EXISTS (
                    SELECT 1 FROM registry_numberstaging s
                    WHERE s.job_id = %s AND s.number = registry_registerednumber.number)
                """,
                [
                    Status.ENDED,
                    now,
                    "替换导入时文件中未包含",
                    today,
                    today,
                    today,
                    institution_id,
                    Status.ACTIVE,
                    job_id,
                ],
            )
            counts.ended = cursor.rowcount
    return counts


def clear_staging(job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM registry_numberstaging WHERE job_id = %s", [job_id])
