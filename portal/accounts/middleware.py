"""No session of an account that needs a second factor is in without one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect


class SecondFactorRequiredMiddleware:
    """An authenticated session whose user ``requires_totp`` but is not
    ``is_verified()`` (django-otp: no TOTP device passed in this session) is ended.

    The login never makes one (accounts.views logs a user in only after the code), so this
    is the net under it: a session from before the second factor was required (a regulator
    account created since, a superuser promoted, a session older than django-otp here), or
    any future path that calls ``login()`` early. Such a session reaches nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.requires_totp and not user.is_verified():
            logout(request)
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"code": "second_factor_required", "detail": "请先登录网页并输入动态验证码"},
                    status=401,
                )
            messages.warning(request, "请重新登录并输入动态验证码")
            return redirect("login")
        return self.get_response(request)
