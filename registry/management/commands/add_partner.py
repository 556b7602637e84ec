"""python manage.py add_partner --institution CODE --name NAME --credit-code CODE
--kind 营销|催收|营销及催收 --valid-from YYYY-MM-DD [--valid-to YYYY-MM-DD]
[--document-number N]

Register an institution's entrusted partner (委托合作单位) from the shell, through the same
service as the partners page. Prints one JSON line ``{"id", "created"}``; the same
arguments again change nothing (no second audit event). The same credit code with other
values updates the partner, as the page does. Bad input: one Chinese line on stderr,
exit 1. Audited as 系统.
"""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ObjectDoesNotExist, ValidationError

from portal.audit import SYSTEM
from portal.cli import JsonLineCommand, enum_argument
from portal.creditcode import CreditCodeError
from portal.errors import PortalError, choices_text, joined
from portal.models import Organisation, OrgKind
from portal.selectors import organisation_by_credit_code
from registry import services
from registry.models import Purpose


def _date(value: str | None, label: str) -> dt.date | None:
    if value is None:
        return None
    text = value.strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PortalError(f"{label}“{value}”格式应为 YYYY-MM-DD，例如 2026-01-01") from None


def _institution(raw: str) -> Organisation:
    institution = organisation_by_credit_code(raw, role="委托机构")
    if institution.kind != OrgKind.INSTITUTION:
        raise PortalError(
            f"{institution.name}（{institution.get_kind_display()}）不是金融机构，不能登记合作单位"
        )
    return institution


class Command(JsonLineCommand):
    help = "为金融机构登记委托合作单位（同一信用代码、同样内容再次运行不做改动），输出一行 JSON"

    def add_arguments(self, parser):
        parser.add_argument("--institution", required=True, help="委托机构的统一社会信用代码")
        parser.add_argument("--name", required=True, help="合作单位名称")
        parser.add_argument("--credit-code", required=True, help="合作单位统一社会信用代码")
        parser.add_argument(
            "--kind",
            required=True,
            type=enum_argument(Purpose),
            help="委托类型（代码或中文）：" + choices_text(Purpose),
        )
        parser.add_argument("--valid-from", required=True, help="委托起始日期 YYYY-MM-DD")
        parser.add_argument("--valid-to", help="委托截止日期 YYYY-MM-DD（不填为长期）")
        parser.add_argument("--document-number", default="", help="委托书编号")

    def handle(self, *args, **options):
        try:
            institution = _institution(options["institution"])
            partner, created = services.partner_save(
                actor=SYSTEM,
                institution=institution,
                name=options["name"],
                credit_code=options["credit_code"],
                kind=options["kind"],
                valid_from=_date(options["valid_from"], "委托起始日期"),
                valid_to=_date(options["valid_to"], "委托截止日期"),
                document_number=options["document_number"],
            )
        except (PortalError, CreditCodeError) as exc:
            self.fail(exc.message)
        except ValidationError as exc:
            self.fail(joined(exc.messages))
        except (ObjectDoesNotExist, OSError) as exc:
            self.fail(f"登记合作单位失败：{exc}")
        self.emit({"id": partner.pk, "created": created})
