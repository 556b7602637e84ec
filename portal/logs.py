"""Logging to stdout: JSON lines in production, with the request id on every line."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def record_request_id(record: logging.LogRecord) -> str:
    """The request id of a log line: the current request's, else the one the record
    carries (Django logs 4xx/5xx after the middleware has returned, with the request
    attached; gunicorn's access line has the response header among its atoms)."""
    current = request_id.get()
    if current != "-":
        return current
    request = getattr(record, "request", None)
    if getattr(request, "request_id", None):
        return request.request_id
    if isinstance(record.args, dict):
        return record.args.get("{x-request-id}o") or "-"
    return "-"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = record_request_id(record)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or record_request_id(record),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)
