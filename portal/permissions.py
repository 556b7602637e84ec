"""API permissions (kept apart from api.py: DRF imports this while loading its settings)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from .errors import NotPermitted


class PasswordChanged(BasePermission):
    """Authenticated and not still on a one-time password. Token users need this check
    too: the session middleware that forces the password change never sees them."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.must_change_password:
            raise NotPermitted("请先登录网页修改初始密码", code="password_change_required")
        return True
