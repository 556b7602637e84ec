"""gunicorn settings for production: ``gunicorn -c python:portal.gunicorn portal.wsgi``.

Every knob comes from the environment (``GUNICORN_BIND``, ``GUNICORN_WORKERS``, ...), and
gunicorn's own access and error lines go to stdout as JSON, like the portal's.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# A 50 MB upload over a slow provincial link takes a while; imports themselves run in Celery.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# A worker is recycled after this many requests (a guard against slow leaks), one at a
# time thanks to the jitter. Not sooner: while a worker is replaced its share of requests
# waits, and at the public check's rate (bench/public_check.py, ~1,000 requests/s over 5
# workers) a recycle every 2,000 requests raised the check's p99 from 14 ms to 300 ms.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10
# The application is loaded once, in the master, and each worker is a fork of it: a worker
# recycled after ``max_requests`` starts in milliseconds instead of importing Django and
# every app again (about a second of CPU each). Under load that import was what the
# workers spent their time on: 28 restarts in 36 s of bench/public_check.py. A code change
# then needs a full restart of gunicorn (not HUP). GUNICORN_PRELOAD=0 loads per worker.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1").strip().lower() not in ("0", "false", "no")
# The reverse proxy's address, so X-Forwarded-Proto/For are believed from it only.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# The path without its query string: a searched or checked phone number stays out of the
# logs (personal data is never logged in full, 000 §二(一)5).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "portal.logs.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}


def pre_fork(server, worker):
    """No connection opened in the master (none should be, at import) is shared with a
    worker: a database or cache socket used by two processes mixes their replies."""
    if not server.cfg.preload_app:
        return  # Django is not loaded in the master
    from django.db import connections

    connections.close_all()
