"""Production deployment, exercised for real (issue 5 §2): gunicorn with whitenoise on
PostgreSQL, two Celery workers (started separately, ``--concurrency 2``) on RabbitMQ or
Redis, the health check, JSON logs with request ids, and a worker killed mid-import while
the job still finishes exactly once (acks late).

These tests need a real broker and PostgreSQL; the suite's ordinary runs (embedded broker)
skip them. CI runs them with ``make integration`` (README, Development).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from portal.audit import verify_chain
from portal.models import AuditEvent, UploadJob
from registry.models import ImportStatus, Partner, RegisteredNumber, Status
from tests.oversight.test_reconcile import world  # noqa: F401 - a fixture
from tests.registry.conftest import register, save_partner
from tests.uploads import register_csv, upload_file

ROOT = Path(__file__).resolve().parents[2]
ROWS = 300_000

pytestmark = [
    pytest.mark.integration,
    # ``make integration`` sets PORTAL_INTEGRATION=1: there a missing broker is a failure,
    # never a silent skip.
    pytest.mark.skipif(
        os.environ.get("PORTAL_INTEGRATION") != "1"
        and (
            settings.CELERY_BROKER_URL.startswith("sqla+")
            or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql"
        ),
        reason="needs PostgreSQL and a RabbitMQ/Redis broker (make integration)",
    ),
]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def prod_env(tmp_path, settings):
    """The environment a production process gets: the test database, production settings,
    a media folder shared by the test process, the web server and the workers."""
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "DEBUG": "0",
        "SECRET_KEY": "integration-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        # The test process verifies the chain the workers extend: the same audit key.
        "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEYS[settings.AUDIT_HMAC_KEY_ID],
        "AUDIT_HMAC_KEY_ID": settings.AUDIT_HMAC_KEY_ID,
        "AUDIT_CHECKPOINT_FILE": str(settings.AUDIT_CHECKPOINT_FILE),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "MEDIA_ROOT": str(media),
        "STATIC_ROOT": str(tmp_path / "static"),
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    return env


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait(predicate, *, timeout: float, what: str, logs: list[Path] = ()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    details = "\n".join(f"--- {p.name}\n{_tail(p)}" for p in logs if p.exists())
    pytest.fail(f"timed out waiting for {what}\n{details}")


class Workers:
    """Celery workers, each its own process group (so one can be killed whole, as when its
    machine dies)."""

    def __init__(self, env: dict, folder: Path) -> None:
        self.env, self.folder = env, folder
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str) -> None:
        log = self.folder / f"{name}.log"
        self.logs[name] = log
        self.procs[f"{name}@integration"] = subprocess.Popen(  # noqa: S603 - our own argv
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--concurrency",
                "2",
                "--hostname",
                f"{name}@integration",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        from portal.celery import app

        def ready():
            replies = app.control.inspect(timeout=1).ping() or {}
            return set(self.procs) <= set(replies)

        _wait(ready, timeout=60, what="both workers to answer ping", logs=self.logs.values())

    def holding(self, task_name: str) -> str | None:
        from portal.celery import app

        active = app.control.inspect(timeout=1).active() or {}
        for hostname, tasks in active.items():
            if any(t.get("name") == task_name for t in tasks):
                return hostname
        return None

    def kill(self, hostname: str) -> None:
        proc = self.procs[hostname]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def workers(prod_env, tmp_path):
    from portal.celery import app

    app.control.purge()  # nothing left over from an earlier run on this broker
    pool = Workers(prod_env, tmp_path)
    pool.start("w1")
    pool.start("w2")
    try:
        pool.wait_ready()
        yield pool
    finally:
        pool.stop()


def numbers():
    return (f"139{i:08d}" for i in range(ROWS))


def _finished(job: UploadJob):
    job.refresh_from_db()
    return job.is_finished and job


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_import_and_the_job_finishes_exactly_once(inst_alice, workers, tmp_path):
    """tasks.py (acks late, reject on worker lost): the worker running an import dies
    (SIGKILL to its whole process group); the broker hands the task to the other worker,
    which starts the job again from a clean staging area and merges it once."""
    job = upload_file(inst_alice, register_csv(tmp_path / "register.csv", numbers()), enqueue=True)
    logs = list(workers.logs.values())

    def running_with_progress():
        job.refresh_from_db()
        return job.status == ImportStatus.RUNNING and job.rows_done > 0

    _wait(running_with_progress, timeout=60, what="the import to make progress", logs=logs)
    victim = _wait(
        lambda: workers.holding("portal.tasks.run_upload_job"),
        timeout=10,
        what="a worker holding the import",
        logs=logs,
    )
    workers.kill(victim)
    assert not job.is_finished, "the import finished before the worker could be killed"

    job = _wait(lambda: _finished(job), timeout=180, what="the redelivered import", logs=logs)
    assert job.status == ImportStatus.DONE, job.message
    assert (job.attempts, job.created, job.updated, job.ended) == (2, ROWS, 0, 0)
    assert RegisteredNumber.objects.filter(institution=inst_alice.organisation).count() == ROWS
    assert AuditEvent.objects.filter(action="import.done", object_id=str(job.pk)).count() == 1
    assert verify_chain().ok

    # The surviving worker goes on serving: a second upload with 1% of the numbers changed.
    changed = upload_file(
        inst_alice,
        register_csv(
            tmp_path / "changed.csv",
            numbers(),
            carrier=lambda i: "中国联通" if i % 100 == 0 else "中国移动",
        ),
        enqueue=True,
    )
    changed = _wait(lambda: _finished(changed), timeout=180, what="the second import", logs=logs)
    assert changed.status == ImportStatus.DONE, changed.message
    assert (changed.attempts, changed.created, changed.updated) == (1, 0, ROWS // 100)
    assert (
        RegisteredNumber.objects.filter(
            institution=inst_alice.organisation, status=Status.ACTIVE
        ).count()
        == ROWS
    )


@pytest.mark.django_db(transaction=True)
def test_scheduled_task_runs_on_the_workers(inst_alice, workers):
    """The hourly beat task (registry.tasks.end_expired_partner_numbers) run by a worker: an
    entrustment that has expired ends its partner's numbers (issue 4 §1)."""
    from registry.tasks import end_expired_partner_numbers

    partner = save_partner(inst_alice, valid_to=dt.date(2099, 12, 31))
    number = register(
        inst_alice,
        "13800138000",
        用途="催收",
        使用单位=partner.name,
        使用单位统一社会信用代码=partner.credit_code,
    )
    # Time passes: the entrustment ran out yesterday.
    Partner.objects.filter(pk=partner.pk).update(
        valid_from=dt.date(2020, 1, 1), valid_to=timezone.localdate() - dt.timedelta(days=1)
    )
    end_expired_partner_numbers.delay()

    def ended():
        number.refresh_from_db()
        return number.status == Status.ENDED

    _wait(ended, timeout=60, what="the worker to end the number", logs=list(workers.logs.values()))
    assert "委托" in number.end_reason


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - localhost

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_the_site_with_whitenoise_health_and_json_logs(prod_env, tmp_path):
    """README "Running in production": gunicorn (portal/gunicorn.py) on PostgreSQL with
    production settings; whitenoise serves the collected, hashed static files; /healthz
    checks database and broker; every log line on stdout is JSON with the request id."""
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=prod_env,
        check=True,
    )
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", "python:portal.gunicorn", "portal.wsgi"],
        cwd=ROOT,
        env={**prod_env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    https = {"X-Forwarded-Proto": "https"}
    try:

        def up():
            try:
                return _get(f"{base}/healthz")
            except OSError:
                return None

        status, _, body = _wait(up, timeout=30, what="gunicorn to answer", logs=[log])
        assert status == 200, body
        assert json.loads(body) == {"status": "ok", "database": "ok", "broker": "ok"}

        status, headers, _ = _get(f"{base}/accounts/login/")
        assert status == 301 and headers["Location"].startswith("https://")  # SSL redirect

        status, headers, page = _get(f"{base}/accounts/login/", https)
        assert status == 200
        assert "Strict-Transport-Security" in headers
        css = re.search(rb'href="(/static/portal/portal\.[0-9a-f]{12}\.css)"', page)
        assert css, "the login page links the hashed stylesheet"
        status, headers, _ = _get(base + css.group(1).decode(), https)
        assert status == 200
        assert "immutable" in headers.get("Cache-Control", "")

        status, headers, _ = _get(
            f"{base}/no-such-page/?q=13800138000", {**https, "X-Request-ID": "it-4242"}
        )
        assert status == 404 and headers["X-Request-ID"] == "it-4242"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    tagged = [r for r in records if r["request_id"] == "it-4242"]
    assert {r["logger"] for r in tagged} == {"django.request", "gunicorn.access"}, lines
    assert "13800138000" not in log.read_text()  # a searched number is not logged


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("world")
def test_a_cross_match_runs_on_the_workers(workers):
    """Issue 13 §6 (the operations step issue 5 left blocked): the cross-match queued from
    the service runs on a worker over RabbitMQ, once, and finds every code of the
    hand-built world (tests/oversight/test_reconcile.py)."""
    from oversight import services as oversight_services
    from oversight.models import ReconciliationRun, RunStatus
    from portal.audit import SYSTEM

    run = oversight_services.reconciliation_start(actor=SYSTEM, as_of=dt.date(2026, 11, 20))

    def finished():
        run.refresh_from_db()
        return run.status in (RunStatus.DONE, RunStatus.FAILED)

    _wait(
        finished,
        timeout=120,
        what="a worker to run the cross-match",
        logs=list(workers.logs.values()),
    )
    assert run.status == RunStatus.DONE, run.message
    assert sum(run.counts.values()) == 14 and run.counts["UNREGISTERED"] == 3
    assert run.report.name and ReconciliationRun.objects.count() == 1
