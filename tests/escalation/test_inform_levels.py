"""Inform levels (issue 17, item 5): an acknowledgement stops the pages, not the reports. The 統括
and the CISO of a high or critical incident hear of it whoever acknowledged first, once each,
without the repeats; a medium incident's later levels stop as before."""
from __future__ import annotations

import datetime as dt

import pytest

from app.core.playbooks import playbooks
from app.escalation.policy import expand, following_step
from app.jobs.ticker import tick
from tests.escalation.support import (
    CRITICAL,
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
CHIEF, SYSADMIN, CISO = "chief@ageo.example.jp", "sysadmin@ageo.example.jp", "ciso@ageo.example.jp"


@pytest.fixture
def roster(app, tmp_path):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"]), person(MANAGER, "田中 一郎", ["security_manager"]),
                           person(CHIEF, "伊藤 次郎", ["chief_officer"]), person(SYSADMIN, "小林 五郎", ["system_admin"]),
                           person(CISO, "加藤 三郎", ["ciso"])])


def _acknowledge(client, factory, incident_id: int, email: str) -> None:
    response = client.post(f"/api/v1/incidents/{incident_id}/acknowledge", headers=headers(factory, email))
    assert response.status_code == 200, response.json


def test_default_chains_inform_the_chief_and_the_ciso_of_high_and_critical(app):
    for severity in ("critical", "high"):
        levels = playbooks().escalation.policies[severity]
        informed = [t for level in levels if level.inform for t in level.notify]
        assert informed == ["chief_officer", "system_admin", "ciso"], severity
    medium = playbooks().escalation.policies["medium"]
    assert not any(level.inform for level in medium)
    assert "system_admin" in medium[1].notify  # the 管理者 tells the 統括 and the 情報システム管理者


def test_acknowledged_at_level_one_the_chief_and_ciso_of_a_critical_incident_still_hear(app, client, factory, roster,
                                                                                       smtp_server):
    incident = open_incident(client, headers(factory, CSIRT), CRITICAL)
    assert incident["severity"] == "critical"
    t0 = started(incident["id"])
    tick(t0)
    assert sorted(recipients(smtp_server)) == [CSIRT, MANAGER]
    _acknowledge(client, factory, incident["id"], CSIRT)
    state = escalation(incident["id"])
    assert state.state == "acknowledged" and state.next_at == t0 + 10 * M  # the inform level to come

    tick(t0 + 10 * M)
    assert sorted(recipients(smtp_server)[2:]) == [CHIEF, SYSADMIN]
    tick(t0 + 30 * M)
    for later in (60 * M, 90 * M, 24 * 60 * M):  # the CISO's repeats are for an unanswered page: not sent
        tick(t0 + later)
    assert recipients(smtp_server)[4:] == [CISO]
    state = escalation(incident["id"])
    assert state.state == "acknowledged" and state.next_at is None

    informed = notifications(incident["id"], channel="email", event="escalation_inform")
    assert [(n.level, n.recipient) for n in informed] == [(2, CHIEF), (2, SYSADMIN), (3, CISO)]
    assert {n.status for n in informed} == {"sent"}
    body = smtp_server.messages[-1].get_content()
    assert "第3段階の報告です" in body and "すでに受領（確認）されています" in body and "/ack/" not in body
    assert [e.summary.split(":")[0] for e in timeline(incident["id"], "escalated")] == [
        "第1段階", "第2段階（報告）", "第3段階（報告）"]


def test_an_inform_message_waiting_in_the_outbox_is_not_cancelled_by_acknowledgement(app, client, factory, roster,
                                                                                     monkeypatch):
    incident = open_incident(client, headers(factory, CSIRT), CRITICAL)
    t0 = started(incident["id"])
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")  # e-mail rows are written; nothing delivers them here
    from app.escalation.steps import fire_due_steps
    fire_due_steps(t0, 200)
    fire_due_steps(t0 + 10 * M, 200)
    _acknowledge(client, factory, incident["id"], CHIEF)
    statuses = {(n.event, n.level, n.status) for n in notifications(incident["id"], channel="email")}
    assert statuses == {("escalation", 1, "cancelled"), ("escalation_inform", 2, "pending")}


def test_a_medium_incident_acknowledged_stops_its_later_levels(app, client, factory, roster, smtp_server):
    incident = open_incident(client, headers(factory, CSIRT), MEDIUM)
    assert incident["severity"] == "medium"
    t0 = started(incident["id"])
    tick(t0)
    _acknowledge(client, factory, incident["id"], CSIRT)
    tick(t0 + 5 * 60 * M)
    assert CHIEF not in recipients(smtp_server) and SYSADMIN not in recipients(smtp_server)
    state = escalation(incident["id"])
    assert state.state == "acknowledged" and state.next_at is None


@pytest.mark.parametrize("severity", ["critical", "high", "medium", "low"])
def test_after_acknowledgement_only_first_firings_of_inform_levels_follow(app, severity):
    steps = expand(playbooks().escalation.policies[severity])
    for acknowledged_after in range(-1, len(steps)):
        fired, index = [], following_step(steps, acknowledged_after, acknowledged=True)
        while index < len(steps):
            fired.append(index)
            index = following_step(steps, index, acknowledged=True)
        assert all(steps[i]["inform"] and steps[i]["repeat"] == 0 for i in fired)
        assert fired == [i for i in range(acknowledged_after + 1, len(steps))
                         if steps[i]["inform"] and steps[i]["repeat"] == 0]
