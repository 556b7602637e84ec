"""Rate limits of the public side (issue 15 §1, §2): per client address, 30 a minute and
300 a day by default (settings), a Chinese message and Retry-After when exceeded, atomic
under concurrency (the database cache's incr and Redis), off only by the bench's setting."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.db import connection, connections
from django.test import RequestFactory
from django.urls import reverse

from oversight.models import PublicCheckCount
from oversight.public import limits

API = "/api/public/number-check/"

pytestmark = pytest.mark.usefixtures("public")


def test_over_the_minute_limit_gets_429_in_chinese_with_retry_after(client, settings):
    settings.PUBLIC_RATE_LIMIT_MINUTE = 3
    for _ in range(3):
        assert client.get(API, {"number": "13900000000"}).status_code == 200
    response = client.get(API, {"number": "13900000000"})
    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"code", "detail"}
    assert body["code"] == "throttled"
    assert "每分钟最多 3 次" in body["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60
    page = client.get(reverse("public_check"), {"number": "13900000000"})
    assert page.status_code == 429
    assert "过于频繁" in page.content.decode()
    assert page["Retry-After"]
    [row] = PublicCheckCount.objects.all()
    assert (row.checks, row.limited) == (3, 2)


def test_day_limit_counts_too(client, settings):
    settings.PUBLIC_RATE_LIMIT_MINUTE = 100
    settings.PUBLIC_RATE_LIMIT_DAY = 2
    assert client.get(API, {"number": "13900000000"}).status_code == 200
    assert client.get(API, {"number": "13900000001"}).status_code == 200
    response = client.get(API, {"number": "13900000002"})
    assert response.status_code == 429
    assert "每天最多 2 次" in response.json()["detail"]


def test_limits_are_per_client_address(client, settings):
    settings.PUBLIC_RATE_LIMIT_MINUTE = 1
    assert client.get(API, {"number": "139"}, REMOTE_ADDR="10.0.0.1").status_code == 400
    assert client.get(API, {"number": "139"}, REMOTE_ADDR="10.0.0.1").status_code == 429
    assert client.get(API, {"number": "139"}, REMOTE_ADDR="10.0.0.2").status_code == 400


def test_complaints_and_tracking_have_the_same_limits(client, settings):
    settings.PUBLIC_RATE_LIMIT_MINUTE = 1
    client.post(reverse("public_complaint"), {"number": "x"})
    response = client.post(reverse("public_complaint"), {"number": "x"})
    assert response.status_code == 429 and response["Retry-After"]
    client.post(reverse("public_track"), {"code": "ABCD"})
    assert client.post(reverse("public_track"), {"code": "ABCD"}).status_code == 429


def test_the_bench_setting_switches_the_limits_off(client, settings):
    settings.PUBLIC_RATE_LIMIT_MINUTE = 1
    settings.PUBLIC_RATE_LIMIT_ENABLED = False
    for _ in range(5):
        assert client.get(API, {"number": "13900000000"}).status_code == 200


def test_unreachable_cache_refuses_instead_of_letting_everyone_through(client, settings):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }
    response = client.get(API, {"number": "13900000000"})
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert response["Retry-After"] == "60"
    page = client.get(reverse("public_check"), {"number": "13900000000"})
    assert page.status_code == 503
    assert "暂时不可用" in page.content.decode()


def _hammer(cache_alias: str, n: int, limit: int) -> int:
    """``n`` requests from one address at once; how many the limiter let through."""
    factory = RequestFactory()
    start = threading.Barrier(n)

    def one(_):
        request = factory.get(API, REMOTE_ADDR="10.9.9.9")
        start.wait()
        try:
            return limits.retry_after(request, "concurrency-test") is None
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return sum(pool.map(one, range(n)))


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_exceed_the_limit_database_cache(settings):
    """The embedded default's store: DatabaseCache.incr is read-then-write; ours holds the
    row (PostgreSQL FOR UPDATE; SQLite BEGIN IMMEDIATE), so 40 requests at once against a
    limit of 10 let exactly 10 through."""
    if connection.vendor != "postgresql":
        pytest.skip("the in-memory SQLite test database cannot host concurrent writers")
    settings.PUBLIC_RATE_LIMIT_MINUTE = 10
    settings.PUBLIC_RATE_LIMIT_DAY = 1000
    caches["ratelimit"].clear()
    assert _hammer("ratelimit", 40, 10) == 10
    caches["ratelimit"].clear()


_SQLITE_HAMMER = """
import json, sys, threading
from concurrent.futures import ThreadPoolExecutor
import django
django.setup()
from django.core.management import call_command
from django.db import connections
from django.test import RequestFactory
from oversight.public import limits
call_command("migrate", "oversight", verbosity=0)  # as make setup does: the table comes with it
start = threading.Barrier(40)
def one(_):
    request = RequestFactory().get("/api/public/number-check/", REMOTE_ADDR="10.9.9.9")
    start.wait()
    try:
        return limits.retry_after(request, "concurrency-test") is None
    finally:
        connections.close_all()
with ThreadPoolExecutor(max_workers=40) as pool:
    print(json.dumps(sum(pool.map(one, range(40)))))
"""


def test_concurrent_requests_never_exceed_the_limit_sqlite_file(tmp_path):
    """The embedded default itself: the database cache in a SQLite file (WAL, BEGIN
    IMMEDIATE), 40 threads with a connection each against a limit of 10: exactly 10 pass.
    In a process of its own (the in-memory test database cannot host concurrent writers)."""
    import os
    import subprocess
    import sys

    env = {
        **{k: v for k, v in os.environ.items() if k not in ("CACHE_URL", "REDIS_URL")},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "PUBLIC_RATE_LIMIT_MINUTE": "10",
        "PUBLIC_RATE_LIMIT_DAY": "1000",
    }
    out = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", _SQLITE_HAMMER],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().splitlines()[-1]) == 10


def test_concurrent_requests_never_exceed_the_limit_redis(settings):
    """Production's store (django-redis at CACHE_URL): INCR is atomic."""
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5).ping()
    except redis.exceptions.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": "portal-test-ratelimit",
        },
    }
    settings.PUBLIC_RATE_LIMIT_MINUTE = 10
    settings.PUBLIC_RATE_LIMIT_DAY = 1000
    try:
        caches["ratelimit"].clear()
        assert _hammer("ratelimit", 40, 10) == 10
    finally:
        caches["ratelimit"].clear()


def test_atomic_incr_of_the_database_cache(db):
    cache = caches["ratelimit"]
    cache.clear()
    assert cache.add("k", 1, 60)
    assert cache.incr("k") == 2
    assert cache.incr("k", 5) == 7
    with pytest.raises(ValueError):
        cache.incr("missing")


def test_production_counts_in_redis_through_django_redis():
    """CACHE_URL (or REDIS_URL) puts the rate limits in django-redis; without it they are
    in the database cache with the atomic incr."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({k: v['BACKEND'] for k, v in settings.CACHES.items()}))"
    )
    for env, expected in (
        ({"REDIS_URL": "redis://127.0.0.1:6379/1"}, "django_redis.cache.RedisCache"),
        ({}, "portal.cache.AtomicDatabaseCache"),
    ):
        clean = {k: v for k, v in os.environ.items() if k not in ("CACHE_URL", "REDIS_URL")}
        out = subprocess.run(  # noqa: S603 - our interpreter, our script
            [sys.executable, "-c", script],
            env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(out.stdout.strip().splitlines()[-1])["ratelimit"] == expected
