"""Acknowledgement and the notifications outbox of an incident."""
from flask import jsonify

from app.api import bp
from app.api.errors import api_user
from app.api.incident_json import incident_json
from app.core.timeutil import iso_utc
from app.escalation.queries import notifications_of
from app.escalation.services import acknowledge
from app.incidents.access import get_incident
from app.notifications.models import Notification


@bp.post("/incidents/<int:incident_id>/acknowledge")
def acknowledge_incident(incident_id: int):
    incident = get_incident(api_user(), incident_id)
    acknowledge(api_user(), incident, "API")
    return jsonify(incident_json(incident))


def notification_json(n: Notification) -> dict:
    return {"id": n.id, "event_id": n.event_id, "event": n.event, "cycle": n.cycle, "level": n.level,
            "recipient": n.recipient, "role": n.role, "channel": n.channel, "status": n.status,
            "attempts": n.attempts, "last_error": n.last_error, "sent_at": iso_utc(n.sent_at),
            "next_attempt_at": iso_utc(n.next_attempt_at), "created_at": iso_utc(n.created_at)}


@bp.get("/incidents/<int:incident_id>/notifications")
def list_notifications(incident_id: int):
    items = [notification_json(n) for n in notifications_of(get_incident(api_user(), incident_id))]
    return jsonify({"items": items, "total": len(items)})
