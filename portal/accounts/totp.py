"""TOTP through django-otp: secrets as the authenticator shows them (base32) and as
django-otp stores them (hex), codes, and the otpauth:// URI. RFC 6238 itself is
``django_otp.oath``; nothing here computes an HMAC."""

from __future__ import annotations

import base64
import binascii
import time

from django_otp.oath import TOTP
from django_otp.util import random_hex

STEP = 30
DIGITS = 6


def new_secret() -> str:
    """A fresh 160-bit secret, base32 as an authenticator app takes it."""
    return hex_to_base32(random_hex(20))


def base32_to_hex(secret: str) -> str:
    cleaned = "".join(secret.split()).upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8)).hex()


def hex_to_base32(key: str) -> str:
    return base64.b32encode(binascii.unhexlify(key)).decode().rstrip("=")


def normalise_code(code: str) -> str | None:
    """``"287 082"`` -> ``"287082"``; None unless exactly 6 digits."""
    digits = "".join(ch for ch in str(code) if ch.isdigit())
    return digits if len(digits) == DIGITS else None


def current_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator shows now for a base32 secret (the demo command, tests)."""
    totp = TOTP(binascii.unhexlify(base32_to_hex(secret)), step=STEP, digits=DIGITS)
    totp.time = time.time() if at is None else at
    return str(totp.token()).zfill(DIGITS)


def verify_new(secret: str, code: str) -> int | None:
    """The time step a code for a not-yet-saved secret matches (one step of drift either
    way, as the devices allow), or None. Enrolment checks a code before any device exists."""
    code = normalise_code(code)
    if code is None:
        return None
    totp = TOTP(binascii.unhexlify(base32_to_hex(secret)), step=STEP, digits=DIGITS)
    totp.time = time.time()
    if totp.verify(int(code), tolerance=1):
        return totp.t()
    return None


def device_code(device, at: float | None = None) -> str:
    """The current code of a django-otp ``TOTPDevice``."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if at is None else at
    return str(totp.token()).zfill(device.digits)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator scans (the key URI format django-otp's
    ``TOTPDevice.config_url`` writes), for a secret not yet saved as a device."""
    from urllib.parse import quote, urlencode

    issuer = issuer.replace(":", "")
    label = quote(f"{issuer}:{account}")
    params = urlencode({"secret": secret, "algorithm": "SHA1", "digits": DIGITS, "period": STEP})
    return f"otpauth://totp/{label}?{params}&issuer={quote(issuer)}"
