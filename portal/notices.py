"""The portal's notice centre (issue 11 §3): one call, ``notice_send``, gives a notice to an
organisation's users (or to named users) in the app, with an unread count in the top bar,
and by e-mail through Django's e-mail backend (embedded default: files in ``var/mail/``;
production: SMTP from the environment, portal/settings.py).

Any app may call it (reminders, decisions on reports, later disposal orders and appeals):
the kind is a free code (``report.reminder``, ``report.accepted``...), the title and body are
the Chinese text the user reads, the url where the notice leads. E-mail leaves after the
caller's transaction commits, so a rolled-back decision sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from . import audit
from .models import Notice, Organisation, User

log = logging.getLogger(__name__)


def recipients_of(organisation: Organisation) -> list[User]:
    """The organisation's active portal users (never superuser or staff accounts)."""
    return list(
        organisation.users.filter(is_active=True, is_superuser=False, is_staff=False).order_by("pk")
    )


def notice_send(
    *,
    actor,
    organisation: Organisation | None = None,
    users: Iterable[User] | None = None,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    email: bool = True,
    audit_action: str = "notice.send",
    audit_summary: dict | None = None,
) -> list[Notice]:
    """Notify ``organisation``'s active users, or ``users``: one in-app notice each, and one
    e-mail to every address among them (with the organisation's contact address). Atomic
    and audited (``notice.send``, or the caller's ``audit_action`` with its own summary:
    kind, recipients counted, never listed)."""
    if (organisation is None) == (users is None):
        raise ValueError("notice_send needs an organisation or users, not both")
    people = recipients_of(organisation) if organisation is not None else list(users)
    addresses = sorted({u.email for u in people if u.email})
    if organisation is not None and organisation.contact_email:
        addresses = sorted({*addresses, organisation.contact_email})
    title = title[:200]
    with transaction.atomic():
        now = timezone.now()
        notices = Notice.objects.bulk_create(
            [
                Notice(
                    recipient=user,
                    organisation_id=organisation.pk if organisation else user.organisation_id,
                    kind=kind,
                    title=title,
                    body=body,
                    url=url,
                    created_at=now,
                    emailed=email and bool(user.email),
                )
                for user in people
            ]
        )
        audit.record(
            audit_action,
            actor=actor,
            organisation=organisation,
            object_type="portal.Notice",
            object_repr=title,
            summary=audit_summary
            or {"kind": kind, "recipients": len(people), "emails": len(addresses) if email else 0},
        )
        if email and addresses:
            transaction.on_commit(lambda: _mail(title, body, url, addresses))
    return notices


def _mail(title: str, body: str, url: str, addresses: list[str]) -> None:
    link = f"\n\n{settings.PORTAL_BASE_URL.rstrip('/')}{url}" if url else ""
    try:
        send_mail(
            title, f"{body}{link}\n", settings.DEFAULT_FROM_EMAIL, addresses, fail_silently=False
        )
    except Exception:  # noqa: BLE001 - the in-app notice stands; the failure is logged
        log.exception("notice e-mail %r to %s recipients failed", title, len(addresses))


def unread_count(user) -> int:
    return Notice.objects.visible_to(user).unread().count()


def notice_read(*, actor, notice: Notice) -> Notice:
    """Mark one of the actor's own notices read (a no-op when it is read already). Reading
    a notice is the recipient's own bookkeeping, not a regulatory step: not audited."""
    if notice.recipient_id != actor.pk:
        raise Notice.DoesNotExist
    if notice.read_at is None:
        notice.read_at = timezone.now()
        Notice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=notice.read_at)
    return notice


def notices_read_all(*, actor) -> int:
    return Notice.objects.visible_to(actor).unread().update(read_at=timezone.now())
