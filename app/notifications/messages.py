"""What each kind of message says. The outbox rows are shared; their words are their domain's: the
escalation writes the pages of a chain, the deadlines the reminders. Each domain registers its kinds
in its subscriptions module (connected at start-up), so delivery never imports the domains above it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.mime.text import MIMEText
from typing import Any

from app.incidents.models import Incident
from app.notifications.channels import incident_url
from app.notifications.models import Notification


def _nothing(_rows: list[Notification], _incidents: dict[int, Incident]) -> None:
    return None


def _no_extra(_notification: Notification, _incident: Incident, _context: Any) -> dict:
    return {}


@dataclass(frozen=True)
class MessageKind:
    """`prepare` runs once per delivery batch over that batch's rows of this kind (what the messages
    share: one query, not one per message); its result is the `context` of the other two."""

    email: Callable[[Notification, Incident, Any], MIMEText]
    summary: Callable[[Notification, Incident, Any], str]  # one line in the notification centre
    payload_extra: Callable[[Notification, Incident, Any], dict] = _no_extra
    prepare: Callable[[list[Notification], dict[int, Incident]], Any] = _nothing


KINDS: dict[str, MessageKind] = {}


def register(events: Iterable[str], kind: MessageKind) -> None:
    for event in events:
        KINDS[event] = kind


def kind_of(notification: Notification) -> MessageKind:
    try:
        return KINDS[notification.event]
    except KeyError:
        raise LookupError(f"no message kind registered for the event {notification.event!r}") from None


def payload(notification: Notification, incident: Incident, context: Any) -> dict:
    """The signed JSON of a webhook: the same facts for every kind, plus the kind's own."""
    return kind_of(notification).payload_extra(notification, incident, context) | {
        "event_id": notification.event_id, "event": notification.event, "level": notification.level,
        "recipient": notification.recipient,
        "incident": {"id": incident.id, "reference": incident.reference, "organization": incident.organization.code,
                     "title": incident.title, "severity": incident.severity,
                     "threat_category": incident.threat_category, "stage": incident.stage,
                     "url": incident_url(incident)},
    }


def prepare_batch(rows: list[Notification], incidents: dict[int, Incident]) -> dict[int, Any]:
    """Each kind's context for a batch, keyed by id(kind)."""
    by_kind: dict[int, tuple[MessageKind, list[Notification]]] = {}
    for row in rows:
        kind = kind_of(row)
        by_kind.setdefault(id(kind), (kind, []))[1].append(row)
    return {key: kind.prepare(kind_rows, incidents) for key, (kind, kind_rows) in by_kind.items()}
