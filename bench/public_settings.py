"""Settings of bench/public_check.py's gunicorn: the portal's, with the public rate limits
switched off (the bench measures the check, not the limiter; issue 15 §5) and a URL
configuration that adds one trivial view to measure beside it."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.public_urls"
PUBLIC_RATE_LIMIT_ENABLED = False
