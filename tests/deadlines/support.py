"""Helpers shared by the deadline tests: incidents through the API, deadlines by kind, reads."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.core.db import db
from app.deadlines.models import Deadline
from app.notifications.models import Notification

API = "/api/v1/incidents"
JST = dt.timezone(dt.timedelta(hours=9))
DETECTED = "2026-11-20T10:00:00+09:00"           # = 2026-11-20T01:00:00Z
DETECTED_AT = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
REGULATORY = {"ppc_preliminary", "ppc_final", "mynumber_preliminary", "mynumber_final"}
INTERNAL = {"internal_manager_report", "internal_chief_report", "csirt_assessment", "ciso_report"}


def pd(**flags) -> dict:
    """A `personal_data` object: involved with the given flags."""
    return {"personal_data": {"involved": True} | flags}


def create(client, headers, **fields) -> dict:
    body = {"organization": "ageo", "title": "住民情報の漏えい", "threat_category": "intentional",
            "detected_at": DETECTED} | fields
    response = client.post(API, headers=headers, json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def get(client, headers, incident_id: int) -> dict:
    response = client.get(f"{API}/{incident_id}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def patch(client, headers, incident: dict, **fields) -> dict:
    """PATCH with the incident's current version; answers the new incident."""
    version = get(client, headers, incident["id"])["version"]
    response = client.patch(f"{API}/{incident['id']}", headers=headers, json={"version": version} | fields)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def due(incident: dict, key: str = "deadlines") -> dict[str, str]:
    """{kind: due_at} of the incident JSON's `deadlines` (or `internal_deadlines`)."""
    return {d["kind"]: d["due_at"] for d in incident[key]}


def by_kind(incident: dict, key: str = "deadlines") -> dict[str, dict]:
    return {d["kind"]: d for d in incident[key]}


def all_deadlines(client, headers, incident_id: int) -> dict[str, dict]:
    response = client.get(f"{API}/{incident_id}/deadlines", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["total"] == len(response.json["items"])
    return {d["kind"]: d for d in response.json["items"]}


def file(client, headers, incident_id: int, deadline_id: int, **body):
    return client.post(f"{API}/{incident_id}/deadlines/{deadline_id}/met", headers=headers, json=body)


def deadline_row(incident_id: int, kind: str) -> Deadline | None:
    db.session.expire_all()
    return db.session.scalar(select(Deadline).where(Deadline.incident_id == incident_id, Deadline.kind == kind))


def reminders(incident_id: int, **where) -> list[Notification]:
    """The outbox rows of deadline reminders (deadline_id set) of one incident, oldest first."""
    db.session.expire_all()
    query = select(Notification).where(Notification.incident_id == incident_id, Notification.deadline_id.is_not(None))
    for name, value in where.items():
        query = query.where(getattr(Notification, name) == value)
    return list(db.session.scalars(query.order_by(Notification.id)))


def utc(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
