"""python manage.py create_user --organisation CODE --username U --role ROLE [--password-stdin]

Bootstrap an account (typically an organisation's first 管理员). Prints one JSON line
``{"id", "created", "username", "one_time_password"}``. Without ``--password-stdin`` a
one-time password is generated and printed once; with it, the first line of stdin is the
password, checked against the password policy. Either way the password is temporary: the
user must change it at first login. The same username in the same organisation with the
same role again changes nothing (``created`` false, password untouched, no password
printed). Bad input: one Chinese line on stderr, exit 1. Audited as 系统.
"""

from __future__ import annotations

import sys

from django.core.exceptions import ValidationError

from portal.accounts.services import user_create
from portal.audit import SYSTEM
from portal.cli import JsonLineCommand, enum_argument
from portal.creditcode import CreditCodeError
from portal.errors import PortalError, choices_text, joined
from portal.models import Role
from portal.selectors import organisation_by_credit_code


class Command(JsonLineCommand):
    help = (
        "在单位中创建用户，输出一行 JSON；不给密码时生成一次性密码。"
        "无论哪种，用户首次登录都须修改密码"
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("--organisation", required=True, help="所属单位的统一社会信用代码")
        parser.add_argument("--username", required=True, help="用户名")
        parser.add_argument(
            "--role",
            required=True,
            type=enum_argument(Role),
            help="角色（代码或中文）：" + choices_text(Role),
        )
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="从标准输入第一行读取密码（须符合密码规则）；它同样是临时密码，用户首次登录须修改",
        )

    def handle(self, *args, **options):
        try:
            organisation = organisation_by_credit_code(options["organisation"], role="所属单位")
            password = None
            if options["password_stdin"]:
                password = options.get("stdin", sys.stdin).readline().rstrip("\r\n")
                if not password:
                    raise PortalError("未从标准输入读到密码")
            user, one_time, created = user_create(
                actor=SYSTEM,
                organisation=organisation,
                username=options["username"],
                role=options["role"],
                password=password,
            )
        except (PortalError, CreditCodeError) as exc:
            self.fail(exc.message)
        except ValidationError as exc:
            self.fail(joined(exc.messages))
        except OSError as exc:
            self.fail(f"无法读取标准输入：{exc}")
        payload = {
            "id": user.pk,
            "created": created,
            "username": user.username,
            "one_time_password": one_time,
        }
        self.emit(payload)
