"""Production settings (issue 3 §2): ``check --deploy`` reports nothing, and the settings
refuse to start without a secret key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "portal.example",
    "CSRF_TRUSTED_ORIGINS": "https://portal.example",
    "AUDIT_HMAC_KEY": "a-long-random-audit-chain-key-0123456789-abcdefghijklmnopqrstuvwxyz",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Not the test run's own switches (tests/conftest.py allows async-unsafe calls for
    # Playwright, which check --deploy rightly refuses).
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_check_deploy_reports_nothing_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_without_a_secret_key_refuses_to_start():
    env = {**PRODUCTION, "SECRET_KEY": ""}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_without_an_audit_key_refuses_to_start():
    """Issue 16 item 7: the audit chain's HMAC key comes from the environment, never the
    database, and production refuses to start without one (as without SECRET_KEY)."""
    result = manage("check", **{**PRODUCTION, "AUDIT_HMAC_KEY": ""})
    assert result.returncode != 0
    assert "AUDIT_HMAC_KEY" in result.stderr


def test_production_refuses_a_short_or_badly_listed_audit_key():
    result = manage("check", **{**PRODUCTION, "AUDIT_HMAC_KEY": "short"})
    assert result.returncode != 0
    assert "AUDIT_HMAC_KEY" in result.stderr
    assert "32" in result.stderr
    result = manage("check", **{**PRODUCTION, "AUDIT_HMAC_OLD_KEYS": "no-colon-here"})
    assert result.returncode != 0
    assert "AUDIT_HMAC_OLD_KEYS" in result.stderr


EMBEDDED_PROBE = """
from django.conf import settings
from django.test import Client
page = Client().get("/no-such-page/")
print(settings.DEBUG, settings.DEMO, getattr(settings, "SECURE_SSL_REDIRECT", False),
      getattr(settings, "SESSION_COOKIE_SECURE", False), page.status_code,
      "页面不存在" in page.content.decode(), "URLconf" in page.content.decode())
"""


def test_the_embedded_default_shows_the_portals_own_pages_over_plain_http():
    """Issue 10 §5: under make run (EMBEDDED=1) a wrong URL is the portal's Chinese 404, not
    Django's technical page listing every URL pattern; the demo keeps plain HTTP on
    127.0.0.1 (no HTTPS redirect, no secure-only cookies) and its development keys."""
    result = manage("shell", "-c", EMBEDDED_PROBE, EMBEDDED="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "False",
        "True",
        "False",
        "False",
        "404",
        "True",
        "False",
    ]
