"""What the escalation pages and the incident JSON read of an escalation."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.auth.models import User
from app.core.db import db
from app.core.timeutil import iso_utc
from app.escalation.messages import EVENTS, open_required_titles, withhold_details
from app.escalation.models import Escalation
from app.escalation.services import escalation_summary
from app.incidents.models import Incident
from app.notifications.models import Notification


def notifications_of(incident: Incident) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.incident_id == incident.id)
                                   .order_by(Notification.id)))


def escalation_json(incident: Incident) -> dict | None:
    """The incident's current escalation as its JSON shows it (`escalation`)."""
    summary = escalation_summary(incident)
    if summary is None:
        return None
    return summary | {"next_at": iso_utc(summary["next_at"])}


@dataclass(frozen=True)
class AckBrief:
    """What the page behind an e-mailed acknowledgement link shows: enough to act on at 3 a.m. on
    a phone, and no more than the mail itself may carry."""

    summary: str | None  # None when the mail withholds the description (critical, personal data)
    paged: list[tuple[str, str]]  # (name, role) of everyone this cycle has reached so far
    todo: list[str]  # the first open required tasks of the current stage


def ack_brief(incident: Incident, escalation: Escalation | None) -> AckBrief:
    paged: list[tuple[str, str]] = []
    if escalation is not None:
        rows = db.session.execute(
            select(User.name, Notification.role).join(User, User.id == Notification.recipient_id)
            .where(Notification.escalation_id == escalation.id, Notification.event.in_(EVENTS))
            .group_by(User.name, Notification.role).order_by(func.min(Notification.id)))
        paged = [(name, role or "") for name, role in rows]
    summary = None if withhold_details(incident) else (incident.description or "")[:300]
    return AckBrief(summary, paged, open_required_titles([incident.id])[incident.id])
