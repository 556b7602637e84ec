"""The left menu per role, built from the portal's own entries and those apps register."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from .dashboard import MENU
from .models import OrgKind, Role

ALL = tuple(OrgKind.values)
REG = (OrgKind.REGULATOR,)

PORTAL_MENU = [
    (ALL, 0, "首页", "home", "house"),
    (
        (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR),
        80,
        "单位管理",
        "organisation_list",
        "building",
    ),
    (REG, 90, "工作日历", "calendar_index", "calendar3"),
    (REG, 95, "审计日志", "audit_list", "journal-text"),
]


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.organisation_id is None:
        return {}
    kind = user.organisation.kind
    entries = list(PORTAL_MENU) + list(MENU)
    if user.role == Role.ADMIN:
        entries.append((ALL, 85, "用户管理", "user_list", "people"))
        entries.append((ALL, 86, "API 令牌", "token_list", "key"))
    items = []
    for kinds, _order, label, url_name, icon in sorted(entries, key=lambda e: e[1]):
        if kind not in kinds:
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": label, "url": url, "icon": icon, "active": active})
    from .notices import unread_count

    return {"menu_items": items, "unread_notices": unread_count(user)}
