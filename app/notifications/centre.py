"""The notification centre: a person's in-app messages, newest first, with the count not yet read.
Only messages about incidents the person may still read are shown (a member who left a body, or a
reporter, sees none of its other incidents through here)."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from app.auth.models import User
from app.core.db import db
from app.core.errors import NotFound
from app.core.timeutil import now_utc
from app.incidents.access import visibility_clause
from app.incidents.models import Incident
from app.notifications import messages
from app.notifications.models import Channel, Notification

PER_PAGE = 30


@dataclass(frozen=True)
class InboxItem:
    notification: Notification
    incident: Incident
    summary: str


def _mine(user: User):
    return (Notification.recipient_id == user.id) & (Notification.channel == Channel.IN_APP.value)


def unread_count(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification)
                             .join(Incident, Incident.id == Notification.incident_id)
                             .where(_mine(user), Notification.read_at.is_(None), visibility_clause(user))) or 0


def inbox(user: User, page: int = 1, unread_only: bool = False) -> tuple[list[InboxItem], int]:
    where = [_mine(user), visibility_clause(user)] + ([Notification.read_at.is_(None)] if unread_only else [])
    total = db.session.scalar(select(func.count()).select_from(Notification)
                              .join(Incident, Incident.id == Notification.incident_id).where(*where)) or 0
    rows = db.session.execute(
        select(Notification, Incident).join(Incident, Incident.id == Notification.incident_id)
        .options(joinedload(Incident.organization)).where(*where)
        .order_by(Notification.id.desc()).limit(PER_PAGE).offset((max(page, 1) - 1) * PER_PAGE)).all()
    found = [n for n, _ in rows]
    incidents = {i.id: i for _, i in rows}
    contexts = messages.prepare_batch(found, incidents)
    return [InboxItem(n, i, messages.kind_of(n).summary(n, i, contexts[id(messages.kind_of(n))]))
            for n, i in rows], total


def open_message(user: User, notification_id: int) -> Incident:
    """Marks one message read and answers its incident (404 for anyone else's message)."""
    row = db.session.execute(
        select(Notification, Incident).join(Incident, Incident.id == Notification.incident_id)
        .where(Notification.id == notification_id, _mine(user), visibility_clause(user))).first() \
        if 0 < notification_id < 2**31 else None
    if row is None:
        raise NotFound(_("通知が見つかりません。"))
    notification, incident = row
    if notification.read_at is None:
        notification.read_at = now_utc()
        db.session.flush()
    return incident


def mark_all_read(user: User) -> int:
    return db.session.execute(update(Notification).where(_mine(user), Notification.read_at.is_(None))
                              .values(read_at=now_utc()).execution_options(synchronize_session=False)).rowcount
