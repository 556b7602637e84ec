"""How an audit event's summary reads to a person: Chinese field and value labels, before →
after for a change, nothing for an empty summary (issue 10 §7). The raw JSON stays on the
event's own page.

Each app names the fields its services put into summaries, in ``AppConfig.ready()``
(registry/apps.py), so the portal shell never imports a higher app (architecture.md).
Labels are looked up by the action's object ("number" of "number.update") first, then
among the labels every action shares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

COMMON = ""

# object -> field -> label; object -> field -> value -> label
FIELDS: dict[str, dict[str, str]] = {COMMON: {}}
VALUES: dict[str, dict[str, dict[str, str]]] = {COMMON: {}}

EMPTY = "（空）"
MAX_TEXT = 120


def register_labels(
    obj: str = COMMON,
    *,
    fields: Mapping[str, str],
    values: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Name the summary keys of ``obj``'s events (``obj`` = the action's first part, e.g.
    "number"; blank for keys every action may use) and the labels of coded values."""
    FIELDS.setdefault(obj, {}).update(fields)
    for field, labels in (values or {}).items():
        VALUES.setdefault(obj, {}).setdefault(field, {}).update(labels)


def _field_label(obj: str, key: str) -> str:
    return FIELDS.get(obj, {}).get(key) or FIELDS[COMMON].get(key) or key


def _value_text(obj: str, key: str, value: object) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        return "、".join(_value_text(obj, key, v) for v in value) or EMPTY
    if isinstance(value, dict):
        return "；".join(
            f"{_field_label(obj, k)}：{_value_text(obj, k, v)}" for k, v in value.items()
        )
    labels = VALUES.get(obj, {}).get(key) or VALUES[COMMON].get(key) or {}
    text = labels.get(str(value), str(value))
    if isinstance(value, str) and "T" in value and len(value) >= 19:
        try:  # an ISO timestamp (stored in UTC) reads as Beijing time
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                text = moment.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime(
                    "%Y-%m-%d %H:%M:%S"
                )
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def describe(action: str, summary: Mapping | None) -> list[str]:
    """One line per field: "用途：营销 → 催收" for a change, "号码：13800138000" otherwise."""
    if not summary:
        return []
    obj = action.split(".", 1)[0]
    lines: list[str] = []
    before = summary.get("before")
    after = summary.get("after")
    if isinstance(before, Mapping) or isinstance(after, Mapping):
        before = before if isinstance(before, Mapping) else {}
        after = after if isinstance(after, Mapping) else {}
        for key in dict.fromkeys([*after, *before]):
            label = _field_label(obj, key)
            new = _value_text(obj, key, after.get(key))
            if key in before and key in after:
                old = _value_text(obj, key, before[key])
                if old != new:
                    lines.append(f"{label}：{old} → {new}")
            elif key in after:
                lines.append(f"{label}：{new}")
            else:
                lines.append(f"{label}：{_value_text(obj, key, before[key])} → {EMPTY}")
    for key, value in summary.items():
        if key in ("before", "after"):
            continue
        lines.append(f"{_field_label(obj, key)}：{_value_text(obj, key, value)}")
    return lines
