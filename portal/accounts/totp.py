"""TOTP (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits), enough for any authenticator app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote

STEP = 30
DIGITS = 6


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _code(secret: str, counter: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def current_code(secret: str, at: float | None = None) -> str:
    return _code(secret, int((time.time() if at is None else at) // STEP))


def verify(secret: str, code: str, *, last_step: int = 0, at: float | None = None) -> int | None:
    """The matched time step (±1 step of drift), or None. A step at or before
    ``last_step`` is refused so a code cannot be replayed."""
    code = "".join(ch for ch in str(code) if ch.isdigit())
    if not secret or len(code) != DIGITS:
        return None
    now_step = int((time.time() if at is None else at) // STEP)
    for step in (now_step - 1, now_step, now_step + 1):
        if step > last_step and hmac.compare_digest(_code(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    label = quote(f"{issuer}:{account}")
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}&digits={DIGITS}&period={STEP}"
