from sqlalchemy import select

from app.core.db import db
from app.core.timeutil import iso_utc
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
