"""Register import benchmark (issue 4 §9). A script, not a test.

    .venv/bin/python bench/import_numbers.py [--rows 1000000] [--peer-rows 100000]

On a fresh PostgreSQL database (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/portal_bench``, dropped and re-created) it measures, each
import in a child process of its own so its peak RSS (VmHWM) is the import's alone:

1. the portal's pipeline on a generated N-row xlsx register (read, validate, stage, merge);
2. the same N rows again with 1% of them changed (merge: supersede + insert);
3. on the first ``--peer-rows`` rows, in the same run: the portal's pipeline and
   django-import-export's ``ModelResource`` import of the same model and file with its
   fastest documented settings (use_bulk, batch_size, skip_diff, force_init_instance,
   skip_html_diff), both into fresh institutions; prints the ratio.

4. a bare python-calamine read of the same N-row file (open, iterate every row, nothing
   else): the floor any xlsx import stands on; prints import / read (issue 9 §8: <= 2.5x);
5. with ``--before REV`` (default: the commit before the upload engine moved in), the same
   N-row import by that revision's code, checked out into a temporary git worktree and run
   against a database of its own, in the same run: prints engine / before (<= 1.05).

Each figure is the median of ``--repeat`` runs (default 1; the machine is shared and noisy).
Generated files are cached in ``bench/out/``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/portal_bench"
# main before the upload engine (issue 9) moved the register into portal/spreadsheets.
BEFORE = "5b30a4e"
INSTITUTIONS = {
    "main": "91330000MA2A1CE00B",
    "ours": "91330000MA2B0B000F",
    "peer": "91330000MA2CMCC013",
}


def generate(path: Path, rows: int, *, changed_every: int = 0, offset: int = 0) -> None:
    """A register of ``rows`` distinct numbers: mobiles, landlines, ports and sub-ports.
    With ``changed_every`` every k-th row gets another carrier (1% when k=100)."""
    from openpyxl import Workbook

    from tests.hostile_files import FULL

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2026)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("号码登记表")
    ws.append(FULL)  # the 号码登记表's columns (tests/hostile_files.py)
    carriers = ["中国移动", "中国联通", "中国电信"]
    purposes = ["营销", "催收", "营销及催收"]
    for i in range(offset, offset + rows):
        r = i % 10
        if r < 7:
            number, kind, main = f"13{i:09d}", "手机", ""
        elif r < 8:
            number, kind, main = f"0571{8000_0000 + i // 10:08d}", "固话", ""
        elif r < 9:
            number, kind, main = f"10690{i:010d}", "短信端口", ""
        else:
            number, kind, main = f"1069{i:010d}01", "子端口", f"1069{i:010d}"
        carrier = carriers[i % 3]
        if changed_every and i % changed_every == 0:
            carrier = carriers[(i + 1) % 3]
        month = rng.randrange(1, 13)
        ws.append(
            [
                number,
                kind,
                main,
                purposes[i % 3],
                "本机构",
                "",
                carrier,
                "",
                f"2026-{month:02d}-01",
                "" if i % 4 else "2027-12-31",
                "",
            ]
        )
    wb.save(path)


def peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(kind: str, path: str, code: str) -> None:
    """Runs in a fresh process: one import, then JSON with seconds and peak RSS."""
    if kind == "read":
        print(json.dumps(bare_read(path)))
        return
    import django

    django.setup()
    from django.core.files import File

    from portal.models import Organisation
    from registry import services

    institution = Organisation.objects.get(credit_code=code)
    # A real upload's actor: the institution's 经办人 (so created_by is set as in production).
    operator = institution.users.get(role="operator")
    started = time.perf_counter()
    if kind == "portal":
        with open(path, "rb") as fh:
            job, _ = services.import_job_create(
                actor=operator,
                institution=institution,
                upload=File(fh, name=Path(path).name),
                original_name=Path(path).name,
                enqueue=False,
            )
        job = services.import_job_run(job_id=job.pk)
        result = {
            "status": job.status,
            "rows": job.rows_total,
            "created": job.created,
            "updated": job.updated,
            "unchanged": job.unchanged,
            "message": job.message,
        }
    else:
        result = peer_import(path, institution)
    elapsed = time.perf_counter() - started
    # The spreadsheet is parsed in a child process (importers/sandbox.py): count its peak
    # too (parent + reader is an upper bound of what the import held at once).
    import resource

    reader_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    peak = peak_rss_mb() + reader_mb
    print(json.dumps({"seconds": elapsed, "peak_mb": peak, **result}, ensure_ascii=False))


def peer_import(path: str, institution) -> dict:
    """django-import-export, fastest documented settings (docs: "Bulk imports")."""
    import tablib
    from django.utils import timezone
    from import_export import fields, resources, widgets

    from registry.models import RegisteredNumber

    class NumberResource(resources.ModelResource):
        number = fields.Field(attribute="number", column_name="号码")
        kind = fields.Field(attribute="kind", column_name="号码类型")
        main_port = fields.Field(attribute="main_port", column_name="所属主端口")
        purpose = fields.Field(attribute="purpose", column_name="用途")
        user_name = fields.Field(attribute="user_name", column_name="使用单位")
        carrier = fields.Field(attribute="carrier", column_name="电信运营商")
        valid_from = fields.Field(
            attribute="valid_from",
            column_name="合作起始日期",
            widget=widgets.DateWidget("%Y-%m-%d"),
        )
        valid_to = fields.Field(
            attribute="valid_to", column_name="合作截止日期", widget=widgets.DateWidget("%Y-%m-%d")
        )

        class Meta:
            model = RegisteredNumber
            fields = (
                "number",
                "kind",
                "main_port",
                "purpose",
                "user_name",
                "carrier",
                "valid_from",
                "valid_to",
            )
            use_bulk = True
            batch_size = 5000
            skip_diff = True
            skip_html_diff = True
            force_init_instance = True
            use_transactions = True
            import_id_fields = ()

        def before_save_instance(self, instance, row, **kwargs):
            instance.institution = institution
            instance.user_type = "self"
            instance.fingerprint = ""
            instance.created_at = timezone.now()
            for name in (
                "main_port",
                "raw",
                "user_credit_code",
                "document_number",
                "remark",
                "end_reason",
            ):
                setattr(instance, name, getattr(instance, name) or "")

    with open(path, "rb") as fh:
        dataset = tablib.Dataset().load(fh.read(), format="xlsx")
    result = NumberResource().import_data(dataset, dry_run=False, raise_errors=True)
    return {
        "status": "done" if not result.has_errors() else "errors",
        "rows": len(dataset),
        "created": result.totals.get("new", 0),
    }


def bare_read(path: str) -> dict:
    """python-calamine alone: open the first sheet and walk every row, as text would need."""
    from python_calamine import CalamineWorkbook

    started = time.perf_counter()
    workbook = CalamineWorkbook.from_path(path)
    rows = sum(1 for _ in workbook.get_sheet_by_index(0).iter_rows())
    return {
        "seconds": time.perf_counter() - started,
        "peak_mb": peak_rss_mb(),
        "rows": rows,
        "status": "read",
    }


def _tree_rss_mb(root_pid: int) -> float:
    """The resident memory of a process and all its descendants now (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as fh:
                pages = int(fh.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents[int(entry)] = ppid
        rss[int(entry)] = pages
    tree, grew = {root_pid}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(rss.get(pid, 0) for pid in tree) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_child(
    kind: str,
    path: Path,
    code: str,
    env: dict,
    root: Path = ROOT,
    script: str = "import_numbers.py",
) -> dict:
    """One measurement in a process of its own (``script --child kind path code``; other
    benches reuse this with their own script). Besides the peaks each process reports
    (added up: an upper bound), the memory of the whole process tree is sampled every 0.1 s:
    ``together_mb`` is the most it held at one moment (import and reader child together).

    Each measurement starts on a settled database: the previous one's million rows would
    otherwise set autovacuum going on the other core in the middle of this one (the 100,000
    -row figures were 40-70% slower in the bench than alone, the peer's far less, as it
    runs on one core)."""
    settle(env)
    process = subprocess.Popen(
        [
            sys.executable,
            str(root / "bench" / script),
            "--child",
            kind,
            str(path),
            code,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    together = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal together
        while not stop.wait(0.1):
            together = max(together, _tree_rss_mb(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    stop.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"child {kind} failed:\n{stderr[-4000:]}")
    return {**json.loads(stdout.strip().splitlines()[-1]), "together_mb": together}


def settle(env: dict) -> None:
    """``VACUUM ANALYZE`` the measurement's PostgreSQL database, then ``CHECKPOINT``
    (untimed), so that neither an autovacuum of an earlier measurement's tables nor the
    checkpointer writing out its pages (a 1M-row import leaves about 500 MB of WAL, written
    out over the next minutes) runs on the 2 cores during the next one."""
    url = env.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        for statement in ("VACUUM ANALYZE", "CHECKPOINT"):
            subprocess.run(["psql", url, "-qc", statement], check=True, capture_output=True)


def median_run(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return {
        **ordered[len(ordered) // 2],
        "peak_mb": max(r["peak_mb"] for r in runs),
        "together_mb": max(r.get("together_mb", 0) for r in runs),
    }


def fresh_database(url: str, root: Path) -> dict:
    """Drop and re-create ``url``'s database, migrate it with ``root``'s code, and add the
    bench institutions with a 经办人 each; the environment for children of that code."""
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(
        ["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
        check=True,
        capture_output=True,
    )
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "MEDIA_ROOT": str(OUT / "media"),
        "LOG_LEVEL": "WARNING",
        "PORTAL_VAR_DIR": str(OUT / f"var-{name}"),
    }
    python = [sys.executable, "manage.py"]
    subprocess.run([*python, "migrate", "-v0", "--skip-checks"], env=env, check=True, cwd=root)
    # The code before the engine has no audit.SYSTEM: its services took actor=None.
    setup = (
        "from portal.accounts.services import organisation_create as c, user_create as u\n"
        "try:\n    from portal.audit import SYSTEM\nexcept ImportError:\n    SYSTEM = None\n"
    ) + (
        "".join(
            f"o = c(actor=SYSTEM, kind='institution', name='bench-{k}', credit_code='{v}', "
            "licence_category='bank')[0]\n"
            f"u(actor=SYSTEM, organisation=o, username='bench-{k}', role='operator')\n"
            for k, v in INSTITUTIONS.items()
        )
    )
    subprocess.run(
        [*python, "shell", "-c", setup], env=env, check=True, cwd=root, capture_output=True
    )
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--peer-rows", type=int, default=100_000)
    parser.add_argument("--child", nargs=3)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--before",
        default=BEFORE,
        help="git revision to compare with in the same run ('' to skip)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if args.child:
        child(*args.child)
        return

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    env = fresh_database(url, ROOT)
    n, m = args.rows, args.peer_rows
    full = OUT / f"register-{n}.xlsx"
    changed = OUT / f"register-{n}-changed.xlsx"
    small = OUT / f"register-{m}-peer-b.xlsx"
    print(f"generating files in {OUT} (cached) ...", flush=True)
    generate(full, n)
    generate(changed, n, changed_every=100)
    generate(small, m, offset=5_000_000)  # numbers nobody else registered

    before_root = before_env = None
    if args.before:
        before_root = Path(tempfile.mkdtemp(prefix="bench-before-"))
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(before_root), args.before],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        (before_root / ".venv").symlink_to(ROOT / ".venv")
        before_env = fresh_database(url + "_before", before_root)

    runs: dict[str, list[dict]] = {}
    try:
        for _ in range(args.repeat):
            # Each repeat starts from empty institutions: re-create the databases.
            if runs:
                env = fresh_database(url, ROOT)
                if before_root:
                    before_env = fresh_database(url + "_before", before_root)
            runs.setdefault("read", []).append(run_child("read", full, "-", env))
            runs.setdefault("first", []).append(
                run_child("portal", full, INSTITUTIONS["main"], env)
            )
            runs.setdefault("again", []).append(
                run_child("portal", changed, INSTITUTIONS["main"], env)
            )
            runs.setdefault("ours", []).append(
                run_child("portal", small, INSTITUTIONS["ours"], env)
            )
            runs.setdefault("peer", []).append(run_child("peer", small, INSTITUTIONS["peer"], env))
            if before_root:
                runs.setdefault("before", []).append(
                    run_child("portal", full, INSTITUTIONS["main"], before_env, before_root)
                )
    finally:
        if before_root:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(before_root)],
                check=False,
                cwd=ROOT,
                capture_output=True,
            )
    first, again, ours, peer, read = (
        median_run(runs[k]) for k in ("first", "again", "ours", "peer", "read")
    )
    before = median_run(runs["before"]) if before_root else None

    def line(label: str, r: dict, rows: int) -> str:
        return (
            f"{label:<46} {rows:>9,} rows {r['seconds']:7.2f} s {rows / r['seconds']:>9,.0f} rows/s"
            f"  peak RSS {r['peak_mb']:6.0f} MB (at once {r['together_mb']:5.0f} MB)"
            f"  [{r.get('message') or r['status']}]"
        )

    print()
    print(f"medians of {args.repeat} run(s)")
    print(line("python-calamine alone: read every row", read, n))
    print(line("portal import, new register (xlsx, PostgreSQL)", first, n))
    if before:
        print(line(f"the same import, code before the engine ({args.before})", before, n))
    print(line("portal re-import, 1% changed", again, n))
    print(line("portal import (peer comparison file)", ours, m))
    print(line("django-import-export ModelResource (bulk)", peer, m))
    ratio = peer["seconds"] / ours["seconds"]
    over_read = first["seconds"] / read["seconds"]
    print()
    print(f"ratio portal / django-import-export on {m:,} rows: {ratio:.1f}x faster")
    print(f"ratio import / bare python-calamine read of the same file: {over_read:.2f}x")
    if before:
        print(f"ratio engine / before: {first['seconds'] / before['seconds']:.3f}")
    goals = [
        ("new register >= 50,000 rows/s", n / first["seconds"] >= 50_000),
        ("re-import 1% changed >= 50,000 rows/s", n / again["seconds"] >= 50_000),
        ("peak RSS <= 900 MB (added peaks)", max(first["peak_mb"], again["peak_mb"]) <= 900),
        (
            "peak RSS <= 900 MB (the processes at once)",
            max(first["together_mb"], again["together_mb"]) <= 900,
        ),
        (">= 10x django-import-export", ratio >= 10),
        ("import <= 2.5x a bare python-calamine read", over_read <= 2.5),
    ]
    if before:
        goals.append(("<= 5% slower than before", first["seconds"] <= 1.05 * before["seconds"]))
    for goal, ok in goals:
        print(f"  {'OK  ' if ok else 'MISS'} {goal}")


if __name__ == "__main__":
    main()
