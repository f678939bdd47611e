"""A roster `escalation:` replaces the default for its severity; the chain is snapshotted when a
cycle starts; raising severity starts a new cycle (cancelling unsent messages), lowering does not."""
from __future__ import annotations

import datetime as dt

import pytest
from aiosmtpd.controller import Controller

from app.core.playbooks import playbooks
from app.escalation.policy import Level, expand
from app.jobs.ticker import tick
from tests.escalation.conftest import Inbox, free_port
from tests.escalation.support import (
    HIGH,
    LOW,
    MEDIUM,
    escalation,
    headers,
    load_roster,
    notifications,
    open_incident,
    person,
    recipients,
    started,
    timeline,
)

M = dt.timedelta(minutes=1)
CSIRT, MANAGER = "csirt@ageo.example.jp", "manager@ageo.example.jp"
CHIEF, CISO = "chief@ageo.example.jp", "ciso@ageo.example.jp"
PEOPLE = [person(CSIRT, "佐藤 花子", ["csirt"]), person(MANAGER, "田中 一郎", ["security_manager"]),
          person(CHIEF, "伊藤 次郎", ["chief_officer"]), person(CISO, "加藤 三郎", ["ciso"])]
HIGH_CHAIN = [{"notify": ["csirt"], "after": "0s"}, {"notify": ["chief_officer"], "after": "10m"}]


def _steps(levels: list[dict]) -> list[dict]:
    return expand([Level.model_validate(level) for level in levels])


def test_roster_chain_replaces_the_default_only_for_its_severity(app, client, factory, tmp_path, smtp_server):
    result = load_roster(tmp_path, PEOPLE, escalation={"high": HIGH_CHAIN})
    assert result.plan_changed
    hdrs = headers(factory, CSIRT)
    high = open_incident(client, hdrs, HIGH)
    medium = open_incident(client, hdrs, MEDIUM)

    assert escalation(high["id"]).policy == _steps(HIGH_CHAIN)
    assert timeline(high["id"], "escalation_started")[0].data["source"] == "roster"
    default_medium = expand(playbooks().escalation.policies["medium"])
    assert escalation(medium["id"]).policy == default_medium
    assert timeline(medium["id"], "escalation_started")[0].data["source"] == "default"

    t0 = started(high["id"])
    tick(t0)
    assert recipients(smtp_server, high["reference"]) == [CSIRT]  # the default would add the security_manager
    tick(t0 + 10 * M)
    assert recipients(smtp_server, high["reference"]) == [CSIRT, CHIEF]  # default: chief_officer at 30m


def test_running_escalation_keeps_its_snapshot_when_the_roster_changes(app, client, factory, tmp_path, smtp_server):
    load_roster(tmp_path, PEOPLE, escalation={"high": HIGH_CHAIN})
    running = open_incident(client, headers(factory, CSIRT), HIGH)
    snapshot = escalation(running["id"]).policy

    new_chain = [{"notify": ["ciso"], "after": "0s"}, {"notify": ["security_manager"], "after": "5m"}]
    assert load_roster(tmp_path, PEOPLE, escalation={"high": new_chain}).plan_changed
    assert escalation(running["id"]).policy == snapshot

    t0 = started(running["id"])
    for offset in (0 * M, 5 * M, 10 * M, 60 * M):
        tick(t0 + offset)
    assert recipients(smtp_server, running["reference"]) == [CSIRT, CHIEF]

    fresh = open_incident(client, headers(factory, CSIRT), HIGH)
    assert escalation(fresh["id"]).policy == _steps(new_chain)
    t1 = started(fresh["id"])
    tick(t1)
    tick(t1 + 5 * M)
    assert recipients(smtp_server, fresh["reference"]) == [CISO, MANAGER]


def _patch(client, hdrs, incident_id, **body):
    version = client.get(f"/api/v1/incidents/{incident_id}", headers=hdrs).json["version"]
    response = client.patch(f"/api/v1/incidents/{incident_id}", headers=hdrs, json={"version": version} | body)
    assert response.status_code == 200, response.json
    return response.json


@pytest.mark.parametrize("raise_by", ["override", "facts"])
def test_raising_severity_starts_a_new_cycle_and_cancels_unsent_messages(app, client, factory, tmp_path, raise_by,
                                                                         monkeypatch):
    critical_chain = [{"notify": ["ciso"], "after": "0s"}, {"notify": ["chief_officer"], "after": "20m"}]
    low_chain = [{"notify": ["csirt"], "after": "0s"}, {"notify": ["security_manager"], "after": "10m"}]
    load_roster(tmp_path, PEOPLE, escalation={"low": low_chain, "critical": critical_chain})
    hdrs = headers(factory, CSIRT)
    incident = open_incident(client, hdrs, LOW)
    assert incident["severity"] == "low"
    t0 = started(incident["id"])

    # level 1 of cycle 1 while the mail server is down: the e-mail stays pending
    dead = free_port()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", dead)
    tick(t0)
    pending = notifications(incident["id"], channel="email")
    assert [(n.recipient, n.status, n.attempts) for n in pending] == [(CSIRT, "pending", 1)]

    if raise_by == "override":
        answer = _patch(client, hdrs, incident["id"], severity="critical", severity_reason="住民情報への波及のおそれ")
    else:
        answer = _patch(client, hdrs, incident["id"], network_segments=["mynumber"], impacts=["tampering"])
    assert answer["severity"] == "critical"
    assert answer["escalation"]["state"] == "active" and answer["escalation"]["cycle"] == 2

    old, new = escalation(incident["id"], 1), escalation(incident["id"], 2)
    assert old.state == "superseded" and old.next_at is None
    assert new.severity == "critical" and new.policy == _steps(critical_chain)
    assert new.started_at >= t0 and new.next_at == new.started_at
    assert notifications(incident["id"], channel="email", cycle=1)[0].status == "cancelled"

    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=dead)
    server.start()
    try:
        t1 = new.started_at
        tick(t1 + 12 * M)  # cycle 1 would have reached the security_manager at 10m: it must not
        assert [m["To"] for m in inbox.messages] == [CISO]
        tick(t1 + 20 * M)
        assert [m["To"] for m in inbox.messages] == [CISO, CHIEF]
    finally:
        server.stop()

    cycle1 = notifications(incident["id"], cycle=1)
    assert not any(n.recipient == MANAGER for n in cycle1)
    assert [n.status for n in cycle1 if n.channel == "email"] == ["cancelled"]
    started_events = timeline(incident["id"], "escalation_started")
    assert [e.data["severity"] for e in started_events] == ["low", "critical"]


def test_lowering_severity_keeps_the_running_cycle(app, client, factory, tmp_path, smtp_server):
    load_roster(tmp_path, PEOPLE, escalation={"high": HIGH_CHAIN})
    hdrs = headers(factory, CSIRT)
    incident = open_incident(client, hdrs, HIGH)
    t0 = started(incident["id"])
    tick(t0)

    answer = _patch(client, hdrs, incident["id"], severity="low", severity_reason="影響は限定的と判明")
    assert answer["severity"] == "low"
    assert answer["escalation"]["cycle"] == 1 and answer["escalation"]["state"] == "active"
    assert escalation(incident["id"]).severity == "high"
    assert len(timeline(incident["id"], "escalation_started")) == 1

    tick(t0 + 10 * M)
    assert recipients(smtp_server, incident["reference"]) == [CSIRT, CHIEF]
    assert {n.status for n in notifications(incident["id"])} == {"sent"}
