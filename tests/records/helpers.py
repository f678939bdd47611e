"""Shared helpers for the post-incident record (事後報告) tests: walking an incident to the
stage a test needs through the real API, and the record's API calls."""
from __future__ import annotations

import datetime as dt

from app.core.db import db
from app.incidents.models import Incident
from tests.workflow.helpers import API, advance_to, create, finish_required, move, tasks, timeline

__all__ = ["API", "advance_to", "create", "finish_required", "move", "tasks", "timeline"]

RECORD = "/post-incident-record"
BODY = {
    "cause": "職員が**標的型メール**の添付ファイルを開封した。",
    "impact": "- 企画課の端末1台が感染\n- 個人情報の流出なし",
    "measures": "- 端末をネットワークから隔離\n- 駆除後に再構築",
    "prevention": "標的型メール訓練を年2回実施する。",
    "policy_clauses": ["8-5", "8-6"],
    "recommendations": [
        {"text": "添付ファイルの自動無害化を導入する", "clause": "8-6", "status": "proposed"},
        {"text": "標的型メール訓練を全職員に行う", "clause": "8-5", "status": "adopted"},
    ],
}


def record_url(incident_id: int, suffix: str = "") -> str:
    return f"{API}/{incident_id}{RECORD}{suffix}"


def get_record(client, headers, incident_id: int) -> dict:
    response = client.get(record_url(incident_id), headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def put_record(client, headers, incident_id: int, **overrides):
    return client.put(record_url(incident_id), headers=headers, json=BODY | overrides)


def saved(client, headers, incident_id: int, **overrides) -> dict:
    response = put_record(client, headers, incident_id, **overrides)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["saved"] is True
    return response.json


def incident_json(client, headers, incident_id: int) -> dict:
    response = client.get(f"{API}/{incident_id}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def acknowledge(client, headers, incident_id: int) -> dict:
    response = client.post(f"{API}/{incident_id}/acknowledge", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def at_prevent(client, headers, **overrides) -> int:
    """A new incident (ageo, malware) acknowledged and walked to 再発防止 with its required
    tasks done, so that only the record (and the role) stand between it and 終結."""
    incident_id = create(client, headers, **overrides)["id"]
    acknowledge(client, headers, incident_id)
    advance_to(client, headers, incident_id, "prevent")
    finish_required(client, headers, incident_id, "prevent")
    return incident_id


def stored(incident_id: int) -> Incident:
    db.session.expire_all()
    return db.session.get(Incident, incident_id)


def parse(value: str) -> dt.datetime:
    assert value.endswith("Z"), value
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso(value: dt.datetime | None) -> str | None:
    """The API's shape of a stored time (UTC with Z)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def events(client, headers, incident_id: int, kind: str) -> list[dict]:
    return [e for e in timeline(client, headers, incident_id) if e["kind"] == kind]
