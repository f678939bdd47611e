"""What needs a CSIRT member's attention now, for the home page: escalations nobody has
acknowledged, deadlines due soon, and open incidents where nothing has happened for days."""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import func, select

from app.core.db import db
from app.core.timeutil import now_utc
from app.deadlines.models import Deadline
from app.escalation.models import Escalation
from app.incidents.models import Incident, Stage, TimelineEvent

SOON = dt.timedelta(hours=48)
LIMIT = 20


def unacknowledged(organization_ids: list[int]) -> list[tuple[Escalation, Incident]]:
    rows = db.session.execute(
        select(Escalation, Incident).join(Incident, Incident.id == Escalation.incident_id)
        .where(Escalation.state.in_(("active", "exhausted")), Incident.organization_id.in_(organization_ids))
        .order_by(Escalation.started_at, Escalation.id).limit(LIMIT))
    return [tuple(r) for r in rows]


def deadlines_due_soon(organization_ids: list[int]) -> list[tuple[Deadline, Incident]]:
    rows = db.session.execute(
        select(Deadline, Incident).join(Incident, Incident.id == Deadline.incident_id)
        .where(Deadline.organization_id.in_(organization_ids), Deadline.met_at.is_(None), Deadline.withdrawn_at.is_(None),
               Deadline.due_at <= now_utc() + SOON)
        .order_by(Deadline.due_at, Deadline.id).limit(LIMIT))
    return [tuple(r) for r in rows]


def quiet_incidents(organization_ids: list[int]) -> list[tuple[Incident, dt.datetime]]:
    """Open incidents whose latest timeline entry is older than STALE_DAYS, the quietest first."""
    cutoff = now_utc() - dt.timedelta(days=current_app.config["STALE_DAYS"])
    latest = (select(TimelineEvent.incident_id, func.max(TimelineEvent.id).label("last_id"))
              .join(Incident, Incident.id == TimelineEvent.incident_id)
              .where(Incident.organization_id.in_(organization_ids), Incident.stage != Stage.CLOSED.value)
              .group_by(TimelineEvent.incident_id).subquery())
    rows = db.session.execute(
        select(Incident, TimelineEvent.at).join(latest, latest.c.incident_id == Incident.id)
        .join(TimelineEvent, TimelineEvent.id == latest.c.last_id)
        .where(TimelineEvent.at < cutoff).order_by(TimelineEvent.at, Incident.id).limit(LIMIT))
    return [tuple(r) for r in rows]
