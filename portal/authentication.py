"""DRF authentication with the portal's API tokens (kept apart from api.py: DRF imports this
while loading its settings). ``Authorization: Token <key>``; issue 16 item 6."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

# last_used_at is written at most once a minute per token: a busy integration costs one
# UPDATE a minute, not one per call.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class TokenRejected(exceptions.AuthenticationFailed):
    """401 with a stable code and a Chinese message (portal.api.exception_handler)."""


class ApiTokenAuthentication(BaseAuthentication):
    keyword = "token"

    def authenticate(self, request):
        from .accounts.tokens import hash_key
        from .models import ApiToken

        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.encode():
            return None
        if len(parts) != 2:
            raise TokenRejected("Authorization 头格式应为“Token <令牌>”", code="token_malformed")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise TokenRejected("令牌无效", code="token_invalid") from None
        token = (
            ApiToken.objects.select_related("user", "user__organisation")
            .filter(key_hash=hash_key(key))
            .first()
        )
        if token is None:
            raise TokenRejected("令牌无效", code="token_invalid")
        now = timezone.now()
        if token.revoked_at is not None:
            raise TokenRejected(
                f"令牌已于 {timezone.localtime(token.revoked_at):%Y-%m-%d %H:%M} 撤销"
                f"（{token.get_revoked_reason_display()}），请联系本单位管理员重新签发",
                code="token_revoked",
            )
        if token.expires_at <= now:
            raise TokenRejected(
                f"令牌已于 {timezone.localtime(token.expires_at):%Y-%m-%d %H:%M} 到期，"
                "请联系本单位管理员重新签发",
                code="token_expired",
            )
        if not token.user.is_active:
            raise TokenRejected("令牌所属用户已停用", code="user_inactive")
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Token realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The token in the OpenAPI document (the docs page's "Authorize" button)."""

    target_class = "portal.authentication.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return {
            **build_bearer_security_scheme_object(
                header_name="Authorization",
                token_prefix="Token",  # noqa: S106 - a scheme name
            ),
            "description": "本单位管理员在“API 令牌”页面签发；填写“Token <令牌>”",
        }
