"""python manage.py load_demo: demo organisations and logins (idempotent).

Lives in the top app so it may seed every layer. Never run it on a production database:
it refuses unless DEBUG or EMBEDDED (make run) is on, or --force is given.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from filings import demo as filing_demo
from portal.accounts import services as accounts
from portal.audit import SYSTEM
from portal.models import LICENCE_AUTHORITY, LicensingAuthority
from registry import demo as registry_demo

from ... import demo as oversight_demo

DEMO_PASSWORD = "Demo-Portal-2026!"  # noqa: S105 - printed by make run, demo only
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105

ORGANISATIONS = [
    ("regulator", "浙江省通信管理局（演示）", "11330000MB1REG0008", ""),
    ("financial_regulator", "国家金融监督管理总局浙江监管局（演示）", "11330000MB1F1N0005", ""),
    ("institution", "甲银行股份有限公司（演示）", "91330000MA2A1CE00B", "bank"),
    ("institution", "乙消费金融有限公司（演示）", "91330000MA2B0B000F", "consumer_finance"),
    ("carrier", "中国移动通信集团浙江有限公司（演示）", "91330000MA2CAR0L09", ""),
]
USERS = [
    ("rita", "11330000MB1REG0008", "admin", "通信管理局 管理员（须动态验证码）"),
    ("fiona", "11330000MB1F1N0005", "viewer", "金融管理部门 查看"),
    ("alice", "91330000MA2A1CE00B", "admin", "金融机构甲 管理员"),
    ("bob", "91330000MA2B0B000F", "admin", "金融机构乙 管理员"),
    ("carol", "91330000MA2CAR0L09", "admin", "电信运营商 管理员"),
]


class Command(BaseCommand):
    help = "加载演示单位和账号（可重复运行）"

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true")
        parser.add_argument("--json", action="store_true", help="输出 JSON 而非说明文字")

    def handle(self, *args, **options):
        if not settings.DEMO and not options["force"]:
            raise CommandError("演示数据只用于演示环境（make run 或 DEBUG=1）；生产库请勿加载")
        orgs = {}
        with transaction.atomic():
            for kind, name, code, licence in ORGANISATIONS:
                orgs[code], _ = accounts.organisation_create(
                    actor=SYSTEM,
                    kind=kind,
                    name=name,
                    credit_code=code,
                    licence_category=licence,
                    province="浙江省",
                )
            # The demo financial regulator (an NFRA office) supervises the NFRA categories.
            accounts.organisation_set_scope(
                actor=SYSTEM,
                organisation=orgs["11330000MB1F1N0005"],
                categories=[
                    c for c, a in LICENCE_AUTHORITY.items() if a == LicensingAuthority.NFRA
                ],
            )
            for username, code, role, _ in USERS:
                user, _, _ = accounts.user_create(
                    actor=SYSTEM,
                    organisation=orgs[code],
                    username=username,
                    role=role,
                    email=f"{username}@example.invalid",
                    full_name=username.capitalize(),
                    password=DEMO_PASSWORD,
                    demo=True,
                )
                if username == "rita" and not user.totp_enabled:
                    accounts.totp_provision(actor=SYSTEM, user=user, secret=DEMO_TOTP_SECRET)
            registry_demo.load(orgs)
            oversight_demo.load()
            filing_demo.load(orgs)
            registry_demo.load_reports(orgs)
        # After the demo data is committed: the run reads it, and commits on its own.
        oversight_demo.reconcile()
        oversight_demo.casework()
        oversight_demo.exchange()
        if options["json"]:
            self.stdout.write(json.dumps({"users": [u[0] for u in USERS]}, ensure_ascii=False))
            return
        self.stdout.write(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
        for username, _, _, label in USERS:
            self.stdout.write(f"  {username:<6} {label}")
        self.stdout.write(
            f"  rita 的动态口令密钥：{DEMO_TOTP_SECRET}（可添加到验证器 App；"
            "或运行 make totp 查看当前验证码）"
        )
