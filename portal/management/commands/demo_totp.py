"""python manage.py demo_totp rita: a demo account's current TOTP code (DEBUG or EMBEDDED only)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.accounts import totp
from portal.accounts.services import totp_device
from portal.models import User


class Command(BaseCommand):
    help = "显示演示账号当前的动态验证码（仅演示环境）"

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", default="rita")

    def handle(self, *args, **options):
        if not settings.DEMO:
            raise CommandError("仅在演示环境（make run：EMBEDDED=1，或 DEBUG=1）可用")
        user = User.objects.filter(username=options["username"]).first()
        device = totp_device(user) if user is not None else None
        if device is None:
            raise CommandError(f"用户 {options['username']} 未启用双因素认证")
        self.stdout.write(totp.device_code(device))
