"""The audit trail: insert-only, hash-chained events written inside each service's transaction.

Each event stores the SHA-256 of the previous event's hash plus its own content, so editing
or deleting any row (even with direct SQL, past the database triggers) breaks the chain at
that row; ``python manage.py verify_audit`` finds the first broken link.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

GENESIS = "0" * 64
SYSTEM_ACTOR = "系统"
# Serialises writers of the chain on PostgreSQL (SQLite already has one writer at a time).
_CHAIN_LOCK_KEY = 727_001

ACTION_LABELS = {
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.locked": "登录被锁定",
    "auth.password_change": "修改密码",
    "auth.totp_enable": "启用双因素认证",
    "auth.totp_disable": "关闭双因素认证",
    "organisation.create": "创建单位",
    "organisation.update": "修改单位",
    "user.create": "添加用户",
    "user.update": "修改用户",
    "user.reset_password": "重置密码",
    "token.issue": "签发 API 令牌",
    "token.revoke": "撤销 API 令牌",
    "calendar.load_year": "加载工作日历",
    "calendar.set_day": "调整工作日",
    "partner.create": "登记合作单位",
    "partner.update": "修改合作单位",
    "number.create": "登记号码",
    "number.update": "修改号码登记",
    "number.end": "终止号码登记",
    "number.end_expired_partner": "委托到期终止号码",
    "import.upload": "上传号码登记表",
    "import.done": "号码导入完成",
    "import.rejected": "号码导入被拒收",
    "import.failed": "号码导入失败",
    "retention.purge": "清理超过保存期限的文件",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


# The request's client IP, set by middleware, so services need not thread it through.
current_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_ip", default=None)


def _canonical(event) -> bytes:
    body = {
        "created_at": event.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "organisation": event.organisation_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "summary": event.summary,
        "ip": event.ip,
        "prev": event.prev_hash,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, default=str).encode()


def compute_hash(event) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def record(
    action: str,
    *,
    actor=None,
    organisation=None,
    obj: Any = None,
    summary: dict | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    ip: str | None = None,
):
    """Append one event. Must run inside the caller's ``transaction.atomic()``."""
    from .models import AuditEvent

    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the service's transaction")
    if obj is not None:
        object_type = object_type or obj._meta.label
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:255]
    if organisation is None and actor is not None and getattr(actor, "organisation_id", None):
        organisation = actor.organisation
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    event = AuditEvent(
        created_at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=(actor.get_username() if getattr(actor, "pk", None) else SYSTEM_ACTOR),
        organisation=organisation,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        object_repr=object_repr[:255],
        summary=json.loads(json.dumps(summary or {}, ensure_ascii=False, default=str)),
        ip=ip or current_ip.get(),
        prev_hash=last or GENESIS,
    )
    event.hash = compute_hash(event)
    event.save()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


def verify_chain() -> ChainReport:
    """Walk the chain in id order; the first event whose links or content disagree is named."""
    from .models import AuditEvent

    previous = GENESIS
    checked = 0
    rows = AuditEvent.objects.order_by("id").iterator(chunk_size=2000)
    with transaction.atomic():
        for event in rows:
            if event.prev_hash != previous:
                return ChainReport(
                    False, checked, event.pk, "前一条记录的哈希不匹配（记录被删除或插入）"
                )
            if compute_hash(event) != event.hash:
                return ChainReport(False, checked, event.pk, "记录内容与哈希不一致（记录被修改）")
            previous = event.hash
            checked += 1
    return ChainReport(True, checked)
