"""The field level of the authorization matrix (issue 15, item 1): per role, who may SET each field
that changes what the system does (app/core/permissions.py FIELD_PERMISSIONS), asked by real
requests. Each cell gets an incident of its own, reported by the body's 職員, so that one cell's
change (a stage moved, a task done) cannot change another's answer.

A row is (operation, field): field None is the operation with none of the guarded fields (it
shows that the field, not the operation, decides); operations starting with "page:" go through
the web form instead of the API. Letters as in support.py: A passed (2xx, a redirect to the
incident, or 409), F 403.
"""
from __future__ import annotations

import dataclasses

from flask import Flask
from sqlalchemy import select

from app.core.db import db
from app.deadlines.models import Deadline
from app.incidents import tasks
from app.incidents.schemas import IncidentCreate
from app.incidents.services import open_incident
from tests.factories import csrf_token
from tests.security.support import BODY_A, FACTS, INCIDENT_FORM, sign_in

FIELD_COLUMNS = ("reporter", "csirt", "officer", "executive", "auditor", "admin")
FIELD_ACTORS = {"reporter": "reporter", "csirt": "csirt", "security_manager": "officer",
                "security_officer": "officer", "system_admin": "officer", "chief_officer": "executive",
                "ciso": "executive", "auditor": "auditor", "admin": "admin"}
API = "/api/v1/incidents"
CREATE = FACTS | {"detected_at": "2026-11-20T10:00:00+09:00"}
PAPER = {"reported_at": "2026-11-20T10:20:00+09:00", "acknowledged_at": "2026-11-20T10:30:00+09:00"}
RECOGNIZED = "2026-11-20T11:00:00+09:00"  # when the leak was known to be reportable (issue 17)
PD = FACTS["personal_data"]


def expand_fields(row: str) -> dict[str, str]:
    letters = row.split()
    assert len(letters) == len(FIELD_COLUMNS) and set(letters) <= set("AF"), row
    return dict(zip(FIELD_COLUMNS, letters, strict=True))


@dataclasses.dataclass
class Target:
    """The cell's incident and what hangs off it."""
    incident_id: int
    version: int
    task_id: int
    deadline_id: int
    worker: str  # the e-mail of someone who may be assigned tasks (the body's CSIRT member)


def _target(reporter, worker) -> Target:
    incident = open_incident(reporter, IncidentCreate.model_validate(FACTS))
    deadline = db.session.scalars(select(Deadline).where(Deadline.incident_id == incident.id)
                                  .order_by(Deadline.id)).first()
    target = Target(incident.id, incident.version, tasks.tasks_of(incident)[0].id, deadline.id, worker.email)
    db.session.commit()
    return target


# (operation, field) -> the request: method, path, and the JSON body (API) or the form (pages)
REQUESTS = {
    ("incident.create", None): lambda t: ("POST", API, CREATE),
    ("incident.create", "reported_at"): lambda t: ("POST", API, CREATE | {"reported_at": PAPER["reported_at"]}),
    ("incident.create", "acknowledged_at"): lambda t: ("POST", API, CREATE | {"acknowledged_at": PAPER["acknowledged_at"]}),
    ("incident.create", "recognized_at"): lambda t: ("POST", API, CREATE | {"recognized_at": RECOGNIZED}),
    ("incident.create", "personal_data.encrypted"): lambda t: ("POST", API, CREATE | {"personal_data": PD | {"encrypted": True}}),
    ("incident.create", "organ"): lambda t: ("POST", API, CREATE | {"organ": "gikai"}),
    ("incident.create", "personal_data.held_in"): lambda t: ("POST", API, CREATE | {
        "personal_data": PD | {"held_in": ["my_number_use"]}}),
    ("incident.create", "personal_data.public_exposure"): lambda t: ("POST", API, CREATE | {
        "personal_data": PD | {"public_exposure": True}}),
    ("incident.create", "owner"): lambda t: ("POST", API, CREATE | {"owner": t.worker}),
    ("incident.create", "members"): lambda t: ("POST", API, CREATE | {"members": [t.worker]}),
    ("incident.update", "owner"): lambda t: ("PATCH", f"{API}/{t.incident_id}", {"version": t.version, "owner": t.worker}),
    ("incident.update", "members"): lambda t: ("PATCH", f"{API}/{t.incident_id}", {"version": t.version, "members": [t.worker]}),
    ("incident.update", None): lambda t: ("PATCH", f"{API}/{t.incident_id}", {"version": t.version, "title": "件名を訂正"}),
    ("incident.update", "recognized_at"): lambda t: ("PATCH", f"{API}/{t.incident_id}", {
        "version": t.version, "recognized_at": RECOGNIZED}),
    ("incident.update", "personal_data.encrypted"): lambda t: ("PATCH", f"{API}/{t.incident_id}", {
        "version": t.version, "personal_data": PD | {"encrypted": True}}),
    ("incident.update", "organ"): lambda t: ("PATCH", f"{API}/{t.incident_id}", {"version": t.version, "organ": "gikai"}),
    ("incident.update", "personal_data.held_in"): lambda t: ("PATCH", f"{API}/{t.incident_id}", {
        "version": t.version, "personal_data": PD | {"held_in": ["my_number_use"]}}),
    ("incident.update", "personal_data.public_exposure"): lambda t: ("PATCH", f"{API}/{t.incident_id}", {
        "version": t.version, "personal_data": PD | {"public_exposure": True}}),
    ("incident.update", "severity"): lambda t: ("PATCH", f"{API}/{t.incident_id}", {
        "version": t.version, "severity": "critical", "severity_reason": "住民への影響が大きい"}),
    ("incident.update", "severity_reason"): lambda t: ("PATCH", f"{API}/{t.incident_id}", {
        "version": t.version, "severity_reason": "理由のみ"}),
    ("stage.move", None): lambda t: ("POST", f"{API}/{t.incident_id}/stage", {"to": "report"}),
    ("stage.move", "override"): lambda t: ("POST", f"{API}/{t.incident_id}/stage",
                                           {"to": "report", "override": True, "reason": "緊急"}),
    ("task.create", None): lambda t: ("POST", f"{API}/{t.incident_id}/tasks", {"stage": "triage", "title": "委託先へ連絡"}),
    ("task.create", "required"): lambda t: ("POST", f"{API}/{t.incident_id}/tasks",
                                            {"stage": "triage", "title": "委託先へ連絡", "required": True}),
    ("task.create", "assignee"): lambda t: ("POST", f"{API}/{t.incident_id}/tasks",
                                            {"stage": "triage", "title": "委託先へ連絡", "assignee": t.worker}),
    ("task.update", "done"): lambda t: ("PATCH", f"{API}/{t.incident_id}/tasks/{t.task_id}", {"done": True}),
    ("task.update", "assignee"): lambda t: ("PATCH", f"{API}/{t.incident_id}/tasks/{t.task_id}", {"assignee": t.worker}),
    ("deadline.met", None): lambda t: ("POST", f"{API}/{t.incident_id}/deadlines/{t.deadline_id}/met", {}),
    ("deadline.met", "met_at"): lambda t: ("POST", f"{API}/{t.incident_id}/deadlines/{t.deadline_id}/met",
                                           {"met_at": "2026-11-20T11:00:00+09:00"}),
    ("notice.create", None): lambda t: ("POST", f"{API}/{t.incident_id}/deadlines", {"kind": "police_report"}),
    ("notice.create", "due_at"): lambda t: ("POST", f"{API}/{t.incident_id}/deadlines",
                                            {"kind": "police_report", "due_at": "2099-01-01T09:00:00+09:00"}),
    ("page:incident.create", None): lambda t: ("POST", f"/incidents/new?organization={BODY_A}", dict(INCIDENT_FORM)),
    ("page:incident.create", "reported_at"): lambda t: ("POST", f"/incidents/new?organization={BODY_A}",
                                                        INCIDENT_FORM | {"reported_at": "2026-11-20T10:20"}),
    ("page:incident.create", "acknowledged_at"): lambda t: ("POST", f"/incidents/new?organization={BODY_A}",
                                                            INCIDENT_FORM | {"acknowledged_at": "2026-11-20T10:30"}),
    ("page:incident.create", "recognized_at"): lambda t: ("POST", f"/incidents/new?organization={BODY_A}",
                                                          INCIDENT_FORM | {"recognized_at": "2026-11-20T11:00"}),
    ("page:incident.create", "personal_data.encrypted"): lambda t: ("POST", f"/incidents/new?organization={BODY_A}",
                                                                    INCIDENT_FORM | {"pd_encrypted": "y"}),
}


def run_fields(app: Flask, factory, rows: list[tuple]) -> dict[tuple, tuple[str, str]]:
    """{(operation, field, actor name): (letter, what came)} for every row and field actor."""
    from tests.security.support import ACTORS
    actors = [a for a in ACTORS if a.name in FIELD_ACTORS]
    sessions = [sign_in(app, factory, actor) for actor in actors]
    users = {s.actor.name: s.user for s in sessions}
    answers = {}
    for session in sessions:
        for row in rows:
            target = _target(users["reporter"], users["csirt"])
            method, path, body = REQUESTS[row](target)
            if row[0].startswith("page:"):
                page = session.client.get(path)
                token = csrf_token(page.text) if page.status_code == 200 else session.csrf
                response = session.client.open(path, method=method, data=body | {"csrf_token": token})
            else:
                response = session.client.open(path, method=method, json=body, headers=session.bearer)
            answers[(*row, session.actor.name)] = (_letter(response), f"{response.status_code} {method} {path} "
                                                   f"{response.get_data(as_text=True)[:200]!r}")
    return answers


def _letter(response) -> str:
    status = response.status_code
    if status in (200, 201, 409) or (status == 302 and "/incidents/" in response.headers["Location"]):
        return "A"
    return {403: "F"}.get(status, str(status))
