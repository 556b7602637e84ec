"""The public side's tests: rate limits counted from zero, checks written at once."""

from __future__ import annotations

import contextlib

import pytest
from django.core.cache import caches


@pytest.fixture
def public(settings, db):
    """The rate-limit cache empty (the database cache: its rows outlive a test's
    transaction only in transactional tests, but the windows of one run are shared), the
    check counts flushed on every request."""
    from oversight.public import counting

    settings.PUBLIC_CHECK_FLUSH_SECONDS = 0
    counting._pending.clear()
    caches["ratelimit"].clear()
    yield
    counting._pending.clear()
    with contextlib.suppress(Exception):  # a test may point the cache at nowhere
        caches["ratelimit"].clear()
