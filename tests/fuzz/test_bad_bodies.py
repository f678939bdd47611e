"""Issue 15 item 8: three classes of bad body, sent to every operation of the OpenAPI document that
takes a JSON body (a new one without a valid body here fails the test):

- nesting 2,000 deep, in place of the body and inside a field: 400/422 in the error shape, never 500;
- null for each field whose schema does not admit null: 422 naming the field, nothing changed;
- `{}` for each PATCH: 422, and the answer names the fields one may send.
"""
from __future__ import annotations

import json

import pytest

from app.api.openapi import build_document
from tests.records.helpers import BODY as RECORD_BODY
from tests.workflow.helpers import API, assert_error, create, tasks

DOCUMENT = build_document()
DEPTH = 2000


def _operations() -> list[tuple[str, str, str]]:
    found = []
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            if "application/json" in content:
                found.append((method.upper(), path, content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]))
    return sorted(found)


OPERATIONS = _operations()
# A valid body per schema, so that what is wrong is only what a test puts in.
VALID = {
    "IncidentCreate": lambda ids: {"organization": "ageo", "title": "不正アクセスの疑い", "threat_category": "intentional",
                                   "detected_at": "2026-11-20T10:00:00+09:00"},
    "IncidentUpdate": lambda ids: {"version": ids["version"], "title": "件名を訂正"},
    "StageMove": lambda ids: {"to": "report"},
    "TaskCreate": lambda ids: {"stage": "triage", "title": "委託先へ連絡"},
    "TaskUpdate": lambda ids: {"done": True},
    "NoteCreate": lambda ids: {"body": "端末を回収した。"},
    "RecordInput": lambda ids: dict(RECORD_BODY),
    "RecommendationStatus": lambda ids: {"status": "adopted"},
    "DeadlineMet": lambda ids: {"reference": "PPC-0001"},
    "NoticeCreate": lambda ids: {"kind": "police_report"},
    "ReportCreate": lambda ids: {"organization": "ageo", "title": "IDS検知", "body": "詳細"},
    "ReportOpening": lambda ids: {"title": "IDS検知", "threat_category": "intentional"},
    "RiskAssessmentInput": lambda ids: {"threat_category": "intentional", "likelihood": 2, "loss": 3, "reason": "年2件"},
    "RiskFindingInput": lambda ids: {"source": "audit", "clause": "8-5", "rating": "minor", "text": "研修未受講",
                                     "found_on": "2026-10-01", "due_on": "2026-12-01"},
    "RiskFindingResolution": lambda ids: {"resolved_on": "2026-11-01"},
    "RiskCircumstanceInput": lambda ids: {"noted_on": "2026-10-01", "kind": "law", "text": "法令の改正"},
    "RiskNearMissInput": lambda ids: {"report": ids["report_id"], "threat_category": "intentional"},
}


@pytest.fixture
def world(client, factory) -> dict:
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, personal_data={"involved": True, "sensitive": True, "persons": 3})
    iid = incident["id"]
    record = client.put(f"{API}/{iid}/post-incident-record", headers=headers, json=RECORD_BODY).json
    deadline = client.get(f"{API}/{iid}/deadlines", headers=headers).json["items"][0]
    finding = client.post("/api/v1/risks/ageo/findings", headers=headers, json=VALID["RiskFindingInput"]({})).json
    report = client.post("/api/v1/reports", headers=headers, json=VALID["ReportCreate"]({})).json
    return {"headers": headers, "id": iid, "task_id": tasks(client, headers, iid)[0]["id"],
            "deadline_id": deadline["id"], "recommendation_id": record["recommendations"][0]["id"],
            "finding_id": finding["id"], "report_id": report["id"]}


def _url(path: str, ids: dict) -> str:
    return path.replace("{id}", str(ids["id"])).replace("{task_id}", str(ids["task_id"])) \
        .replace("{deadline_id}", str(ids["deadline_id"])).replace("{recommendation_id}", str(ids["recommendation_id"])) \
        .replace("{org}", "ageo").replace("{finding_id}", str(ids["finding_id"]))


def _send(client, method: str, path: str, world: dict, raw: str):
    return client.open(_url(path, world), method=method, data=raw, headers=world["headers"],
                       content_type="application/json")


def _schema(name: str) -> dict:
    return DOCUMENT["components"]["schemas"][name]


def _admits_null(prop: dict) -> bool:
    return prop.get("type") == "null" or "null" in (prop.get("type") or []) or any(_admits_null(p) for p in prop.get("anyOf", ()))


def test_every_json_body_has_a_valid_example():
    assert {name for _m, _p, name in OPERATIONS} == set(VALID) and len(OPERATIONS) >= 11


def _state(client, world) -> str:
    """What the requests could have changed: the incident, its tasks, deadlines, record and timeline."""
    h, iid = world["headers"], world["id"]
    return json.dumps([client.get(f"{API}/{iid}{suffix}", headers=h).json
                       for suffix in ("", "/tasks", "/deadlines", "/post-incident-record", "/timeline")], sort_keys=True)


@pytest.mark.parametrize(("method", "path", "name"), OPERATIONS, ids=[f"{m} {p}" for m, p, _n in OPERATIONS])
def test_deep_nesting_is_refused(client, world, method, path, name):
    world["version"] = client.get(f"{API}/{world['id']}", headers=world["headers"]).json["version"]
    valid = VALID[name](world)
    first = next(iter(valid))
    bodies = {"a list in place of the body": "[" * DEPTH + "]" * DEPTH,
              "objects in place of the body": '{"a":' * DEPTH + "1" + "}" * DEPTH,
              "a list in a field": json.dumps(valid)[:-1] + f', "{first}": ' + "[" * DEPTH + "]" * DEPTH + "}",
              "objects in a field": json.dumps(valid | {first: "@"}).replace('"@"', '{"a":' * DEPTH + "1" + "}" * DEPTH)}
    before = _state(client, world)
    for label, raw in bodies.items():
        response = _send(client, method, path, world, raw)
        assert response.status_code in (400, 422), (label, response.status_code, response.get_data(as_text=True)[:300])
        assert_error(response, response.status_code)
    assert _state(client, world) == before


@pytest.mark.parametrize(("method", "path", "name"), OPERATIONS, ids=[f"{m} {p}" for m, p, _n in OPERATIONS])
def test_null_is_refused_where_the_schema_does_not_admit_it(client, world, method, path, name):
    properties = _schema(name)["properties"]
    not_null = sorted(field for field, prop in properties.items() if not _admits_null(prop))
    assert not_null or name in ("DeadlineMet",), name  # each other body has at least one such field
    before = _state(client, world)
    for field in not_null:
        world["version"] = client.get(f"{API}/{world['id']}", headers=world["headers"]).json["version"]
        response = _send(client, method, path, world, json.dumps(VALID[name](world) | {field: None}))
        assert_error(response, 422, "invalid", field)
    assert _state(client, world) == before


PATCHES = [(m, p, n) for m, p, n in OPERATIONS if m == "PATCH"]


@pytest.mark.parametrize(("method", "path", "name"), PATCHES, ids=[p for _m, p, _n in PATCHES])
def test_an_empty_patch_is_refused_naming_what_may_be_sent(client, world, method, path, name):
    before = _state(client, world)
    for raw in ("{}", json.dumps({"version": 1}) if "version" in _schema(name)["properties"] else "{}"):
        response = _send(client, method, path, world, raw)
        error = assert_error(response, 422, "invalid")
        said = error["message"] + json.dumps(error["fields"], ensure_ascii=False)
        assert [f for f in _schema(name)["properties"] if f != "version" and f not in said] == [], said
    assert _state(client, world) == before
    assert len(PATCHES) == 3


def test_deep_json_to_a_page_form_is_400(client, factory):
    """Flask-WTF reads a JSON body into a form: that loading is bounded too (app/core/jsonbody.py)."""
    from tests.factories import csrf_token
    from tests.workflow.helpers import login

    login(client, factory.user({"ageo": ["csirt"]}))
    token = csrf_token(client.get("/incidents/new?organization=ageo").text)
    response = client.post("/incidents/new?organization=ageo", data="[" * DEPTH + "]" * DEPTH,
                           content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 400
