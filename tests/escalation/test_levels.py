"""Levels fire in order at their delays (counted from the start), a repeat is bounded, the chain
ends exhausted, and acknowledgement by API, by the page and by the e-mail link stops it."""
from __future__ import annotations

import datetime as dt

import pytest

from app.jobs.ticker import tick
from tests.escalation.support import (
    HIGH,
    ack_path,
    escalation,
    headers,
    load_roster,
    notifications,
    open_incident,
    person,
    recipients,
    started,
    timeline,
    user,
)
from tests.factories import csrf_token

S = dt.timedelta(seconds=1)
M = dt.timedelta(minutes=1)
CSIRT, CHIEF, CISO = "csirt@ageo.example.jp", "chief@ageo.example.jp", "ciso@ageo.example.jp"
CHAIN = {"high": [
    {"notify": ["csirt"], "after": "0s"},
    {"notify": ["chief_officer"], "after": "10m"},
    {"notify": ["ciso"], "after": "25m", "repeat": {"times": 2, "every": "5m"}},
]}


@pytest.fixture
def roster(app, tmp_path):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"]), person(CHIEF, "伊藤 次郎", ["chief_officer"]),
                           person(CISO, "加藤 三郎", ["ciso"])], escalation=CHAIN)


def _open(client, factory):
    incident = open_incident(client, headers(factory, CSIRT), HIGH)
    assert incident["severity"] == "high" and incident["escalation"]["state"] == "active"
    return incident, started(incident["id"])


def test_levels_fire_at_their_delays_from_the_start_then_repeat_at_most_times(app, client, factory, roster,
                                                                             smtp_server):
    incident, t0 = _open(client, factory)
    assert escalation(incident["id"]).next_at == t0  # level 1: after 0s

    tick(t0 - S)
    assert smtp_server.messages == []
    tick(t0)
    assert recipients(smtp_server) == [CSIRT]
    tick(t0 + 10 * M - S)
    assert recipients(smtp_server) == [CSIRT]
    tick(t0 + 10 * M)
    assert recipients(smtp_server) == [CSIRT, CHIEF]
    # level 3 is 25 minutes after the start, not 25 minutes after level 2 (that would be 35)
    tick(t0 + 25 * M - S)
    assert recipients(smtp_server) == [CSIRT, CHIEF]
    tick(t0 + 25 * M)
    assert recipients(smtp_server) == [CSIRT, CHIEF, CISO]
    assert escalation(incident["id"]).next_at == t0 + 30 * M
    tick(t0 + 30 * M)
    tick(t0 + 35 * M)
    assert recipients(smtp_server) == [CSIRT, CHIEF, CISO, CISO, CISO]

    for later in (40 * M, 2 * 60 * M, 24 * 60 * M):  # repeat.times = 2: nothing after the second repeat
        tick(t0 + later)
    assert recipients(smtp_server) == [CSIRT, CHIEF, CISO, CISO, CISO]

    state = escalation(incident["id"])
    assert state.state == "exhausted" and state.next_at is None and state.next_step == 5
    emails = notifications(incident["id"], channel="email", event="escalation")
    assert [(n.level, n.step, n.recipient) for n in emails] == [
        (1, 0, CSIRT), (2, 1, CHIEF), (3, 2, CISO), (3, 3, CISO), (3, 4, CISO)]
    assert {n.status for n in emails} == {"sent"} and all(n.attempts == 1 for n in emails)
    assert [e.data["level"] for e in timeline(incident["id"], "escalated")] == [1, 2, 3, 3, 3]
    answer = client.get(f"/api/v1/incidents/{incident['id']}", headers=headers(factory, CSIRT)).json
    assert answer["escalation"]["state"] == "exhausted" and answer["escalation"]["level"] == 3
    assert answer["escalation"]["next_at"] is None


def test_a_tick_after_downtime_fires_every_level_that_fell_due(app, client, factory, roster, smtp_server):
    """Issue 4: "whatever fell due while every process was down fires at the next tick"."""
    incident, t0 = _open(client, factory)
    tick(t0 + 26 * M)  # the first tick after a 26-minute outage: levels 1, 2 and 3 are all overdue
    assert recipients(smtp_server) == [CSIRT, CHIEF, CISO]


def test_overdue_levels_are_caught_up_in_order_and_once(app, client, factory, roster, smtp_server):
    incident, t0 = _open(client, factory)
    for _ in range(5):
        tick(t0 + 26 * M)
    assert recipients(smtp_server) == [CSIRT, CHIEF, CISO]
    assert escalation(incident["id"]).next_at == t0 + 30 * M


def test_acknowledgement_by_api_stops_later_levels(app, client, factory, roster, smtp_server):
    incident, t0 = _open(client, factory)
    tick(t0)
    tick(t0 + 10 * M)
    assert recipients(smtp_server) == [CSIRT, CHIEF]

    response = client.post(f"/api/v1/incidents/{incident['id']}/acknowledge", headers=headers(factory, CHIEF))
    assert response.status_code == 200
    assert response.json["escalation"]["state"] == "acknowledged" and response.json["acknowledged_at"]
    again = client.post(f"/api/v1/incidents/{incident['id']}/acknowledge", headers=headers(factory, CSIRT))
    assert again.status_code == 200 and again.json["acknowledged_at"] == response.json["acknowledged_at"]

    for later in (25 * M, 30 * M, 35 * M, 5 * 60 * M):
        tick(t0 + later)
    assert recipients(smtp_server) == [CSIRT, CHIEF]
    state = escalation(incident["id"])
    assert state.state == "acknowledged" and state.next_at is None
    assert state.acknowledged_by_id == user(CHIEF).id
    acks = timeline(incident["id"], "acknowledged")
    assert len(acks) == 1 and acks[0].data["via"] == "API" and acks[0].actor_id == user(CHIEF).id
    assert not any(n.level == 3 for n in notifications(incident["id"]))


def _login(client, email):
    page = client.get("/login")
    response = client.post("/login", data={"email": email, "password": "correct horse battery",
                                           "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302


def test_acknowledgement_on_the_page_needs_csrf_and_stops_later_levels(app, client, factory, roster, smtp_server):
    incident, t0 = _open(client, factory)
    tick(t0)
    _login(client, CSIRT)
    page = client.get(f"/incidents/{incident['id']}")
    assert page.status_code == 200 and "受領（確認）を登録" in page.text

    refused = client.post(f"/incidents/{incident['id']}/acknowledge", data={})
    assert refused.status_code == 400
    assert escalation(incident["id"]).state == "active"

    response = client.post(f"/incidents/{incident['id']}/acknowledge", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/incidents/{incident['id']}#escalation")
    state = escalation(incident["id"])
    assert state.state == "acknowledged" and state.acknowledged_by_id == user(CSIRT).id
    assert [e.data["via"] for e in timeline(incident["id"], "acknowledged")] == ["画面"]

    tick(t0 + 10 * M)
    tick(t0 + 25 * M)
    assert recipients(smtp_server) == [CSIRT]
    shown = client.get(f"/incidents/{incident['id']}")
    assert "受領済み" in shown.text and "受領（確認）を登録" not in shown.text


def test_acknowledgement_by_the_mail_link_stops_later_levels(app, client, factory, roster, smtp_server):
    incident, t0 = _open(client, factory)
    tick(t0)
    path = ack_path(smtp_server.messages[0])
    page = client.get(path)
    assert page.status_code == 200
    response = client.post(path, data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 200 and "受領済み" in response.text
    assert escalation(incident["id"]).state == "acknowledged"

    tick(t0 + 10 * M)
    tick(t0 + 25 * M)
    assert recipients(smtp_server) == [CSIRT]
    assert [e.data["via"] for e in timeline(incident["id"], "acknowledged")] == ["メールのリンク"]
