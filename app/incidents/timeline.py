"""The incident timeline: one ordered stream of everything that happened, mirrored in the audit log."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import insert, select

from app.audit.services import append as audit_append
from app.audit.services import append_many as audit_append_many
from app.audit.services import canonical_json
from app.auth.models import User
from app.core.db import db
from app.core.timeutil import now_utc
from app.incidents.models import Incident, TimelineEvent


def jsonable(value: Any) -> Any:
    return json.loads(canonical_json(value))


def record(incident: Incident, actor: User | None, kind: str, summary: str, data: dict | None = None,
           at: dt.datetime | None = None) -> TimelineEvent:
    event = TimelineEvent(incident_id=incident.id, at=at or now_utc(), actor_id=actor.id if actor else None,
                          actor=actor, kind=kind, summary=summary, data=jsonable(data or {}))
    db.session.add(event)
    audit_append(actor, f"incident.{kind}", "incident", incident.id, incident.organization.code,
                 {"reference": incident.reference, "summary": summary, "data": event.data})
    return event


def record_many(entries: list[tuple[Incident, str, str, dict]], at: dt.datetime | None = None) -> None:
    """System events (incident, kind, summary, data) in one INSERT each for the timeline and the
    audit log: what the ticker writes for a whole batch of escalation steps."""
    if not entries:
        return
    at = at or now_utc()
    rows = [{"incident_id": incident.id, "at": at, "actor_id": None, "kind": kind, "summary": summary,
             "data": jsonable(data)} for incident, kind, summary, data in entries]
    db.session.execute(insert(TimelineEvent), rows)
    audit_append_many([(None, f"incident.{row['kind']}", "incident", incident.id, incident.organization.code,
                        {"reference": incident.reference, "summary": row["summary"], "data": row["data"]})
                       for (incident, *_), row in zip(entries, rows, strict=True)])


def events_for(incident: Incident) -> list[TimelineEvent]:
    return list(db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident.id).order_by(TimelineEvent.id)
    ))
