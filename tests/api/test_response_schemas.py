"""Real answers of the API against the response schemas the OpenAPI document generates from the
packages' response models (issue 16, item 5): one incident taken through its life, with an
override, tasks, a note, evidence, deadlines met, messages sent, a record approved, reports filed
and opened, and the reviews of its quarter and year; each answer is checked against the schema
its operation documents for that status (additionalProperties false: an undocumented field fails)."""
from __future__ import annotations

import datetime as dt
import io

import jsonschema_rs
import pytest

from app.api.openapi import Schemas, build_document
from app.core.responses import Answer
from app.core.timeutil import now_utc
from app.incidents.responses import Task as IncidentTask
from app.jobs.ticker import tick
from tests.records.helpers import BODY as RECORD_BODY
from tests.workflow.helpers import API, advance_to, create, finish_required

DOCUMENT = build_document()


def _validator(method: str, path: str, status: int):
    content = DOCUMENT["paths"][path][method]["responses"][str(status)]["content"]["application/json"]
    return jsonschema_rs.Draft202012Validator(content["schema"] | {"components": DOCUMENT["components"]},
                                              validate_formats=True)


def _problems(method: str, path: str, status: int, body) -> list[str]:
    return [f"{list(e.instance_path)}: {e.message}" for e in _validator(method, path, status).iter_errors(body)]


def answer(response, method: str, path: str, status: int = 200):
    """The JSON body of `response`, after checking its status and that it is what `path` documents."""
    assert response.status_code == status, response.get_data(as_text=True)
    problems = _problems(method, path, status, response.json)
    assert not problems, (method, path, status, problems)
    return response.json


@pytest.fixture
def people(factory) -> dict:
    return {role: factory.headers(factory.user({"ageo": [role]}, name=f"上尾 {role}"))
            for role in ("csirt", "ciso", "auditor")}


def test_an_incident_through_its_life_answers_as_documented(client, people):
    csirt, ciso = people["csirt"], people["ciso"]
    incident = create(client, csirt, network_segments=["lgwan"], impacts=["leak"],
                      personal_data={"involved": True, "persons": 150, "sensitive": True, "malicious": True})
    iid = incident["id"]
    one = f"{API}/{iid}"
    assert answer(client.get(one, headers=csirt), "get", "/api/v1/incidents/{id}")["escalation"] is not None
    overridden = answer(client.patch(one, headers=csirt, json={"version": incident["version"], "severity": "critical",
                                                                "severity_reason": "住民への影響が大きい"}),
                        "patch", "/api/v1/incidents/{id}")
    assert overridden["severity_override"]["reason"] == "住民への影響が大きい"
    listed = answer(client.get(API, headers=csirt), "get", "/api/v1/incidents")
    assert [row["id"] for row in listed["items"]] == [iid]

    tasks = answer(client.get(f"{one}/tasks", headers=csirt), "get", "/api/v1/incidents/{id}/tasks")["items"]
    assert tasks
    answer(client.patch(f"{one}/tasks/{tasks[0]['id']}", headers=csirt, json={"done": True}),
           "patch", "/api/v1/incidents/{id}/tasks/{task_id}")
    answer(client.post(f"{one}/tasks", headers=csirt, json={"stage": "report", "title": "委託先へ連絡"}),
           "post", "/api/v1/incidents/{id}/tasks", 201)
    note = answer(client.post(f"{one}/notes", headers=csirt, json={"body": "**端末**を回収した。"}),
                  "post", "/api/v1/incidents/{id}/notes", 201)
    assert "<strong>端末</strong>" in note["body_html"]
    events = answer(client.get(f"{one}/timeline", headers=csirt), "get", "/api/v1/incidents/{id}/timeline")["items"]
    assert {"note"} < {e["kind"] for e in events}  # notes with body_html, other events without
    answer(client.post(f"{one}/evidence", headers=csirt, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(b"GET /login 200\n"), "access.log"), "description": "ログ"}),
           "post", "/api/v1/incidents/{id}/evidence", 201)
    assert answer(client.get(f"{one}/evidence", headers=csirt), "get", "/api/v1/incidents/{id}/evidence")["total"] == 1

    deadlines = answer(client.get(f"{one}/deadlines", headers=csirt), "get", "/api/v1/incidents/{id}/deadlines")["items"]
    assert {"regulatory", "internal"} <= {d["category"] for d in deadlines}
    answer(client.post(f"{one}/deadlines", headers=csirt, json={"kind": "police_report"}),
           "post", "/api/v1/incidents/{id}/deadlines", 201)
    met = answer(client.post(f"{one}/deadlines/{deadlines[0]['id']}/met", headers=csirt, json={"reference": "PPC-0001"}),
                 "post", "/api/v1/incidents/{id}/deadlines/{deadline_id}/met")
    assert met["met_at"] is not None and met["time_left"] is None
    dashboard = answer(client.get("/api/v1/deadlines", headers=csirt), "get", "/api/v1/deadlines")
    assert dashboard["items"] and dashboard["items"][0]["incident"]["id"] == iid

    tick(now_utc() + dt.timedelta(minutes=1))
    notifications = answer(client.get(f"{one}/notifications", headers=csirt), "get", "/api/v1/incidents/{id}/notifications")
    assert notifications["total"] > 0
    acknowledged = answer(client.post(f"{one}/acknowledge", headers=csirt), "post", "/api/v1/incidents/{id}/acknowledge")
    assert acknowledged["escalation"]["state"] == "acknowledged"

    record = f"{one}/post-incident-record"
    draft = answer(client.get(record, headers=csirt), "get", "/api/v1/incidents/{id}/post-incident-record")
    assert draft["saved"] is False and draft["version"] is None
    saved = answer(client.put(record, headers=csirt, json=RECORD_BODY), "put", "/api/v1/incidents/{id}/post-incident-record")
    answer(client.patch(f"{record}/recommendations/{saved['recommendations'][0]['id']}", headers=csirt,
                        json={"status": "adopted"}),
           "patch", "/api/v1/incidents/{id}/post-incident-record/recommendations/{recommendation_id}")
    advance_to(client, csirt, iid, "prevent")
    finish_required(client, csirt, iid, "prevent")
    approved = answer(client.post(f"{record}/approve", headers=ciso), "post",
                      "/api/v1/incidents/{id}/post-incident-record/approve")
    assert approved["approved_at"] is not None and approved["times"]["detected_at"] == incident["detected_at"]

    quarter = answer(client.get("/api/v1/reviews/ageo/2026/q3", headers=csirt), "get",
                     "/api/v1/reviews/{org}/{fiscal_year}/q{quarter}")
    assert quarter["total"] == 1 and [i["id"] for i in quarter["incidents"]] == [iid]
    assert quarter["recommendations"] and quarter["current"]["deadlines"]["by_kind"]
    year = answer(client.get("/api/v1/reviews/ageo/2026", headers=csirt), "get", "/api/v1/reviews/{org}/{fiscal_year}")
    assert year["quarter"] is None and year["total"] == 1


def test_reports_organizations_audit_and_errors_answer_as_documented(client, people):
    csirt = people["csirt"]
    body = {"organization": "ageo", "title": "IDS検知", "body": "不審な通信", "dedup_key": "ids-1"}
    filed = answer(client.post("/api/v1/reports", headers=csirt, json=body), "post", "/api/v1/reports", 201)
    again = answer(client.post("/api/v1/reports", headers=csirt, json=body), "post", "/api/v1/reports", 200)
    assert (filed["added"], again["added"]) == (False, True)
    waiting = answer(client.get("/api/v1/reports", headers=csirt), "get", "/api/v1/reports")
    assert [r["id"] for r in waiting["items"]] == [filed["id"]]
    opened = answer(client.post(f"/api/v1/reports/{filed['id']}/open", headers=csirt,
                                json={"title": "IDS検知", "threat_category": "intentional"}),
                    "post", "/api/v1/reports/{id}/open", 201)
    assert answer(client.get("/api/v1/reports?state=opened", headers=csirt), "get", "/api/v1/reports")["items"][0][
        "incident"]["id"] == opened["id"]

    organizations = answer(client.get("/api/v1/organizations", headers=csirt), "get", "/api/v1/organizations")
    assert [o["code"] for o in organizations["items"]] == ["ageo"]
    assert answer(client.get("/api/v1/audit/verify", headers=people["auditor"]), "get", "/api/v1/audit/verify")["ok"]
    assert answer(client.get("/healthz"), "get", "/healthz")["status"] == "ok"

    answer(client.get(f"{API}/999999", headers=csirt), "get", "/api/v1/incidents/{id}", 404)
    answer(client.post(API, headers=csirt, json={"title": ""}), "post", "/api/v1/incidents", 422)
    answer(client.get("/api/v1/audit/verify", headers=csirt), "get", "/api/v1/audit/verify", 403)
    answer(client.get(API), "get", "/api/v1/incidents", 401)


def test_an_undocumented_field_or_a_wrong_type_fails_the_check(client, people):
    incident = create(client, people["csirt"])
    assert not _problems("get", "/api/v1/incidents/{id}", 200, incident)
    assert _problems("get", "/api/v1/incidents/{id}", 200, incident | {"watchers": None}) == [
        "[]: Additional properties are not allowed ('watchers' was unexpected)"]
    assert _problems("get", "/api/v1/incidents/{id}", 200, incident | {"version": "1"}) == [
        "['version']: \"1\" is not of type \"integer\""]
    row = dict(incident["internal_deadlines"][0], overdue=None)
    assert _problems("get", "/api/v1/incidents/{id}/deadlines", 200, {"items": [row], "total": 1}) == [
        "['items', 0, 'overdue']: null is not of type \"boolean\""]


def test_every_json_answer_is_a_generated_schema():
    """No answer schema is written by hand in the document: each names a component built from a model."""
    hand_written = [f"{method.upper()} {path} {status}"
                    for path, item in DOCUMENT["paths"].items() if path != "/api/v1/openapi.json"
                    for method, operation in item.items() if method != "parameters"
                    for status, response in operation["responses"].items()
                    if "$ref" not in response.get("content", {}).get("application/json", {"schema": {"$ref": ""}})["schema"]]
    assert not hand_written, hand_written
    assert DOCUMENT["components"]["schemas"]["Incident"]["additionalProperties"] is False


def test_two_models_of_one_name_cannot_share_the_document():
    """Components are named after their models: a second, different model of the same name is refused
    rather than silently replacing the first one's schema."""
    class Task(Answer):  # not app.incidents.responses.Task
        title: str

    schemas = Schemas()
    schemas.ref(IncidentTask)
    with pytest.raises(ValueError, match="two different schemas are named Task"):
        schemas.ref(Task)
