"""How a batch of valid rows reaches a table: the one place where the databases differ
(issue 9 item 7). PostgreSQL: COPY (text format, built from the rows' ``copy_tail`` when the
form prepared one). SQLite: batched inserts. Everything around it (validation thread, the
one merge transaction, set-level checks, exactly-once) is the same code on both."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from .form import ValidRow

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_value(value) -> str:
    """One value in COPY text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if type(value) is str:
        return value.translate(_COPY_ESCAPES)
    return str(value)  # int, date (ISO)


def copy_head(prefix: Sequence) -> str:
    """The COPY text of the values before each row's ``row_no`` (with its tab), once."""
    return "".join(f"{copy_value(value)}\t" for value in prefix)


def copy_line(head: str, row: ValidRow, *, row_no: bool = True) -> str:
    result = row.result
    tail = result.copy_tail or "\t".join(map(copy_value, result.values))
    return f"{head}{row.row_no}\t{tail}\n" if row_no else f"{head}{tail}\n"


def load_batch(
    table: str,
    columns: Sequence[str],
    batch: Sequence[ValidRow],
    *,
    prefix: Sequence = (),
    row_no: bool = True,
) -> None:
    """Append ``batch`` to ``table``: each row is ``(*prefix, row_no, *values)`` in
    ``columns`` order (``(*prefix, *values)`` without ``row_no``). COPY on PostgreSQL, one
    executemany on SQLite."""
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            data = getattr(batch, "copy_text", b"")
            if not data:
                head = copy_head(prefix)
                data = "".join([copy_line(head, row, row_no=row_no) for row in batch]).encode()
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # noqa: S608
                copy.write(data)
        else:
            marks = ", ".join(["%s"] * len(columns))
            number = (lambda row: (row.row_no,)) if row_no else (lambda row: ())
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608 - constants
                [(*prefix, *number(row), *row.result.values) for row in batch],
            )


def empty_table(table: str) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {table}")
        else:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - a constant


def create_batch_table(table: str, like: str, columns: Sequence[str]) -> None:
    """A temporary table with ``like``'s ``columns`` (dropped at commit on PostgreSQL, by
    ``drop_batch_table`` on SQLite)."""
    names = ", ".join(columns)
    drop_batch_table(table)
    with connection.cursor() as cursor:
        on_commit = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
        cursor.execute(
            f"CREATE TEMPORARY TABLE {table}{on_commit} AS "  # noqa: S608 - constants
            f"SELECT {names} FROM {like} WHERE 1 = 0"
        )


def drop_batch_table(table: str) -> None:
    schema = "pg_temp" if connection.vendor == "postgresql" else "temp"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {schema}.{table}")
