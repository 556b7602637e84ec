"""The audit trail (the communications administration reads it)."""

from __future__ import annotations

import datetime as dt
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from ..models import (
    AuditEvent,
    OrgKind,
)
from . import paginate, require_kind


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR)
    qs = AuditEvent.objects.visible_to(request.user).select_related("organisation")
    filters = {
        key: request.GET.get(key, "").strip()
        for key in ("action", "actor", "org", "since", "until")
    }
    if filters["action"]:
        qs = qs.filter(action__startswith=filters["action"])
    if filters["actor"]:
        qs = qs.filter(actor_label__icontains=filters["actor"])
    if filters["org"]:
        qs = qs.filter(organisation__name__icontains=filters["org"])
    for key, lookup in (("since", "created_at__date__gte"), ("until", "created_at__date__lte")):
        if filters[key]:
            try:
                qs = qs.filter(**{lookup: dt.date.fromisoformat(filters[key])})
            except ValueError:
                messages.error(request, f"日期“{filters[key]}”格式应为 2026-03-01")
    actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    return render(
        request,
        "portal/audit/list.html",
        {"page": paginate(request, qs, 50), "filters": filters, "actions": sorted(set(actions))},
    )


@require_safe
@login_required
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One event as recorded: its summary in Chinese and as the raw JSON the hash covers."""
    require_kind(request, OrgKind.REGULATOR)
    event = get_object_or_404(
        AuditEvent.objects.visible_to(request.user).select_related("organisation"), pk=pk
    )
    raw = json.dumps(event.summary, ensure_ascii=False, indent=2, sort_keys=True)
    return render(request, "portal/audit/detail.html", {"event": event, "raw": raw})
