"""The Django admin, behind the portal's login (lockout, second factor, audit)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.admin import OTPAdminSite


class PortalAdminSite(OTPAdminSite):
    """Staff who passed a TOTP device in this session (``OTPAdminSite.has_permission``
    checks ``request.user.is_verified()``); the admin has no login form of its own.

    ``/admin/login/`` sends a browser to the portal's login with ``next`` set, and a POST
    to it is the portal's login itself, so a password tried there counts toward the same
    lockout and writes the same audit events as one tried at ``/accounts/login/``.
    """

    def __init__(self, name: str = "admin"):
        super().__init__(name)

    def login(self, request, extra_context=None):
        from .accounts.views import login_view

        if request.method == "POST":
            return login_view(request, default_next=reverse("admin:index", current_app=self.name))
        target = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
            target = reverse("admin:index", current_app=self.name)
        return redirect(f"{reverse('login')}?{urlencode({'next': target})}")
