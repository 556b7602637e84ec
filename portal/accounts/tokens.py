"""API tokens: issue, revoke, and revoke every token of a user (issue 16 item 6).

A key is 32 random bytes (``ptk_`` + URL-safe base64); only its SHA-256 is stored, so the
database (and every backup of it) holds nothing a caller could present. A plain hash is
enough for a random 256-bit key: there is nothing to guess, so no slow hash is needed.
Tokens are issued by the organisation's 管理员 for its own users, from a fully
authenticated session, and expire after ``API_TOKEN_DAYS`` (default 90).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import audit
from ..errors import NotPermitted, PortalError
from ..models import ApiToken, Role, TokenRevokeReason, User

KEY_PREFIX = "ptk_"
SHOWN_CHARS = 12  # "ptk_" and 8 characters: enough to tell a user's tokens apart


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def session_is_fully_authenticated(request) -> bool:
    """The session passed every factor its user has. Today the login completes only after
    the second factor, so a logged-in session passed it. With django-otp the user object
    also says so (``is_verified()``); it is False as well for a user who has no second
    factor at all (an institution's admin without TOTP), whose password is then all there
    is to pass."""
    user = request.user
    if not user.is_authenticated:
        return False
    is_verified = getattr(user, "is_verified", None)
    if is_verified is None:
        return True
    if is_verified() if callable(is_verified) else is_verified:
        return True
    return not _has_second_factor(user)


def _has_second_factor(user) -> bool:
    if getattr(user, "requires_totp", False):  # regulators always; others once enrolled
        return True
    if apps.is_installed("django_otp"):
        from django_otp import user_has_device

        return user_has_device(user)
    return False


def _require_admin_of(actor, user: User) -> None:
    if not (
        not audit.is_system(actor)
        and actor.is_authenticated
        and actor.role == Role.ADMIN
        and actor.organisation_id is not None
        and actor.organisation_id == user.organisation_id
    ):
        raise NotPermitted("只有本单位管理员可以签发或撤销本单位用户的 API 令牌")


def api_token_issue(*, actor: User, user: User, name: str) -> tuple[ApiToken, str]:
    """Issue a token for ``user``; returns ``(token, key)``. The key is not stored and
    cannot be shown again. Only the 管理员 of the user's own organisation may issue it."""
    _require_admin_of(actor, user)
    name = (name or "").strip()
    if not name:
        raise PortalError("请填写令牌用途（如“核心系统对接”）", code="name", field="name")
    if len(name) > 100:
        raise PortalError("令牌用途不能超过 100 个字", code="name", field="name")
    with transaction.atomic():
        holder = User.objects.select_for_update().get(pk=user.pk)
        if not holder.is_active:
            raise PortalError(
                f"用户“{holder.username}”已停用，不能签发令牌", code="user_inactive", field="user"
            )
        key = new_key()
        now = timezone.now()
        token = ApiToken.objects.create(
            user=holder,
            name=name,
            prefix=key[:SHOWN_CHARS],
            key_hash=hash_key(key),
            created_at=now,
            created_by=actor,
            expires_at=now + dt.timedelta(days=settings.API_TOKEN_DAYS),
        )
        audit.record(
            "token.issue",
            actor=actor,
            organisation=holder.organisation,
            obj=token,
            summary={
                "after": {
                    "user": holder.username,
                    "name": name,
                    "prefix": token.prefix,
                    "expires_at": token.expires_at.isoformat(),
                }
            },
        )
    return token, key


def api_token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    """Revoke one token (the 管理员 of its user's organisation). Revoking a revoked token
    changes nothing and writes no event."""
    _require_admin_of(actor, token.user)
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.revoked_reason = TokenRevokeReason.MANUAL
        token.save(update_fields=["revoked_at", "revoked_reason"])
        audit.record(
            "token.revoke",
            actor=actor,
            organisation=token.user.organisation,
            obj=token,
            summary={
                "user": token.user.username,
                "prefix": token.prefix,
                "reason": TokenRevokeReason.MANUAL,
            },
        )
    return token


def api_tokens_revoke_all(*, actor: User | None, user: User, reason: str) -> int:
    """Revoke every token of ``user`` still in force: the password changed or was reset,
    or the account was deactivated. Runs inside the caller's transaction (the account
    services call it); one audit event names the tokens. Returns how many."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("api_tokens_revoke_all must run inside the caller's transaction")
    now = timezone.now()
    tokens = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
    prefixes = list(tokens.values_list("prefix", flat=True))
    if not prefixes:
        return 0
    tokens.update(revoked_at=now, revoked_reason=reason)
    audit.record(
        "token.revoke",
        actor=actor,
        organisation=user.organisation,
        obj=user,
        summary={"user": user.username, "prefixes": prefixes, "reason": reason},
    )
    return len(prefixes)
