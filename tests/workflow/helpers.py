"""Shared helpers for the workflow tests: the API calls, the error shape, page login."""
from __future__ import annotations

from tests.factories import PASSWORD, csrf_token

API = "/api/v1/incidents"
STAGES = ["triage", "report", "preserve", "contain", "recover", "prevent", "closed"]


def incident_body(**overrides) -> dict:
    return {"organization": "ageo", "title": "ウイルス感染の疑い", "threat_category": "intentional",
            "subcategory": "malware", "detected_at": "2026-11-20T10:00:00+09:00"} | overrides


def create(client, headers, **overrides) -> dict:
    response = client.post(API, headers=headers, json=incident_body(**overrides))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def assert_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    assert set(error) == {"code", "message", "fields"}
    assert isinstance(error["message"], str) and error["message"]
    assert code is None or error["code"] == code, error
    assert field is None or field in error["fields"], error["fields"]
    return error


def tasks(client, headers, incident_id: int) -> list[dict]:
    response = client.get(f"{API}/{incident_id}/tasks", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["total"] == len(response.json["items"])
    return response.json["items"]


def by_code(items: list[dict]) -> dict[str, dict]:
    return {t["code"]: t for t in items if t["code"]}


def timeline(client, headers, incident_id: int) -> list[dict]:
    response = client.get(f"{API}/{incident_id}/timeline", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["total"] == len(response.json["items"])
    return response.json["items"]


def kinds(client, headers, incident_id: int) -> list[str]:
    return [e["kind"] for e in timeline(client, headers, incident_id)]


def patch_task(client, headers, incident_id: int, task_id: int, **body):
    return client.patch(f"{API}/{incident_id}/tasks/{task_id}", headers=headers, json=body)


def finish_required(client, headers, incident_id: int, stage: str) -> list[str]:
    """Marks every open required task of `stage` done; returns their codes (or titles)."""
    done = []
    for task in tasks(client, headers, incident_id):
        if task["stage"] == stage and task["required"] and not task["done"]:
            response = patch_task(client, headers, incident_id, task["id"], done=True)
            assert response.status_code == 200, response.get_data(as_text=True)
            done.append(task["code"] or task["title"])
    return done


def move(client, headers, incident_id: int, to: str, **body):
    return client.post(f"{API}/{incident_id}/stage", headers=headers, json={"to": to} | body)


def advance_to(client, headers, incident_id: int, target: str) -> None:
    """Walks forward stage by stage, finishing each stage's required tasks first."""
    current = client.get(f"{API}/{incident_id}", headers=headers).json["stage"]
    for stage in STAGES[STAGES.index(current) + 1: STAGES.index(target) + 1]:
        finish_required(client, headers, incident_id, STAGES[STAGES.index(stage) - 1])
        response = move(client, headers, incident_id, stage)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.json["stage"] == stage


def login(client, user, password: str = PASSWORD):
    page = client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": password,
                                           "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def page_token(client, incident_id: int) -> str:
    page = client.get(f"/incidents/{incident_id}")
    assert page.status_code == 200, page.get_data(as_text=True)
    return csrf_token(page.text)
