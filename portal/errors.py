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


def joined(messages) -> str:
    """Several Chinese sentences as one: ``密码太短。`` + ``密码太常见。`` ->
    ``密码太短；密码太常见。`` (not ``。；``)."""
    parts = [str(m).strip().rstrip("。") for m in messages if str(m).strip()]
    return "；".join(parts) + "。" if parts else ""


def choices_text(choices) -> str:
    """An enumeration as messages and help texts list it, code and Chinese label alike:
    ``admin（管理员）、operator（经办人）、viewer（查看）``."""
    return "、".join(f"{value}（{label}）" for value, label in choices.choices)
