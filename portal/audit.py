"""The audit trail: insert-only, hash-chained events written inside each service's transaction.

Each event stores a MAC of the previous event's hash plus its own content, so editing or
deleting any row (even with direct SQL, past the database triggers) breaks the chain at
that row; ``python manage.py verify_audit`` finds the first broken link.

The MAC is an HMAC-SHA256 keyed with ``AUDIT_HMAC_KEY`` from the environment (never the
database), so whoever can write the database cannot recompute the chain after an edit.
Events an older release wrote carry the unkeyed SHA-256 of the same content (scheme
``sha256``); they verify as before, and the first keyed event MACs their head (its
``prev_hash`` is inside its HMAC), which puts the whole legacy part under the key. Once
keyed, the chain never turns unkeyed again, and its newest event is always keyed.

A chain cannot see its own tail cut off. Signed checkpoints (the count and the newest hash,
HMAC-signed, as a Certificate Transparency log signs its tree heads) are written daily and
at each backup to places outside the audit table: ``AUDIT_CHECKPOINT_FILE`` (one JSON line
each, appended), the log (logger ``portal.audit.checkpoint``) and the backup manifest.
``verify_chain`` checks the trail against them: shorter than a checkpoint, or a
checkpoint's head no longer at its place, is reported.

Key rotation: a new ``AUDIT_HMAC_KEY`` under a new ``AUDIT_HMAC_KEY_ID``, the old one moved
to ``AUDIT_HMAC_OLD_KEYS`` (oldest first), where it only verifies: each event names its key,
and an event under a retired key after one under its successor is reported.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

GENESIS = "0" * 64
SYSTEM_ACTOR = "系统"


class SystemActor:
    """The portal itself as the actor of a write: the bootstrap commands, scheduled tasks,
    the demo data. Services take it explicitly (``actor=SYSTEM``), so a forgotten or empty
    actor is an error, never root (issue 10 §2). Audited as 系统."""

    pk = None
    organisation_id = None
    is_authenticated = False
    is_superuser = False

    def get_username(self) -> str:
        return SYSTEM_ACTOR

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM = SystemActor()


def is_system(actor) -> bool:
    """Whether a service acts as the portal itself; ``None`` is refused, not taken for it."""
    if actor is None:
        raise TypeError("actor 不能为 None：以系统身份执行时请传 portal.audit.SYSTEM")
    return actor is SYSTEM


# Serialises writers of the chain on PostgreSQL (SQLite already has one writer at a time).
_CHAIN_LOCK_KEY = 727_001
LEGACY_SCHEME = "sha256"  # unkeyed, written before issue 16; verified as before
HMAC_SCHEME = "hmac-sha256"
# Domain separation: an event's MAC can never pass for a checkpoint's, or the reverse.
_EVENT_CONTEXT = b"portal.audit.event\x00"
_CHECKPOINT_CONTEXT = b"portal.audit.checkpoint\x00"
CHECKPOINT_VERSION = 1
checkpoint_log = logging.getLogger("portal.audit.checkpoint")

ACTION_LABELS = {
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.locked": "登录被锁定",
    "auth.unlock": "解除登录锁定",
    "auth.password_change": "修改密码",
    "auth.totp_enable": "启用双因素认证",
    "auth.totp_disable": "关闭双因素认证",
    "organisation.create": "创建单位",
    "organisation.update": "修改单位",
    "organisation.scope": "设置监管范围",
    "user.create": "添加用户",
    "user.update": "修改用户",
    "user.reset_password": "重置密码",
    "token.issue": "签发 API 令牌",
    "token.revoke": "撤销 API 令牌",
    "calendar.load_year": "加载工作日历",
    "notice.reminder": "发送截止提醒",
    "notice.send": "发送通知",
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
    "audit.keyed": "审计日志启用密钥签名",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


# The request's client IP, set by middleware, so services need not thread it through.
current_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_ip", default=None)


class UnknownKey(Exception):
    def __init__(self, key_id: str):
        super().__init__(key_id)
        self.key_id = key_id


def _key(key_id: str) -> bytes:
    try:
        return settings.AUDIT_HMAC_KEYS[key_id].encode()
    except KeyError:
        raise UnknownKey(key_id) from None


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
    if event.hash_scheme != LEGACY_SCHEME:  # legacy rows keep their original body
        body["scheme"] = event.hash_scheme
        body["key"] = event.key_id
    return json.dumps(body, ensure_ascii=False, sort_keys=True, default=str).encode()


def compute_hash(event) -> str:
    """The event's hash: HMAC-SHA256 under its key, or the plain SHA-256 of a legacy row.
    Raises ``UnknownKey`` for a key that is not configured."""
    if event.hash_scheme == LEGACY_SCHEME:
        return hashlib.sha256(_canonical(event)).hexdigest()
    if event.hash_scheme != HMAC_SCHEME:
        raise ValueError(f"unknown audit hash scheme {event.hash_scheme!r}")
    return hmac.new(
        _key(event.key_id), _EVENT_CONTEXT + _canonical(event), hashlib.sha256
    ).hexdigest()


def record(
    action: str,
    *,
    actor=SYSTEM,
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
        hash_scheme=HMAC_SCHEME,
        key_id=settings.AUDIT_HMAC_KEY_ID,
    )
    event.hash = compute_hash(event)
    event.save()
    return event


# --- checkpoints ----------------------------------------------------------------------------


def _checkpoint_mac(checkpoint: dict, key: bytes) -> str:
    body = {k: v for k, v in checkpoint.items() if k != "mac"}
    message = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    return hmac.new(key, _CHECKPOINT_CONTEXT + message, hashlib.sha256).hexdigest()


def sign_checkpoint(
    *, count: int, head_id: int | None, head: str, reason: str, now: dt.datetime | None = None
) -> dict:
    """A signed statement "the trail had ``count`` events, the newest ``head``", signed with
    the current key."""
    now = (now or timezone.now()).astimezone(dt.UTC)
    checkpoint = {
        "type": "audit_checkpoint",
        "version": CHECKPOINT_VERSION,
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "reason": reason,
        "count": count,
        "head_id": head_id,
        "head": head,
        "key": settings.AUDIT_HMAC_KEY_ID,
    }
    checkpoint["mac"] = _checkpoint_mac(checkpoint, _key(checkpoint["key"]))
    return checkpoint


def checkpoint_problem(checkpoint: Any) -> str | None:
    """Why a checkpoint cannot be trusted (in Chinese), or None when its signature holds."""
    fields = {
        "type": str,
        "version": int,
        "created_at": str,
        "reason": str,
        "count": int,
        "head": str,
        "key": str,
        "mac": str,
    }
    if not isinstance(checkpoint, dict) or any(
        not isinstance(checkpoint.get(name), kind) for name, kind in fields.items()
    ):
        return "检查点格式不正确"
    if checkpoint["type"] != "audit_checkpoint" or checkpoint["version"] != CHECKPOINT_VERSION:
        return "检查点格式不正确"
    label = checkpoint["created_at"]
    try:
        key = _key(checkpoint["key"])
    except UnknownKey:
        return f"{label} 的检查点所用密钥“{checkpoint['key']}”未配置（AUDIT_HMAC_OLD_KEYS）"
    if not hmac.compare_digest(_checkpoint_mac(checkpoint, key), checkpoint["mac"]):
        return f"{label} 的检查点签名不符（检查点被伪造或改动）"
    if checkpoint["count"] < 0:
        return "检查点格式不正确"
    return None


def chain_head() -> tuple[int, int | None, str]:
    """(count, newest id, newest hash) of the trail, read while no event is being written."""
    from .models import AuditEvent

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        newest = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
        count = AuditEvent.objects.count()
    head_id, head = newest or (None, GENESIS)
    return count, head_id, head


def checkpoint_file() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_FILE)


def publish_checkpoint(checkpoint: dict) -> None:
    """Log the checkpoint (one JSON log line) and append it to the checkpoint file."""
    line = json.dumps(checkpoint, ensure_ascii=False, sort_keys=True)
    checkpoint_log.info("%s", line)
    path = checkpoint_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (line + "\n").encode())  # one write: lines never interleave
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(*, reason: str = "daily") -> dict:
    """Sign a checkpoint of the trail as it is now and publish it (file and log)."""
    count, head_id, head = chain_head()
    checkpoint = sign_checkpoint(count=count, head_id=head_id, head=head, reason=reason)
    publish_checkpoint(checkpoint)
    return checkpoint


class CheckpointUnreadable(Exception):
    pass


def parse_checkpoint(text: str, *, where: str) -> dict:
    """A checkpoint from its JSON; also from a whole JSON log line of logger
    ``portal.audit.checkpoint`` or a whole backup manifest, as they are copied."""
    try:
        value = json.loads(text)
        if isinstance(value, dict) and value.get("logger") == checkpoint_log.name:
            value = json.loads(value["message"])
    except (ValueError, TypeError, KeyError):
        raise CheckpointUnreadable(f"{where}不是有效的 JSON 检查点") from None
    if isinstance(value, dict) and isinstance(value.get("audit_checkpoint"), dict):
        value = value["audit_checkpoint"]
    if not isinstance(value, dict):
        raise CheckpointUnreadable(f"{where}不是有效的 JSON 检查点")
    return value


def read_checkpoints(path: Path | None = None) -> list[dict]:
    """Every checkpoint in the file (oldest first); [] when there is no file. Raises
    ``CheckpointUnreadable`` naming the line that is not one."""
    path = Path(path or checkpoint_file())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointUnreadable(f"检查点文件 {path} 无法读取：{exc}") from exc
    return [
        parse_checkpoint(line, where=f"检查点文件 {path} 第 {number} 行")
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""
    checkpoints: list[dict] = field(default_factory=list)

    @property
    def latest_checkpoint(self) -> dict | None:
        return max(self.checkpoints, key=lambda c: (c["count"], c["created_at"]), default=None)

    def describe(self) -> str:
        """One line: ``OK：…`` or ``BROKEN：…`` (verify_audit and restore print it)."""
        if self.ok:
            text = f"OK：审计日志哈希链完整，共 {self.checked} 条"
            latest = self.latest_checkpoint
            if latest:
                text += (
                    f"；与 {len(self.checkpoints)} 个检查点一致"
                    f"（最新：{latest['created_at']}，{latest['count']} 条）"
                )
            return text
        if self.broken_id is not None:
            return (
                f"BROKEN：第 {self.broken_id} 号审计记录处链条断裂：{self.reason}"
                f"（此前 {self.checked} 条完好）"
            )
        return f"BROKEN：{self.reason}"


def verify_chain(checkpoints: list[dict] | None = None) -> ChainReport:
    """Walk the chain in id order; the first event whose links, content or key disagree is
    named. Then the trail is checked against the checkpoints (by default every one in
    ``AUDIT_CHECKPOINT_FILE``): not shorter than any, and each one's head at its place."""
    from .models import AuditEvent

    if checkpoints is None:
        try:
            checkpoints = read_checkpoints()
        except CheckpointUnreadable as exc:
            return ChainReport(False, 0, reason=str(exc))
    for checkpoint in checkpoints:
        problem = checkpoint_problem(checkpoint)
        if problem:
            return ChainReport(False, 0, reason=problem)
    wanted = {c["count"] for c in checkpoints}
    seen: dict[int, str] = {0: GENESIS}
    key_order = {key_id: n for n, key_id in enumerate(settings.AUDIT_HMAC_KEYS)}

    previous = GENESIS
    checked = 0
    newest_key = -1  # index of the newest key seen so far; -1: no keyed event yet
    rows = AuditEvent.objects.order_by("id").iterator(chunk_size=2000)
    with transaction.atomic():
        for event in rows:
            broken = _event_problem(event, previous, newest_key, key_order)
            if broken:
                return ChainReport(False, checked, event.pk, broken)
            if event.hash_scheme == HMAC_SCHEME:
                newest_key = key_order[event.key_id]
            previous = event.hash
            checked += 1
            if checked in wanted:
                seen[checked] = event.hash
    if checked and newest_key < 0:
        return ChainReport(
            False,
            checked,
            reason="审计日志最新一条记录未加密钥签名（本版本写入的每条记录都有密钥签名：记录被改写）",
        )
    for checkpoint in sorted(checkpoints, key=lambda c: -c["count"]):
        label = checkpoint["created_at"]
        if checkpoint["count"] > checked:
            return ChainReport(
                False,
                checked,
                reason=f"审计日志只有 {checked} 条，少于 {label} 的检查点记录的 "
                f"{checkpoint['count']} 条（记录被删除）",
            )
        if not hmac.compare_digest(seen[checkpoint["count"]], checkpoint["head"]):
            return ChainReport(
                False,
                checked,
                reason=f"{label} 的检查点记录的第 {checkpoint['count']} 条的哈希不在链中"
                "（记录被改写）",
            )
    return ChainReport(True, checked, checkpoints=list(checkpoints))


def _event_problem(event, previous: str, newest_key: int, key_order: dict[str, int]) -> str:
    if event.prev_hash != previous:
        return "前一条记录的哈希不匹配（记录被删除或插入）"
    if event.hash_scheme == LEGACY_SCHEME:
        if newest_key >= 0:
            return "带密钥签名的记录之后出现未加密钥的记录（记录被改写）"
    elif event.hash_scheme == HMAC_SCHEME:
        if event.key_id not in key_order:
            return f"记录所用密钥“{event.key_id}”未配置（AUDIT_HMAC_OLD_KEYS）"
        if key_order[event.key_id] < newest_key:
            return f"记录所用密钥“{event.key_id}”已被更新的密钥取代（记录被伪造）"
    else:
        return f"不认识的哈希算法“{event.hash_scheme}”（记录被改写）"
    if not hmac.compare_digest(compute_hash(event), event.hash):
        return "记录内容与哈希不一致（记录被修改）"
    return ""
