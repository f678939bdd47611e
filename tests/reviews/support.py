"""Helpers for the review tests: incidents through the real API, exact times set in the database
afterwards (the facts a review counts are recorded by the workflow; here they are pinned so that
the expected figures are exact), and the review's API calls."""
from __future__ import annotations

import datetime as dt
import itertools
import uuid

from sqlalchemy import insert, select, update

from app.auth.models import User
from app.core.db import db
from app.deadlines.models import Deadline
from app.incidents.models import Incident
from app.notifications.models import Notification

JST = dt.timezone(dt.timedelta(hours=9))
API = "/api/v1/incidents"
REVIEWS = "/api/v1/reviews"
HOUR = 3600
_titles = itertools.count(1)

# facts → severity by playbooks/severity.yaml
LOW: dict = {}
MEDIUM = {"personal_data": {"involved": True, "persons": 3}}
HIGH = {"personal_data": {"involved": True, "sensitive": True, "persons": 3}}
CRITICAL = {"network_segments": ["mynumber"], "impacts": ["tampering"]}  # damage there (issue 17: the segment alone is not)


def jst(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=JST)


def create(client, headers, detected: dt.datetime, organization: str = "ageo", **fields) -> dict:
    """POST /api/v1/incidents; a detection time in the future is stored as one hour ago through the
    API (which refuses future times) and then pinned in the database."""
    now = dt.datetime.now(dt.UTC)
    sent = detected if detected <= now else now - dt.timedelta(hours=1)
    body = {"organization": organization, "title": f"振り返り用の事案 {next(_titles)}",
            "threat_category": "intentional", "detected_at": sent.isoformat()} | fields
    response = client.post(API, headers=headers, json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    if sent != detected:
        pin(response.json["id"], detected_at=detected)
    return response.json


def pin(incident_id: int, **values) -> None:
    """Sets columns of an incident directly (times after detection, stage, 非該当)."""
    db.session.execute(update(Incident).where(Incident.id == incident_id).values(**values))
    db.session.commit()


def after(detected: dt.datetime, hours: float) -> dt.datetime:
    return detected + dt.timedelta(hours=hours)


def not_incident(incident_id: int) -> None:
    pin(incident_id, not_incident=True, stage="closed", closed_reason="非該当")


def escalation_message(incident_id: int, level: int, user: User, channel: str = "email", step: int | None = None) -> None:
    """An outbox row of an escalation level (what the ticker writes when a level fires)."""
    db.session.execute(insert(Notification).values(
        event_id=str(uuid.uuid4()), incident_id=incident_id, cycle=1, step=level - 1 if step is None else step,
        level=level, event="escalation", recipient_id=user.id, recipient=user.email, role="csirt", channel=channel,
        status="sent", attempts=1, sent_at=dt.datetime.now(dt.UTC)))
    db.session.commit()


def reminder_message(incident_id: int, user: User) -> None:
    """A deadline reminder (level 0, another event): never an escalation level."""
    db.session.execute(insert(Notification).values(
        event_id=str(uuid.uuid4()), incident_id=incident_id, cycle=1, step=99, level=0, event="overdue",
        recipient_id=user.id, recipient=user.email, role="csirt", channel="email", status="sent"))
    db.session.commit()


def deadlines(incident_id: int) -> dict[str, Deadline]:
    db.session.expire_all()
    return {d.kind: d for d in db.session.scalars(select(Deadline).where(Deadline.incident_id == incident_id))}


def set_deadline(deadline_id: int, **values) -> None:
    db.session.execute(update(Deadline).where(Deadline.id == deadline_id).values(**values))
    db.session.commit()


def review(client, headers, org: str, fiscal_year: int, quarter: int | None = None, **query):
    path = f"{REVIEWS}/{org}/{fiscal_year}" + (f"/q{quarter}" if quarter else "")
    return client.get(path, headers=headers, query_string=query)


def review_json(client, headers, org: str, fiscal_year: int, quarter: int | None = None) -> dict:
    response = review(client, headers, org, fiscal_year, quarter)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def ids(body: dict) -> list[int]:
    return [i["id"] for i in body["incidents"]]


def review_tables(app, user: User, code: str, period) -> dict[str, tuple[list, list]]:
    """{title: (header, rows)} of the review's tables, as the page, Markdown and XLSX show them."""
    from app.reviews.formats import sections
    from app.reviews.report import build_review

    with app.test_request_context():
        return {title: (header, rows) for title, header, rows in sections(build_review(user, code, period))}
