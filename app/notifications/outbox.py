"""Writing to the notification outbox: escalation steps and deadline reminders both add rows
here; the ticker's deliver_due sends them."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from app.auth.models import User
from app.core.db import db
from app.incidents.models import Incident
from app.notifications.models import Channel, Notification, NotificationStatus

ALL_CHANNELS = frozenset(c.value for c in Channel)


def outbox_row(incident: Incident, person: User, role: str, channel: str, event: str, now: dt.datetime,
               escalation_id: int | None, cycle: int, step: int, level: int, deadline_id: int | None = None,
               detail: str | None = None) -> dict:
    """One outbox row. An in-app message is delivered by being written, so it is born `sent`."""
    in_app = channel == Channel.IN_APP.value
    return {"event_id": str(uuid.uuid4()), "incident_id": incident.id, "escalation_id": escalation_id,
            "deadline_id": deadline_id, "cycle": cycle, "step": step, "level": level, "event": event,
            "recipient_id": person.id, "recipient": person.email, "role": role, "channel": channel, "detail": detail,
            "status": NotificationStatus.SENT.value if in_app else NotificationStatus.PENDING.value,
            "attempts": 1 if in_app else 0, "sent_at": now if in_app else None,
            "next_attempt_at": None if in_app else now, "created_at": now}


def channels_for(person: User, allowed: frozenset[str] = ALL_CHANNELS) -> list[str]:
    chosen = []
    if Channel.EMAIL.value in allowed and current_app.config.get("SMTP_HOST"):
        chosen.append(Channel.EMAIL.value)
    if Channel.WEBHOOK.value in allowed and person.webhook:
        chosen.append(Channel.WEBHOOK.value)
    if Channel.IN_APP.value in allowed:
        chosen.append(Channel.IN_APP.value)
    return chosen


def insert_once(rows: list[dict]) -> None:
    """The unique constraint (incident, event, cycle, step, recipient, channel) makes a repeat a no-op."""
    if not rows:
        return
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # on the Table, not the mapped class: the ORM bulk path has no cache key for ON CONFLICT and would run row by row
    db.session.execute(insert(Notification.__table__).on_conflict_do_nothing(), rows)
