"""Helpers shared by the escalation tests: roster files, incidents through the API, state reads."""
from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path
from urllib.parse import urlsplit

import holidays
import yaml
from sqlalchemy import select

from app.auth.models import User
from app.core.db import db
from app.escalation.models import Escalation
from app.incidents.models import Incident, TimelineEvent
from app.jobs.ticker import tick
from app.notifications.models import Notification
from app.roster.file import import_roster, read_roster

JST = dt.timezone(dt.timedelta(hours=9))
PASSWORD = "correct horse battery"
_files = itertools.count(1)

# The facts that derive each severity from playbooks/severity.yaml.
LOW: dict = {}
MEDIUM = {"personal_data": {"involved": True, "persons": 3}}
HIGH = {"personal_data": {"involved": True, "sensitive": True, "persons": 3}}
CRITICAL = {"network_segments": ["mynumber"], "impacts": ["tampering"]}  # damage there (issue 17)


def person(email: str, name: str, roles: list[str], **extra) -> dict:
    return {"email": email, "name": name, "password": PASSWORD, "roles": roles} | extra


def load_roster(tmp_path: Path, people: list[dict], on_call: list | None = None, escalation: dict | None = None,
                overrides: list | None = None, organization: str = "ageo"):
    """Writes a roster YAML file, reads and imports it the way `roster import` does, commits."""
    data: dict = {"organization": organization, "people": people}
    if on_call is not None:
        data["on_call"] = on_call
    if overrides is not None:
        data["on_call_overrides"] = overrides
    if escalation is not None:
        data["escalation"] = escalation
    path = tmp_path / f"roster-{next(_files)}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = import_roster(read_roster(path))
    db.session.commit()
    return result


def user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def headers(factory, email: str) -> dict:
    return factory.headers(user(email))


def open_incident(client, hdrs: dict, facts: dict | None = None, **fields) -> dict:
    body = {"organization": "ageo", "title": "庁内ネットワークの不審な通信", "threat_category": "intentional",
            "detected_at": "2026-11-01T09:00:00+09:00", "description": "端末から外部への不審な通信を検知した。"}
    response = client.post("/api/v1/incidents", headers=hdrs, json=body | (facts or {}) | fields)
    assert response.status_code == 201, response.json
    return response.json


def escalation(incident_id: int, cycle: int | None = None) -> Escalation:
    db.session.expire_all()
    query = select(Escalation).where(Escalation.incident_id == incident_id)
    if cycle is not None:
        return db.session.scalar(query.where(Escalation.cycle == cycle))
    return db.session.scalar(query.order_by(Escalation.cycle.desc()).limit(1))


def started(incident_id: int) -> dt.datetime:
    return escalation(incident_id).started_at


def notifications(incident_id: int, **where) -> list[Notification]:
    db.session.expire_all()
    query = select(Notification).where(Notification.incident_id == incident_id)
    for name, value in where.items():
        query = query.where(getattr(Notification, name) == value)
    return list(db.session.scalars(query.order_by(Notification.id)))


def timeline(incident_id: int, kind: str | None = None) -> list[TimelineEvent]:
    db.session.expire_all()
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
    if kind:
        query = query.where(TimelineEvent.kind == kind)
    return list(db.session.scalars(query.order_by(TimelineEvent.id)))


def incident_row(incident_id: int) -> Incident:
    db.session.expire_all()
    return db.session.get(Incident, incident_id)


def settle(now: dt.datetime, rounds: int = 6) -> None:
    """Ticks at the same `now` until nothing more fires (a tick may fire one step per escalation)."""
    for _ in range(rounds):
        if not tick(now)["steps"]:
            return


def recipients(inbox, reference: str | None = None) -> list[str]:
    return [m["To"] for m in inbox.messages if reference is None or reference in m["Subject"]]


def ack_path(message) -> str:
    match = re.search(r"(https?://\S+/ack/\S+)", message.get_content())
    assert match, "no acknowledgement link in the mail"
    return urlsplit(match.group(1)).path


_JP_HOLIDAYS = holidays.Japan()


def next_jst(after: dt.datetime, hhmm: str, kind: str) -> dt.datetime:
    """The first moment later than `after` at hh:mm Asia/Tokyo on a day of `kind`:
    "workday" (Mon–Fri, not a holiday), "saturday", or "holiday" (a public holiday on Mon–Fri)."""
    hour, minute = map(int, hhmm.split(":"))
    day = after.astimezone(JST).date()
    for _ in range(800):
        weekday, holiday = day.weekday(), day in _JP_HOLIDAYS
        ok = {"workday": weekday < 5 and not holiday, "saturday": weekday == 5,
              "holiday": weekday < 5 and holiday}[kind]
        moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST)
        if ok and moment > after:
            return moment.astimezone(dt.UTC)
        day += dt.timedelta(days=1)
    raise AssertionError(f"no {kind} found")
