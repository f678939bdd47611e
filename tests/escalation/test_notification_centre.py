"""The notification centre (issue 18, §2): the in-app messages the outbox writes, seen in the
header's count and on /notifications; opening one marks it read and leads to its incident; nobody
sees another person's messages, nor messages of an incident they may no longer read."""
from __future__ import annotations

import re

import pytest

from app.core.timeutil import now_utc
from app.jobs.ticker import tick
from tests.escalation.support import (
    HIGH,
    headers,
    load_roster,
    notifications,
    open_incident,
    person,
    started,
)
from tests.factories import csrf_token

CSIRT, CHIEF, OTHER = "csirt@ageo.example.jp", "chief@ageo.example.jp", "other@ageo.example.jp"
PASSWORD = "correct horse battery"


@pytest.fixture
def roster(app, tmp_path):
    people = [person(CSIRT, "佐藤 花子", ["csirt"]), person(CHIEF, "伊藤 次郎", ["chief_officer"]),
              person(OTHER, "鈴木 三郎", ["csirt"])]
    load_roster(tmp_path, people, escalation={"high": [{"notify": ["csirt"], "after": "0s"}]})
    return people


def _open(client, factory) -> dict:
    """Detected now: no deadline is near, so the escalation's message is the only one."""
    return open_incident(client, headers(factory, CSIRT), HIGH, detected_at=now_utc().isoformat())


def _login(client, email: str) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302


def _badge(html: str) -> int:
    match = re.search(r'class="count-badge"[^>]*>(\d+)<', html)
    return int(match.group(1)) if match else 0


def test_in_app_messages_are_counted_listed_and_opened(app, client, factory, roster):
    incident = _open(client, factory)
    tick(started(incident["id"]))
    mine = notifications(incident["id"], channel="in_app", recipient=CSIRT)
    assert [(n.event, n.level, n.read_at) for n in mine] == [("escalation", 1, None)]

    _login(client, CSIRT)
    page = client.get("/notifications")
    assert page.status_code == 200 and _badge(page.text) == 1
    assert incident["reference"] in page.text and "第1段階の連絡（重大度 高）" in page.text and "未読" in page.text

    refused = client.post(f"/notifications/{mine[0].id}/open", data={})  # no CSRF token: nothing read
    assert refused.status_code == 400 and notifications(incident["id"], id=mine[0].id)[0].read_at is None
    opened = client.post(f"/notifications/{mine[0].id}/open", data={"csrf_token": csrf_token(page.text)})
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/incidents/{incident['id']}")
    assert notifications(incident["id"], id=mine[0].id)[0].read_at is not None
    assert _badge(client.get("/notifications").text) == 0
    assert incident["reference"] not in client.get("/notifications?unread=1").text


def test_nobody_opens_or_sees_anothers_messages(app, client, factory, roster):
    incident = _open(client, factory)
    tick(started(incident["id"]))
    theirs = notifications(incident["id"], channel="in_app", recipient=OTHER)[0]
    _login(client, CHIEF)  # the chain reaches csirt only: the chief has no message
    page = client.get("/notifications")
    assert _badge(page.text) == 0 and incident["reference"] not in page.text
    assert client.post(f"/notifications/{theirs.id}/open", data={"csrf_token": csrf_token(page.text)}).status_code == 404
    assert client.post("/notifications/999999999999/open", data={"csrf_token": csrf_token(page.text)}).status_code == 404
    assert notifications(incident["id"], id=theirs.id)[0].read_at is None


def test_mark_all_read_needs_csrf_and_touches_only_mine(app, client, factory, roster):
    incident = _open(client, factory)
    tick(started(incident["id"]))
    _login(client, CSIRT)
    assert client.post("/notifications/read", data={}).status_code == 400
    assert notifications(incident["id"], channel="in_app", recipient=CSIRT)[0].read_at is None
    page = client.get("/notifications")
    client.post("/notifications/read", data={"csrf_token": csrf_token(page.text)})
    assert notifications(incident["id"], channel="in_app", recipient=CSIRT)[0].read_at is not None
    assert notifications(incident["id"], channel="in_app", recipient=OTHER)[0].read_at is None


def test_a_person_who_left_the_body_no_longer_sees_its_messages(app, client, factory, roster, tmp_path):
    incident = _open(client, factory)
    tick(started(incident["id"]))
    load_roster(tmp_path, [p for p in roster if p["email"] != OTHER])  # OTHER removed: deactivated in ageo
    load_roster(tmp_path, [person(OTHER, "鈴木 三郎", ["csirt"])], organization="toride")
    _login(client, OTHER)
    page = client.get("/notifications")
    assert _badge(page.text) == 0 and incident["reference"] not in page.text
