"""The incident as the API answers it (API.md, "Incident fields"): its own fields, and what the
domains that react to it keep, its deadlines and its escalation."""
from __future__ import annotations

from app.deadlines.serializers import incident_deadlines_json
from app.escalation.queries import escalation_json
from app.incidents.models import Incident
from app.incidents.serializers import incident_detail
from app.incidents.services import severity_basis


def incident_json(incident: Incident) -> dict:
    return incident_detail(incident, severity_basis(incident)) | incident_deadlines_json(incident) \
        | {"escalation": escalation_json(incident)}
