"""Throughput and latency of the public number check (issue 15 §5), measured with wrk.

Creates a fresh PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/portal_bench_public, dropped and re-created) holding
1,000,000 registered numbers, starts gunicorn with the production config
(portal/gunicorn.py) and bench/public_settings.py (the public rate limits off: the one
setting the bench changes), then runs wrk on loopback, bounded in time, against
``GET /api/public/number-check/?number=…`` (random numbers, 9 in 10 registered) and, in the
same run, a trivial Django view through the same middleware. Prints both, the ratio
(goal ≥ 0.5) and the check's p99 (goal ≤ 50 ms at ≥ 1,000 requests/s).

    .venv/bin/python bench/public_check.py [--seconds 15] [--connections 32] [--rows 1000000]

Needs ``wrk`` (Debian: apt-get install -y wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/portal_bench_public"


def env_for(url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "EMBEDDED": "1",
        "DJANGO_SETTINGS_MODULE": "bench.public_settings",
        "PYTHONPATH": str(ROOT),
        "LOG_FORMAT": "json",
    }


def recreate(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed(url: str, rows: int) -> float:
    started = time.perf_counter()
    env = {**env_for(url), "BENCH_ROWS": str(rows)}
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    script = """
import os
from django.db import connection
from portal.accounts import services
from portal.audit import SYSTEM
org, _ = services.organisation_create(actor=SYSTEM, kind="institution", name="基准测试银行",
    credit_code="91330000MA2A1CE00B", licence_category="bank")
with connection.cursor() as cursor:
    cursor.execute('''
        INSERT INTO registry_registerednumber (institution_id, number, kind, raw, main_port,
            is_sub_port, purpose, user_type, user_name, user_credit_code, carrier,
            document_number, valid_from, valid_to, remark, fingerprint, status, end_reason,
            created_at)
        SELECT %s, '138' || lpad(i::text, 8, '0'), 'mobile', '', '', false,
            CASE WHEN i %% 2 = 0 THEN 'marketing' ELSE 'collection' END, 'self',
            '基准测试银行', '', '中国移动', '', DATE '2026-01-01', NULL, '', 'bench',
            'active', '', now()
        FROM generate_series(0, %s - 1) AS i''', [org.pk, int(os.environ["BENCH_ROWS"])])
    cursor.execute("ANALYZE registry_registerednumber")
    cursor.execute("SELECT count(*) FROM registry_registerednumber")
    print(cursor.fetchone()[0])
"""
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"seeding failed:\n{out.stderr}")
    count = int(out.stdout.strip().splitlines()[-1])
    assert count == rows, count
    return time.perf_counter() - started


def wait_ready(base: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/bench/trivial/", timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer")


def wrk(url: str, *, seconds: int, connections: int, script: str | None = None) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for pct, value, unit in re.findall(r"\s(50|75|90|99)%\s+([\d.]+)(us|ms|s)\b", out):
        factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
        latency[pct] = float(value) * factor
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50": latency.get("50"),
        "p99": latency.get("99"),
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sock.group(1) if sock else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=None, help="gunicorn threads (gthread)")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    recreate(url)
    seeded = seed(url, args.rows)
    print(f"database: {args.rows:,} registered numbers seeded in {seeded:.1f} s ({url})")
    env = env_for(url)
    env["GUNICORN_BIND"] = f"127.0.0.1:{args.port}"
    if args.workers:
        env["GUNICORN_WORKERS"] = str(args.workers)
    if args.threads:
        env["GUNICORN_THREADS"] = str(args.threads)
    log = open(ROOT / "var" / "bench-public-gunicorn.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [str(Path(PYTHON).with_name("gunicorn")), "-c", "python:portal.gunicorn", "portal.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_ready(base)
        check = base + "/api/public/number-check/?number=13800000000"
        with urllib.request.urlopen(check, timeout=5) as response:  # noqa: S310 - loopback
            assert b'"registered":true' in response.read()
        lua = str(ROOT / "bench" / "public_check.lua")
        wrk(base + "/api/public/number-check/", seconds=3, connections=args.connections, script=lua)
        wrk(base + "/bench/trivial/", seconds=3, connections=args.connections)
        api = wrk(
            base + "/api/public/number-check/",
            seconds=args.seconds,
            connections=args.connections,
            script=lua,
        )
        trivial = wrk(base + "/bench/trivial/", seconds=args.seconds, connections=args.connections)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    workers = env.get("GUNICORN_WORKERS", f"{os.cpu_count() * 2 + 1} (2×cores+1)")
    print(
        f"gunicorn: {workers} sync workers; wrk: 2 threads, {args.connections} connections, "
        f"{args.seconds} s each, loopback"
    )
    for label, result in (("number check API", api), ("trivial Django view", trivial)):
        print(
            f"{label:<22} {result['rps']:>9,.0f} req/s   p50 {result['p50']:.1f} ms   "
            f"p99 {result['p99']:.1f} ms   non-2xx {result['non2xx']}"
            + (f"   socket errors: {result['socket_errors']}" if result["socket_errors"] else "")
        )
    print(f"load average (1, 5, 15 min) after the run: {os.getloadavg()} on {os.cpu_count()} cores")
    ratio = api["rps"] / trivial["rps"]
    print(
        f"ratio check/trivial: {ratio:.2f} (goal ≥ 0.5); check ≥ 1,000 req/s: "
        f"{'yes' if api['rps'] >= 1000 else 'no'}; p99 ≤ 50 ms: "
        f"{'yes' if api['p99'] <= 50 else 'no'}"
    )


if __name__ == "__main__":
    main()
