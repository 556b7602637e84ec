"""python manage.py demo_token alice bob: API tokens for demo accounts (DEBUG or EMBEDDED only).

Prints one JSON line per user, ``{"username", "key"}``. Each token is issued through
``portal.accounts.tokens.api_token_issue`` by a 管理员 of the user's own organisation (the
user, when an admin), so it is audited like one issued on ``/tokens/``. The API contract
run (``make api-contract``) calls it to act as each role.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.accounts.tokens import api_token_issue
from portal.errors import PortalError
from portal.models import Role, User


class Command(BaseCommand):
    help = "为演示账号签发 API 令牌，每人输出一行 JSON（仅演示环境）"

    def add_arguments(self, parser):
        parser.add_argument("usernames", nargs="+", help="演示账号的用户名")
        parser.add_argument("--name", default="演示：接口契约检查", help="令牌用途")

    def handle(self, *args, **options):
        if not settings.DEMO:
            raise CommandError("仅在演示环境（make run：EMBEDDED=1，或 DEBUG=1）可用")
        for username in options["usernames"]:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None or user.organisation_id is None:
                raise CommandError(f"没有属于某一单位的在用账号 {username}")
            admin = (
                user
                if user.role == Role.ADMIN
                else User.objects.filter(
                    organisation_id=user.organisation_id, role=Role.ADMIN, is_active=True
                )
                .order_by("pk")
                .first()
            )
            if admin is None:
                raise CommandError(
                    f"{username} 所属单位没有管理员，无法签发令牌：先用 create_user 创建一名管理员"
                )
            try:
                with transaction.atomic():
                    _, key = api_token_issue(actor=admin, user=user, name=options["name"])
            except PortalError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(json.dumps({"username": username, "key": key}, ensure_ascii=False))
