"""API permissions (kept apart from api.py: DRF imports this while loading its settings)."""

from __future__ import annotations

from rest_framework.exceptions import NotFound
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


class OrganisationKinds(BasePermission):
    """Only organisations of ``kinds`` have this API; any other gets a 404, as the pages
    give (a carrier has no registry). ``portal.schema`` documents that 404 on every
    operation of the view. A method the resource does not have stays a 405 with ``Allow``:
    DRF checks permissions before it looks for the method."""

    kinds: tuple[str, ...] = ()
    denies_with_404 = True

    def has_permission(self, request, view) -> bool:
        if not hasattr(view, request.method.lower()):
            return True
        if request.user.is_authenticated and request.user.kind not in self.kinds:
            raise NotFound
        return True
