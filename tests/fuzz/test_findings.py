"""What the fuzzers found, pinned as plain requests (issue 8, item 5).

`make fuzz` (schemathesis, 500 examples per operation) sent `{"assignee": "\\u0000@0"}` to
POST /api/v1/incidents/{id}/tasks: on PostgreSQL the e-mail reaches a query and psycopg refuses it
("PostgreSQL text fields cannot contain NUL (0x00) bytes", sqlalchemy.exc.DataError), which is a 500
where SQLite answers 422. The same unchecked NUL reaches PostgreSQL wherever a value goes to a query
without the `_no_nul` check of app/incidents/schemas.py: the task's assignee, an organization code in
a path, and the login form's e-mail — which needs no account at all.

Fixed: a NUL anywhere in the path, the query or a form stops the request before any query (the API
answers 422, a page 400), and the task's e-mail fields check for NUL like every other text field.
Each test holds on both engines.
"""
from __future__ import annotations

import pytest

from tests.factories import csrf_token
from tests.workflow.helpers import API, assert_error, create, login, tasks


@pytest.fixture
def csirt(app, client, factory) -> tuple[dict, int, int]:
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident_id = create(client, headers)["id"]
    return headers, incident_id, tasks(client, headers, incident_id)[0]["id"]


def test_new_task_with_nul_in_assignee(client, csirt):
    headers, incident_id, _ = csirt
    response = client.post(f"{API}/{incident_id}/tasks", headers=headers,
                           json={"stage": "triage", "title": "確認", "assignee": "\u0000@0"})
    assert_error(response, 422, field="assignee")


def test_task_assignee_with_nul(client, csirt):
    headers, incident_id, task_id = csirt
    response = client.patch(f"{API}/{incident_id}/tasks/{task_id}", headers=headers, json={"assignee": "a\u0000@x"})
    assert_error(response, 422, field="assignee")


@pytest.mark.parametrize("path", ["/api/v1/reviews/a%00b/2026", "/api/v1/reviews/a%00b/2026/q1"])
def test_review_of_an_organization_code_with_nul(client, csirt, path):
    response = client.get(path, headers=csirt[0])
    assert_error(response, 422, "invalid")


def test_login_with_nul_in_the_email(client):
    page = client.get("/login")
    response = client.post("/login", data={"email": "a\u0000@x", "password": "x" * 12, "csrf_token": csrf_token(page.text)})
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/plan/a%00b", "/reviews/a%00b/2026", "/reviews/a%00b/2026/q1"])
def test_pages_of_an_organization_code_with_nul(client, factory, path):
    login(client, factory.user({"ageo": ["csirt"]}))
    assert client.get(path).status_code == 400
