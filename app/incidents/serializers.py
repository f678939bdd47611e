"""The API's JSON shape of an incident's own fields (API.md, "Incident fields"); app/api/incident_json.py
adds what the domains that react to it keep (deadlines, escalation)."""
from __future__ import annotations

from app.core.markdown import render_markdown
from app.core.timeutil import iso_utc
from app.incidents import people
from app.incidents.models import Evidence, Incident, Task, TimelineEvent
from app.organizations.services import get_profile

TIME_FIELDS = {"detected_at", "created_at", "updated_at", "acknowledged_at"}


def list_row(row) -> dict:
    """A row of `list_incidents` in the same shape as `incident_summary`."""
    body = row._asdict()
    for name in TIME_FIELDS:
        body[name] = iso_utc(body[name])
    del body["organization_name"], body["owner_name"]
    return body


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
    owner, members = people.people_of(incident)
    return incident_summary(incident) | {
        "owner": owner.email if owner else None,
        "members": [u.email for u in members],
        "description": incident.description,
        "description_html": str(render_markdown(incident.description)),
        "network_segments": list(incident.network_segments or ()),
        "impacts": list(incident.impacts or ()),
        "asset_classes": dict(incident.asset_classes or {}),
        "personal_data": personal_data_json(incident),
        "recognized_at": iso_utc(incident.recognized_at),
        "organ": incident.organ,
        "reporting_rules": get_profile(incident.organization.code).reporting.rules_for(incident.organ),
        "computed_severity": incident.computed_severity,
        "severity_basis": severity_basis,
        "severity_override": (
            {"reason": incident.severity_reason, "by": incident.severity_overridden_by_id,
             "at": iso_utc(incident.severity_overridden_at)}
            if incident.severity_overridden_at else None
        ),
        "reporter_id": incident.reporter_id,
        "closed_at": iso_utc(incident.closed_at),
        "reported_at": iso_utc(incident.reported_at or incident.created_at),
        "recorded_late": incident.recorded_late,
        "not_incident": incident.not_incident,
        "closed_reason": incident.closed_reason,
    }


def personal_data_json(incident: Incident) -> dict:
    """API.md's six fields and held_in, encrypted, public_exposure; `ordinance_sensitive` too where
    the body's ordinance defines 条例要配慮個人情報 (profile `reporting.ordinance_sensitive`)."""
    body = incident.personal_data
    if get_profile(incident.organization.code).reporting.ordinance_sensitive:
        body["ordinance_sensitive"] = incident.pd_ordinance_sensitive
    return body


def task_json(task: Task) -> dict:
    return {
        "id": task.id, "stage": task.stage, "code": task.code, "source": task.source, "title": task.title,
        "guidance": task.guidance, "required": task.required, "role": task.role,
        "assignee": task.assignee.email if task.assignee else None, "done": task.done,
        "done_by": task.done_by.email if task.done_by else None, "done_at": iso_utc(task.done_at),
    }


def event_json(event: TimelineEvent) -> dict:
    body = {"id": event.id, "at": iso_utc(event.at), "actor": event.actor.email if event.actor else None,
            "kind": event.kind, "summary": event.summary, "data": event.data}
    if event.kind == "note":
        body["body_html"] = str(render_markdown(event.data.get("body", "")))
    return body


def evidence_json(item: Evidence, url: str) -> dict:
    return {
        "id": item.id, "sha256": item.sha256, "size": item.size, "filename": item.filename,
        "description": item.description, "uploaded_by": item.uploaded_by.email if item.uploaded_by else None,
        "uploaded_at": iso_utc(item.uploaded_at), "url": url,
    }
