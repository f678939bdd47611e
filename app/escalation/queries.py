from sqlalchemy import select

from app.core.db import db
from app.escalation.models import Notification
from app.incidents.models import Incident


def notifications_of(incident: Incident) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.incident_id == incident.id)
                                   .order_by(Notification.id)))
