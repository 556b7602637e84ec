"""Named users per role (healthchecks' habit): alice and bob run two institutions, carol a
carrier, rita the communications administration, fiona a financial regulator.

Every test database gets the 2025–2026 working-day calendar from chinese-calendar.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection

from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.models import Organisation, User

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in tests

PASSWORD = "Correct-Horse-Battery-9"

CODES = {
    "regulator": "11330000MB1REG0008",
    "financial_regulator": "11330000MB1F1N0005",
    "alice": "91330000MA2A1CE00B",
    "bob": "91330000MA2B0B000F",
    "carrier": "91330000MA2CAR0L09",
}


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """PBKDF2 at Django's default cost takes ~0.4 s per hash; every named user and every
    login would pay it. Tests check the login rules, not the hash, so MD5 is enough here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _audit_checkpoint_file(settings, tmp_path):
    """Each test its own audit checkpoint file (``AUDIT_CHECKPOINT_FILE``): checkpoints of
    another test's database would not describe this one's trail."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit-checkpoints.jsonl"


def _ensure_calendar() -> None:
    from portal.models import CalendarYear
    from portal.services import calendar_load_year

    for year in (2025, 2026):
        if not CalendarYear.objects.filter(year=year).exists():
            calendar_load_year(actor=SYSTEM, year=year)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the calendar once per test database (chinese-calendar knows 2025 and 2026)."""
    with django_db_blocker.unblock():
        _ensure_calendar()


def _uses_db(request) -> tuple[bool, bool]:
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(names & {"transactional_db", "live_server"}) or bool(
        marker and marker.kwargs.get("transaction")
    )
    return transactional or bool(marker) or "db" in names, transactional


@pytest.fixture(autouse=True)
def _audit_triggers(request):
    """Transactional tests end with a flush that empties every table: DELETE on SQLite,
    TRUNCATE on PostgreSQL, both of which the audit trail's triggers refuse. Such tests
    drop the refusing trigger just before the flush (this fixture is torn down first
    because it depends on ``transactional_db``); every test puts it back, so the triggers
    are always there while a test runs."""
    uses_db, transactional = _uses_db(request)
    if not uses_db:
        yield
        return
    request.getfixturevalue("transactional_db" if transactional else "db")
    if transactional:
        _ensure_calendar()  # the previous transactional test's flush emptied the tables
    if connection.vendor == "sqlite":
        migration = importlib.import_module("portal.migrations.0002_audit_insert_only")
        create, drop = migration.SQLITE, migration.SQLITE_REVERSE
    else:
        migration = importlib.import_module("portal.migrations.0004_audit_no_truncate")
        create, drop = [migration.CREATE], [migration.DROP]
    with connection.cursor() as cursor:
        for sql in create:
            cursor.execute(sql)
    yield
    if transactional:
        with connection.cursor() as cursor:
            for sql in drop:
                cursor.execute(sql)


def _org(kind: str, name: str, code: str, licence: str = "") -> Organisation:
    org, _ = accounts.organisation_create(
        actor=SYSTEM, kind=kind, name=name, credit_code=code, licence_category=licence
    )
    return org


def _user(org: Organisation, username: str, role: str = "admin", **extra) -> User:
    user, _, _ = accounts.user_create(
        actor=SYSTEM,
        organisation=org,
        username=username,
        role=role,
        password=PASSWORD,
        email=f"{username}@example.invalid",
    )
    User.objects.filter(pk=user.pk).update(must_change_password=False, **extra)
    user.refresh_from_db()
    return user


@pytest.fixture
def org_alice(db):
    return _org("institution", "甲银行", CODES["alice"], "bank")


@pytest.fixture
def org_bob(db):
    return _org("institution", "乙消费金融", CODES["bob"], "consumer_finance")


@pytest.fixture
def org_carrier(db):
    return _org("carrier", "某移动公司", CODES["carrier"])


@pytest.fixture
def org_regulator(db):
    return _org("regulator", "某省通信管理局", CODES["regulator"])


@pytest.fixture
def org_financial(db):
    """Supervises banks and consumer finance companies: alice's and bob's categories
    (issue 14 §6); a test of the scope adds an institution outside it."""
    org = _org("financial_regulator", "某金融监管局", CODES["financial_regulator"])
    return accounts.organisation_set_scope(
        actor=SYSTEM, organisation=org, categories=["bank", "consumer_finance"]
    )


@pytest.fixture
def inst_alice(org_alice):
    return _user(org_alice, "alice")


@pytest.fixture
def inst_bob(org_bob):
    return _user(org_bob, "bob")


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """The API throttles and the login rate count in the process-wide cache: every test
    starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fixed_day(settings, tmp_path, time_machine):
    """Uploads, documents and reports in a throwaway folder; "today" is Tuesday 2026-03-10,
    10:00 in Asia/Shanghai (a working day well inside the loaded calendar)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    time_machine.move_to(dt.datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.fixture
def viewer_viola(org_alice):
    """A viewer (查看) in alice's institution: reads what alice reads, changes and manages
    nothing."""
    return _user(org_alice, "viola", role="viewer")


@pytest.fixture
def carrier_carol(org_carrier):
    return _user(org_carrier, "carol")


def with_totp(user: User, secret: str | None = None) -> User:
    """Give the account a confirmed TOTP device (django-otp); ``user.totp_secret`` is its
    base32 secret, for ``totp_code`` in tests."""
    from portal.accounts import totp

    secret = secret or totp.new_secret()
    accounts.totp_provision(actor=SYSTEM, user=user, secret=secret)
    user.totp_secret = secret
    return user


def totp_code(user: User) -> str:
    """The code the account's authenticator shows now."""
    from portal.accounts import totp

    return totp.device_code(accounts.totp_device(user))


@pytest.fixture
def regulator_rita(org_regulator):
    return with_totp(_user(org_regulator, "rita"))


@pytest.fixture
def financial_fiona(org_financial):
    return _user(org_financial, "fiona", role="viewer")


@pytest.fixture
def client_for(client):
    """``client_for(user)``: a test client logged in as that user (2FA already passed:
    the session holds the account's TOTP device, as django-otp's login leaves it)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    def make(user):
        client.force_login(user)
        device = accounts.totp_device(user)
        if device is not None:
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        return client

    return make


def pytest_collection_modifyitems(items):
    """Browser (live-server) tests run last: their transactional teardown empties every
    table, and the tests in a transaction that would follow expect the calendar loaded."""
    items.sort(key=lambda item: "live_server" in getattr(item, "fixturenames", ()))
