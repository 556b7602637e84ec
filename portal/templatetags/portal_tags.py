from django import template

from portal import auditlabels
from portal.audit import action_label as _action_label

register = template.Library()


@register.filter
def get_item(mapping, key):
    if not mapping:
        return None
    return mapping.get(key)


@register.filter
def action_label(action: str) -> str:
    return _action_label(action)


@register.filter
def audit_lines(event) -> list[str]:
    """The event's summary as Chinese lines (auditlabels.describe); [] when empty."""
    return auditlabels.describe(event.action, event.summary)
