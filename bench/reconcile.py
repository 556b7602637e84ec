# ruff: noqa: S608 - table and column names are this script's own constants
"""Cross-match benchmark (issue 13 item 7). A script, not a test.

    .venv/bin/python bench/reconcile.py [--numbers 1000000] [--repeat 3] [--sqlite-numbers 100000]

PostgreSQL (``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/portal_bench_rec``,
dropped and re-created, migrated): a world of ``--numbers`` registered numbers (a tenth of
them sub-ports under 5,000 main ports) over 200 institutions, as many service-report lines
over 4 carriers (about 1% unregistered, 1% with another carrier, 1% for another purpose,
the rest matching), 50,000 SMS filings and 100,000 complaints, loaded with COPY. Then, in
the same run, ``--repeat`` times each:

1. the whole cross-match (``oversight.reconcile.reconcile``: every code, states, counts),
   inside a transaction that is rolled back so each repeat starts from the same world;
2. a hand-written reference SQL for the ``UNREGISTERED`` anti-join on the same tables (no
   temporary tables, the prefix match by a LATERAL scan of the ports' prefixes), with
   its result count; prints the portal's UNREGISTERED step beside it and the ratio
   (issue 13: within 2x);

and on SQLite (the embedded default, a file in ``bench/out``) the whole cross-match over a
world of ``--sqlite-numbers`` numbers (issue 13: 100,000 in 10 s or less). Medians.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_numbers import OUT, fresh_database  # noqa: E402 - after the path

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/portal_bench_rec"
AS_OF = dt.date(2026, 11, 20)
CARRIERS = [
    ("中国移动", "cmcc"),
    ("中国联通", "unicom"),
    ("中国电信", "telecom"),
    ("中国广电", "cbn"),
]
INSTITUTIONS = 200
MAIN_PORTS = 5000


def credit_code(prefix: str, n: int) -> str:
    from portal.creditcode import check_character

    body = f"{prefix}{n:07d}"
    return body + check_character(body)


def setup_organisations() -> tuple[list[int], list[int], list[str]]:
    from portal.accounts import services as accounts
    from portal.audit import SYSTEM

    institutions, codes = [], []
    for n in range(INSTITUTIONS):
        code = credit_code("91330000MA", n)
        org, _ = accounts.organisation_create(
            actor=SYSTEM,
            kind="institution",
            name=f"机构{n}",
            credit_code=code,
            licence_category="bank",
        )
        institutions.append(org.pk)
        codes.append(code)
    carriers = []
    for n, (name, network) in enumerate(CARRIERS):
        org, _ = accounts.organisation_create(
            actor=SYSTEM,
            kind="carrier",
            name=f"{name}浙江公司",
            credit_code=credit_code("91330000MC", n),
            network=network,
        )
        carriers.append(org.pk)
    return institutions, carriers, codes


def world_rows(numbers: int, institutions: list[int], carriers: list[int], codes: list[str]):
    """(register rows, report lines per carrier index, filings, complaints) as tuples."""
    sub_ports = numbers // 10
    mains = [f"10690{m:07d}" for m in range(min(MAIN_PORTS, sub_ports or 1))]
    reg, lines, filings, complaints = [], [], [], []
    names = [c[0] for c in CARRIERS]
    for i in range(numbers):
        inst = i % len(institutions)
        carrier = i % len(carriers)
        if i < sub_ports:
            main = mains[i % len(mains)]
            number, kind, is_sub, main_port = f"{main}{i:06d}", "sms_port", True, main
        else:
            number, kind, is_sub, main_port = f"13{i:09d}", "mobile", False, ""
        purpose = ("marketing", "collection", "both")[i % 3]
        reg.append((institutions[inst], number, kind, main_port, is_sub, purpose, names[carrier]))
        # The report: 1% unregistered (another number), 1% another carrier, 1% another
        # purpose, 1% not reported at all.
        r = i % 100
        if r == 0:
            continue
        line_number = f"14{i:09d}" if r == 1 else number
        line_carrier = carriers[(carrier + 1) % len(carriers)] if r == 2 else carriers[carrier]
        line_purpose = "collection" if r == 3 and purpose == "marketing" else purpose
        if line_purpose == "both":
            line_purpose = "marketing"
        line_kind = "mobile" if r == 1 else kind
        lines.append(
            (line_carrier, line_number, line_kind, codes[inst], institutions[inst], line_purpose)
        )
    for main in mains:
        reg.append(
            (
                institutions[int(main[-3:]) % len(institutions)],
                main,
                "sms_port",
                "",
                False,
                "both",
                names[0],
            )
        )
    for f in range(50_000):
        port = mains[f % len(mains)] + f"{f % 1000:06d}" if f % 50 else f"10699{f:07d}"
        filings.append((carriers[f % len(carriers)], port, institutions[f % len(institutions)]))
    for c in range(100_000):
        number = f"13{(c * 7) % max(numbers, 1):09d}" if c % 10 else f"15{c:09d}"
        complaints.append((number, ("marketing", "collection")[c % 2]))
    return reg, lines, filings, complaints


def load_world(numbers: int) -> dict:
    """Bulk-load the world (COPY on PostgreSQL, executemany on SQLite)."""
    from django.db import connection, transaction

    institutions, carriers, codes = setup_organisations()
    reg, lines, filings, complaints = world_rows(numbers, institutions, carriers, codes)
    now = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    start = dt.datetime(2026, 11, 25, 2, tzinfo=dt.UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        reports = []
        for carrier in carriers:
            cursor.execute(
                "INSERT INTO registry_servicereport (carrier_id, year, quarter, version, status, "
                "deadline, line_count, flagged_count, late_working_days, return_reason, "
                "created_at, updated_at) VALUES (%s, 2026, 4, 1, 'accepted', %s, 0, 0, 0, '', "
                "%s, %s) RETURNING id",
                [carrier, now, now, now],
            )
            reports.append(cursor.fetchone()[0])
        report_of = dict(zip(carriers, reports, strict=True))
        copy(
            cursor,
            "registry_registerednumber",
            (
                "institution_id",
                "number",
                "kind",
                "raw",
                "main_port",
                "is_sub_port",
                "purpose",
                "user_type",
                "user_name",
                "user_credit_code",
                "carrier",
                "document_number",
                "valid_from",
                "remark",
                "fingerprint",
                "status",
                "end_reason",
                "created_at",
            ),
            (
                (
                    inst,
                    n,
                    k,
                    n,
                    mp,
                    sub,
                    p,
                    "self",
                    "本机构",
                    "",
                    c,
                    "",
                    "2026-01-01",
                    "",
                    "x",
                    "active",
                    "",
                    now,
                )
                for inst, n, k, mp, sub, p, c in reg
            ),
        )
        copy(
            cursor,
            "registry_servicereportline",
            (
                "report_id",
                "row_no",
                "number",
                "kind",
                "raw",
                "main_port",
                "is_sub_port",
                "object_name",
                "object_credit_code",
                "object_match",
                "object_org_id",
                "institution_name",
                "institution_credit_code",
                "institution_match",
                "purpose",
                "document_number",
                "valid_from",
                "fingerprint",
            ),
            (
                (
                    report_of[c],
                    i,
                    n,
                    k,
                    n,
                    "",
                    False,
                    "机构",
                    code,
                    "organisation",
                    inst,
                    "",
                    "",
                    "",
                    p,
                    "",
                    "2026-01-01",
                    "x",
                )
                for i, (c, n, k, code, inst, p) in enumerate(lines)
            ),
        )
        copy(
            cursor,
            "filings_smsfiling",
            (
                "carrier_id",
                "carrier_label",
                "sender_name",
                "sender_credit_code",
                "entrusting_name",
                "entrusting_credit_code",
                "signature",
                "port",
                "port_raw",
                "purpose",
                "content",
                "start_at",
                "end_at",
                "planned_count",
                "recipients",
                "consent",
                "region",
                "opt_out",
                "contact_name",
                "contact_phone",
                "institution_id",
                "qualification",
                "checks",
                "status",
                "version",
                "review_reason",
                "withdraw_reason",
                "created_at",
                "updated_at",
            ),
            (
                (
                    c,
                    "运营商",
                    "机构",
                    "",
                    "",
                    "",
                    "【机构】",
                    port,
                    port,
                    "marketing",
                    "内容",
                    start,
                    start + dt.timedelta(days=1),
                    100,
                    "客户",
                    "同意",
                    "",
                    "回T退订",
                    "张三",
                    "95599",
                    inst,
                    "licence",
                    "[]",
                    "accepted",
                    1,
                    "",
                    "",
                    now,
                    now,
                )
                for c, port, inst in filings
            ),
        )
        copy(
            cursor,
            "oversight_complaint",
            (
                "number",
                "number_kind",
                "raw_number",
                "received_at",
                "channel",
                "category",
                "content",
                "institution_name",
                "contact",
                "reference",
                "created_at",
                "tracking_code",
                "status",
                "outcome",
                "source",
                "excluded_reason",
            ),
            (
                (n, "mobile", n, start, "12321", cat, "催收电话", "", "", "", now)
                + (f"BENCH{i:09d}", "received", "", "", "")
                for i, (n, cat) in enumerate(complaints)
            ),
        )
        if connection.vendor == "postgresql":
            for table in (
                "registry_registerednumber",
                "registry_servicereportline",
                "filings_smsfiling",
                "oversight_complaint",
            ):
                cursor.execute(f"ANALYZE {table}")
    return {
        "register": len(reg),
        "lines": len(lines),
        "filings": len(filings),
        "complaints": len(complaints),
    }


def copy(cursor, table: str, columns: tuple, rows) -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        names = ", ".join(columns)
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as out:
            for row in rows:
                out.write_row(row)
        return
    marks = ", ".join(["%s"] * len(columns))
    batch = []
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    for row in rows:
        batch.append(row)
        if len(batch) >= 10_000:
            cursor.executemany(sql, batch)
            batch = []
    if batch:
        cursor.executemany(sql, batch)


REFERENCE_UNREGISTERED = """
    SELECT count(*) FROM (
      SELECT DISTINCT l.number, l.object_org_id, s.carrier_id
      FROM registry_servicereportline l
      JOIN registry_servicereport s ON s.id = l.report_id
      WHERE s.year = 2026 AND s.quarter = 4 AND s.status = 'accepted'
        AND NOT EXISTS (
          SELECT 1 FROM registry_registerednumber r
          WHERE r.institution_id = l.object_org_id AND r.status = 'active'
            AND r.number = l.number)
        AND NOT (l.kind = 'sms_port' AND EXISTS (
          SELECT 1 FROM generate_series(5, length(l.number) - 1) n
          JOIN registry_registerednumber r
            ON r.institution_id = l.object_org_id AND r.status = 'active'
           AND r.number = substr(l.number, 1, n)))
    ) x
"""


def one_run(repeat: int) -> list[dict]:
    """In this process (django set up): the cross-match and the reference, ``repeat`` times."""
    from django.db import connection, transaction

    from oversight import reconcile
    from oversight.models import ReconciliationRun

    figures = []
    for _ in range(repeat):
        with transaction.atomic():
            run = ReconciliationRun.objects.create(as_of=AS_OF, year=2026, quarter=4)
            result = reconcile.reconcile(run_id=run.pk, as_of=AS_OF, previous_id=None)
            steps = dict(result.steps)
            labels = [label for label, _ in result.steps]
            unreg = labels.index("比对：未登记")
            # the UNREGISTERED step = from its start to the next step's start, plus the
            # tables it stands on (register, lines, prefixes, pairs)
            prepared = steps[labels[unreg]] - steps[labels[0]]
            insert = steps[labels[unreg + 1]] - steps[labels[unreg]]
            # What a commit would check besides (deferred constraints), timed with the run;
            # then rolled back, so each repeat starts from the same world.
            started = time.perf_counter()
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            deferred = time.perf_counter() - started
            transaction.set_rollback(True)
        entry = {
            "steps": [(label, round(at, 3)) for label, at in result.steps]
            + [("提交前的约束检查", round(result.seconds, 3))],
            "seconds": result.seconds + deferred,
            "counts": result.counts,
            "unregistered_prepared": prepared + insert,
        }
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                t = time.perf_counter()
                cursor.execute(REFERENCE_UNREGISTERED)
                entry["reference_count"] = cursor.fetchone()[0]
                entry["reference_seconds"] = time.perf_counter() - t
        figures.append(entry)
    return figures


def child(numbers: int, repeat: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    world = load_world(numbers)
    print(json.dumps({"world": world, "runs": one_run(repeat)}, ensure_ascii=False))


def run_child(env: dict, numbers: int, repeat: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(numbers), str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode:
        sys.exit(out.stderr[-4000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def sqlite_env(numbers: int) -> dict:
    path = OUT / f"reconcile-{numbers}.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{path}",
        "LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "MEDIA_ROOT": str(OUT / "media"),
    }
    python = [sys.executable, "manage.py"]
    subprocess.run([*python, "migrate", "-v0", "--skip-checks"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [*python, "load_calendar", "--year", "2026"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--sqlite-numbers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    print(f"PostgreSQL: a world of {args.numbers:,} registered numbers ...", flush=True)
    pg = run_child(fresh_database(url, ROOT), args.numbers, args.repeat)
    runs = pg["runs"]
    whole = statistics.median(r["seconds"] for r in runs)
    ours = statistics.median(r["unregistered_prepared"] for r in runs)
    ref = statistics.median(r["reference_seconds"] for r in runs)
    w = pg["world"]
    print(
        f"  world: {w['register']:,} register rows, {w['lines']:,} report lines, "
        f"{w['filings']:,} filings, {w['complaints']:,} complaints"
    )
    print(f"  findings: {json.dumps(runs[0]['counts'], ensure_ascii=False)}")
    print(f"  whole cross-match, median of {len(runs)}: {whole:.2f} s (goal <= 10 s)")
    print_steps(runs[0])
    print(
        f"  UNREGISTERED (its tables + its statement): {ours:.2f} s; hand-written reference "
        f"anti-join: {ref:.2f} s ({runs[0]['reference_count']:,} rows vs "
        f"{runs[0]['counts']['UNREGISTERED']:,}); ratio {ours / ref:.2f}x (goal <= 2x)"
    )
    print(f"SQLite: a world of {args.sqlite_numbers:,} registered numbers ...", flush=True)
    lite = run_child(sqlite_env(args.sqlite_numbers), args.sqlite_numbers, args.repeat)
    lite_whole = statistics.median(r["seconds"] for r in lite["runs"])
    print(f"  whole cross-match, median of {len(lite['runs'])}: {lite_whole:.2f} s (goal <= 10 s)")
    print_steps(lite["runs"][0])


def print_steps(entry: dict) -> None:
    """Where the time went in the first run: each step and its duration."""
    steps = [*entry["steps"], ("end", entry["seconds"])]
    parts = [
        f"{label} {after - at:.2f}s"
        for (label, at), (_, after) in zip(steps, steps[1:], strict=False)
    ]
    print("  steps: " + "; ".join(parts))


if __name__ == "__main__":
    main()
