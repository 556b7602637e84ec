"""Bulk-SMS filing checks benchmark (issue 12 §9). A script, not a test.

    .venv/bin/python bench/sms_filing.py [--rows 1000000] [--filings 10000]

On a fresh PostgreSQL database (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/portal_bench_sms``, dropped and re-created) it builds
an N-number register the way bench/import_numbers.py does (its generated 号码登记表, cached
in ``bench/out/``, imported by the portal's own pipeline in a child process), then, in one
child process:

1. ``filings.checks.run`` on ``--filings`` filings at once: every check, set-based (a fixed
   number of queries per check kind, one join of all port prefixes against the register);
2. the same checks as a per-filing ORM loop (the deadline, the parties, the entrustment,
   the signatures and the register looked up filing by filing, as a straightforward
   implementation would), on the same filings, in the same run;

and prints both figures, their ratio (goal >= 20x) and whether 1. stays under 5 s. The
two must find exactly the same codes for every filing, or the script fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.import_numbers import INSTITUTIONS, OUT, fresh_database, generate, run_child  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/portal_bench_sms"
CARRIER_CODE = "91330000MA2CAR0L09"


def facts(n: int, carrier_id: int, institution, partner, *, rows: int = 1_000_000):
    """``n`` campaigns against the generated register (bench/import_numbers.generate):
    its ports (row i % 10 == 8: ``10690{i:010d}``, carrier 中国移动 when i % 3 == 0) with a
    sub-port extension, some unregistered ports, marketing and collection, a partner now
    and then, start days spread over the next 24 days."""
    from zoneinfo import ZoneInfo

    from filings.checks import Facts

    sh = ZoneInfo("Asia/Shanghai")
    today = dt.date.today()
    result = []
    for k in range(n):
        i = 10 * (k * 37 % (rows // 10 - 1)) + 8  # a port row of the register
        port = f"10690{i:010d}{k % 100:02d}"  # a sub-port under it
        if k % 17 == 0:
            port = f"10699{k:010d}"  # nobody registered it
        purpose = ("marketing", "collection", "notice")[k % 3]
        start = dt.datetime.combine(
            today + dt.timedelta(days=2 + k % 24), dt.time(9 + k % 12, 0), tzinfo=sh
        )
        by_partner = k % 11 == 0
        content = "【bench-main】尊敬的{姓名}，详询95599。" + ("回T退订" if k % 7 else "")
        result.append(
            Facts(
                key=k,
                carrier_id=carrier_id,
                sender_name=partner.name if by_partner else institution.name,
                sender_credit_code=partner.credit_code if by_partner else institution.credit_code,
                entrusting_name=institution.name if by_partner else "",
                entrusting_credit_code=institution.credit_code if by_partner else "",
                signature="bench-main",
                port=port,
                purpose=purpose,
                content=content,
                start_at=start,
                end_at=start + dt.timedelta(hours=2 + k % 14),
                opt_out="回T退订" if purpose == "marketing" else "",
            )
        )
    return result


def per_filing(fact, now):
    """The same checks, one filing at a time through the ORM (the peer)."""
    from filings import checks
    from portal import workdays
    from portal.carriers import serves
    from portal.models import Organisation, OrgKind
    from registry import numbers
    from registry.models import Partner, RegisteredNumber, RegisteredSignature

    out = checks.Outcome()
    outcomes = {fact.key: out}
    checks._content_checks([fact], outcomes)
    checks._period_checks([fact], outcomes, now)
    start_day = checks._day(fact.start_at)
    end_day = checks._day(fact.end_at)
    known = workdays.covered_years()
    missing = [y for y in range(start_day.year, end_day.year + 1) if y not in known]
    try:
        due = workdays.sms_filing_deadline(start_day)
    except workdays.CalendarYearMissing as exc:
        missing = sorted({*missing, exc.year})
    if missing:
        out.add("CALENDAR_MISSING", "…")
    elif now > due:
        out.add("LATE", "…")

    def institution(code):
        return Organisation.objects.filter(
            credit_code=code, kind=OrgKind.INSTITUTION, is_active=True
        ).first()

    sender = institution(fact.sender_credit_code)
    owner = sender
    if sender is None:
        owner = institution(fact.entrusting_credit_code) if fact.entrusting_credit_code else None
        partner = (
            Partner.objects.filter(institution=owner, credit_code=fact.sender_credit_code).first()
            if owner
            else None
        )
        if partner is None or not (
            partner.valid_from <= start_day
            and (partner.valid_to is None or partner.valid_to >= end_day)
            and checks._covers(partner.kind, fact.purpose)
        ):
            out.add("SENDER_UNAUTHORISED", "…")
    names = [fact.sender_name, fact.entrusting_name]
    registered = set()
    for code in (fact.sender_credit_code, fact.entrusting_credit_code):
        org = institution(code) if code else None
        if org:
            names.append(org.name)
            registered |= set(
                RegisteredSignature.objects.filter(
                    institution=org, removed_at__isnull=True
                ).values_list("name", flat=True)
            )
    signature = checks.content_signature(fact.content)
    if signature is None:
        out.add("NO_IDENTITY", "…")
    elif checks.fold(signature) in {checks.fold(n) for n in checks.NEUTRAL_SIGNATURES}:
        out.add("SIGNATURE_NEUTRAL", "…")
    elif not checks.signature_identifies(signature, names, registered):
        out.add("NO_IDENTITY", "…")
    if owner is None:
        out.add("PORT_UNREGISTERED", "…")
    else:
        entries = RegisteredNumber.objects.filter(
            institution=owner,
            number__in=numbers.port_prefixes(fact.port) or [fact.port],
            status="active",
        ).select_related("partner")
        covering = [
            e
            for e in entries
            if e.valid_from <= start_day
            and (e.effective_valid_to is None or e.effective_valid_to >= end_day)
        ]
        if not covering:
            out.add("PORT_UNREGISTERED", "…")
        else:
            entry = max(covering, key=lambda e: len(e.number))
            if fact.purpose in ("marketing", "collection") and not checks._covers(
                entry.purpose, fact.purpose
            ):
                out.add("PORT_PURPOSE", "…")
            carrier = Organisation.objects.get(pk=fact.carrier_id)
            if not serves(carrier, entry.carrier):
                out.add("PORT_OTHER_CARRIER", "…")
    return sorted(c["code"] for c in out.checks)


def child(n: int, register_rows: int) -> None:
    """In a fresh process against the bench database: both measurements, JSON out."""
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from filings import checks
    from portal.accounts.services import organisation_create
    from portal.audit import SYSTEM
    from portal.models import CalendarYear, Organisation
    from portal.services import calendar_load_year
    from registry.models import Partner
    from registry.services import partner_save

    carrier, _ = organisation_create(
        actor=SYSTEM,
        kind="carrier",
        name="中国移动通信集团浙江有限公司（bench）",
        credit_code=CARRIER_CODE,
        network="cmcc",
    )
    institution = Organisation.objects.get(credit_code=INSTITUTIONS["main"])
    for year in (dt.date.today().year - 1, dt.date.today().year):
        if not CalendarYear.objects.filter(year=year).exists():
            calendar_load_year(actor=SYSTEM, year=year)
    partner = (
        Partner.objects.filter(institution=institution).first()
        or partner_save(
            actor=SYSTEM,
            institution=institution,
            name="bench-partner",
            credit_code="91330100MA2PART01W",
            kind="both",
            valid_from=dt.date.today() - dt.timedelta(days=30),
            valid_to=dt.date.today() + dt.timedelta(days=20),
        )[0]
    )
    rows = facts(n, carrier.pk, institution, partner, rows=register_rows)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        outcomes = checks.run(rows, now=now)
    set_seconds = time.perf_counter() - started
    started = time.perf_counter()
    looped = [per_filing(f, now) for f in rows]
    loop_seconds = time.perf_counter() - started
    ours = [sorted(c["code"] for c in outcomes[f.key].checks) for f in rows]
    differ = [k for k, (a, b) in enumerate(zip(ours, looped, strict=True)) if a != b]
    fired: dict[str, int] = {}
    for codes in ours:
        for code in codes:
            fired[code] = fired.get(code, 0) + 1
    print(
        json.dumps(
            {
                "set_seconds": set_seconds,
                "set_queries": len(queries),
                "loop_seconds": loop_seconds,
                "differ": differ[:5],
                "differ_count": len(differ),
                "linked": sum(1 for o in outcomes.values() if o.register_entry_id),
                "fired": fired,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--filings", type=int, default=10_000)
    parser.add_argument("--child", type=int)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if args.child:
        child(args.child, args.rows)
        return
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    env = fresh_database(url, ROOT)
    register = OUT / f"register-{args.rows}.xlsx"
    print(f"generating {register} (cached) ...", flush=True)
    generate(register, args.rows)
    imported = run_child("portal", register, INSTITUTIONS["main"], env)
    print(f"register: {imported['message']} in {imported['seconds']:.1f} s", flush=True)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "sms_filing.py"),
            "--child",
            str(args.filings),
            "--rows",
            str(args.rows),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"child failed:\n{result.stderr[-4000:]}")
    r = json.loads(result.stdout.strip().splitlines()[-1])
    n = args.filings
    ratio = r["loop_seconds"] / r["set_seconds"]
    print()
    print(f"{n:,} filings against a {args.rows:,}-number register (PostgreSQL)")
    print(
        f"  set-based filings.checks.run        {r['set_seconds']:7.2f} s"
        f"  {n / r['set_seconds']:>9,.0f} filings/s  ({r['set_queries']} queries)"
    )
    print(
        f"  per-filing ORM loop, same checks    {r['loop_seconds']:7.2f} s"
        f"  {n / r['loop_seconds']:>9,.0f} filings/s"
    )
    print(f"  ratio: {ratio:.1f}x   register entries linked: {r['linked']:,}")
    print(f"  checks fired: {json.dumps(r['fired'], ensure_ascii=False)}")
    if r["differ_count"]:
        sys.exit(f"the two disagree on {r['differ_count']} filings, e.g. keys {r['differ']}")
    for goal, ok in (("set-based < 5 s", r["set_seconds"] < 5), (">= 20x the loop", ratio >= 20)):
        print(f"  {'OK  ' if ok else 'MISS'} {goal}")


if __name__ == "__main__":
    main()
