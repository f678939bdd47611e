"""The API's JSON shape of an incident (API.md, "Incident fields")."""
from __future__ import annotations

from app.core.markdown import render_markdown
from app.core.timeutil import iso_utc
from app.incidents.models import Incident


def incident_summary(incident: Incident) -> dict:
    return {
        "id": incident.id,
        "reference": incident.reference,
        "organization": incident.organization.code,
        "title": incident.title,
        "threat_category": incident.threat_category,
        "subcategory": incident.subcategory,
        "severity": incident.severity,
        "stage": incident.stage,
        "source": incident.source,
        "detected_at": iso_utc(incident.detected_at),
        "created_at": iso_utc(incident.created_at),
        "updated_at": iso_utc(incident.updated_at),
        "acknowledged_at": iso_utc(incident.acknowledged_at),
        "version": incident.version,
    }


def incident_detail(incident: Incident, severity_basis: str | None = None) -> dict:
    return incident_summary(incident) | {
        "description": incident.description,
        "description_html": str(render_markdown(incident.description)),
        "network_segments": list(incident.network_segments or ()),
        "impacts": list(incident.impacts or ()),
        "asset_classes": dict(incident.asset_classes or {}),
        "personal_data": incident.personal_data,
        "computed_severity": incident.computed_severity,
        "severity_basis": severity_basis,
        "severity_override": (
            {"reason": incident.severity_reason, "by": incident.severity_overridden_by_id,
             "at": iso_utc(incident.severity_overridden_at)}
            if incident.severity_overridden_at else None
        ),
        "reporter_id": incident.reporter_id,
        "closed_at": iso_utc(incident.closed_at),
        "deadlines": [],
        "escalation": None,
    }
