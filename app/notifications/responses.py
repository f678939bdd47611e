"""The JSON shape of a message of the outbox, as `GET /api/v1/incidents/{id}/notifications` answers it."""
from __future__ import annotations

import datetime as dt

from pydantic import Field

from app.core.responses import Answer
from app.notifications.models import Channel, NotificationStatus


class Notification(Answer):
    """A row of the incident's outbox. API.md gives id, level, recipient, role, channel, status,
    attempts, last_error, sent_at; extensions: event_id (also the webhook's and the e-mail's
    X-Event-Id), event, cycle (a raised severity starts a new cycle), next_attempt_at, created_at;
    status may also be `sending` (claimed). A webhook's last_error is generic (its detail is in the
    server log)."""

    id: int
    event_id: str
    event: str = Field(description="escalation / nobody_reachable / deadline_approaching / deadline_overdue")
    cycle: int
    level: int = Field(description="the escalation level; 0 for a deadline reminder")
    recipient: str = Field(description="e-mail")
    role: str | None
    channel: Channel
    status: NotificationStatus
    attempts: int
    last_error: str | None
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
