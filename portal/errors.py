"""Typed errors a user can cause: a stable code and a Chinese message."""

from __future__ import annotations


class PortalError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class NotPermitted(PortalError):
    code = "forbidden"
    status = 403


class Conflict(PortalError):
    code = "conflict"
    status = 409
