"""The Celery app. Tasks take ids, call a service, and are safe to run twice (acks late).

Workers log through Django's ``LOGGING`` (JSON lines in production), and every line a task
writes carries the request id of the web request that enqueued it, so an upload can be
followed from the page to the worker.
"""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.before_task_publish.connect
def _send_request_id(headers=None, **kwargs) -> None:
    from .logs import request_id

    if headers is not None:
        headers.setdefault("request_id", request_id.get())


@signals.task_prerun.connect
def _receive_request_id(task_id=None, task=None, **kwargs) -> None:
    from .logs import request_id

    sent = task.request.get("request_id") if task is not None else None
    request_id.set(sent if sent and sent != "-" else f"task-{task_id}")
