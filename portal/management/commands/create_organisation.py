"""python manage.py create_organisation --kind KIND --name NAME --credit-code CODE
[--licence CATEGORY] [--province NAME] [--network NAME] [--trade-name NAME ...]

Bootstrap an organisation from the shell (the first regulator, then anything the
organisations page would create). Prints one JSON line ``{"id", "created"}``; the same
credit code again changes nothing (``created`` false). A carrier names its network
(``--network 中国移动``, 联通, cmcc…) or, as an SMS service provider, the name it trades
under (``--network 某某短信服务公司``, or ``--network 短信服务商 --trade-name …``).
Bad input: one Chinese line on stderr, exit 1. Audited as 系统.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from portal.accounts.services import organisation_create, organisation_set_scope
from portal.audit import SYSTEM
from portal.cli import JsonLineCommand, enum_argument
from portal.creditcode import CreditCodeError
from portal.errors import PortalError, choices_text, joined
from portal.models import LicenceCategory, Organisation, OrgKind


class Command(JsonLineCommand):
    help = "创建单位（按统一社会信用代码幂等），输出一行 JSON"

    def add_arguments(self, parser):
        parser.add_argument(
            "--kind",
            required=True,
            type=enum_argument(OrgKind),
            help="单位类型（代码或中文）：" + choices_text(OrgKind),
        )
        parser.add_argument("--name", required=True, help="单位名称")
        parser.add_argument("--credit-code", required=True, help="统一社会信用代码（18 位）")
        parser.add_argument(
            "--licence",
            default="",
            type=enum_argument(LicenceCategory),
            help="许可类别（代码或中文），金融机构必填：" + choices_text(LicenceCategory),
        )
        parser.add_argument("--province", default="", help="所在省份")
        parser.add_argument(
            "--network",
            default="",
            help="电信运营商的所属网络：中国移动、中国联通、中国电信、中国广电；"
            "短信服务商写其经营名称（或写“短信服务商”并用 --trade-name 列出名称）",
        )
        parser.add_argument(
            "--trade-name",
            action="append",
            default=[],
            help="短信服务商对外使用的名称（可重复）",
        )

        parser.add_argument(
            "--supervises",
            action="append",
            default=[],
            type=enum_argument(LicenceCategory),
            help="金融管理部门监管的许可类别（可重复）：" + choices_text(LicenceCategory),
        )
        parser.add_argument(
            "--supervises-institution",
            action="append",
            default=[],
            metavar="CREDIT_CODE",
            help="金融管理部门逐一指定监管的金融机构（统一社会信用代码，可重复）",
        )

    def handle(self, *args, **options):
        try:
            org, created = organisation_create(
                actor=SYSTEM,
                kind=options["kind"],
                name=options["name"],
                credit_code=options["credit_code"],
                licence_category=options["licence"],
                province=options["province"],
                network=options["network"],
                trade_names="\n".join(options["trade_name"]),
            )
        except (PortalError, CreditCodeError) as exc:
            self.fail(exc.message)
        except ValidationError as exc:
            self.fail(joined(exc.messages))
        if options["supervises"] or options["supervises_institution"]:
            self._scope(org, options)
        if not created and org.name != options["name"].strip():
            # Idempotent by credit code: an existing organisation is never renamed here.
            self.stderr.write(
                f"提示：统一社会信用代码 {org.credit_code} 已登记为“{org.name}”，名称未改动"
                "（如需改名，请在“单位管理”页面修改）"
            )
        self.emit({"id": org.pk, "created": created})

    def _scope(self, org, options) -> None:
        codes = options["supervises_institution"]
        found = dict(
            Organisation.objects.filter(
                credit_code__in=codes, kind=OrgKind.INSTITUTION
            ).values_list("credit_code", "pk")
        )
        missing = [c for c in codes if c not in found]
        if missing:
            self.fail(f"没有统一社会信用代码为 {missing[0]} 的金融机构")
        try:
            organisation_set_scope(
                actor=SYSTEM,
                organisation=org,
                categories=options["supervises"],
                institutions=list(found.values()),
            )
        except PortalError as exc:
            self.fail(exc.message)
