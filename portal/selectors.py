"""Read queries on organisations that several callers need (commands, services)."""

from __future__ import annotations

from .creditcode import CreditCodeError, validate_credit_code
from .errors import PortalError
from .models import Organisation


def organisation_by_credit_code(raw: str, *, role: str = "") -> Organisation:
    """The organisation with this 统一社会信用代码, or a PortalError in Chinese that names
    ``role`` (e.g. 所属单位, 委托机构) so the user can tell which code of a command was wrong."""
    try:
        code = validate_credit_code(raw)
    except CreditCodeError as exc:
        raise PortalError(f"{role}{exc.message}", code="credit_code") from exc
    organisation = Organisation.objects.filter(credit_code=code).first()
    if organisation is None:
        raise PortalError(f"未找到统一社会信用代码为 {code} 的单位", code="not_found")
    return organisation
