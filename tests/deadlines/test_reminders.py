"""Deadline reminders through the escalation outbox and a real SMTP server: approaching once at
due − 24 h, overdue once at the due time, nothing for a filed deadline or the internal chain, and
again when a recalculation moves the due time."""
from __future__ import annotations

import datetime as dt

import pytest

from app.jobs.ticker import tick
from tests.deadlines.support import API, INTERNAL, by_kind, create, deadline_row, file, patch, pd, reminders, utc
from tests.escalation.conftest import free_port

S, H, D = dt.timedelta(seconds=1), dt.timedelta(hours=1), dt.timedelta(days=1)
PRELIM_DUE = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)   # detected 2026-11-20T10:00+09:00 + 3 days
FINAL_DUE = dt.datetime(2026, 12, 20, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def people(factory):
    """CSIRT and 統括情報セキュリティ責任者 (who hear of deadlines), a 管理者 (who does not)."""
    return {"csirt": factory.user({"ageo": ["csirt"]}, email="csirt@city.ageo.example.jp", name="佐藤 花子"),
            "chief": factory.user({"ageo": ["chief_officer"]}, email="chief@city.ageo.example.jp", name="伊藤 次郎"),
            "manager": factory.user({"ageo": ["security_manager"]}, email="manager@city.ageo.example.jp")}


@pytest.fixture
def reportable(client, factory, people):
    headers = factory.headers(people["csirt"])
    incident = create(client, headers, **pd(persons=150))
    return incident, headers


def _mails(inbox, event: str | None = None) -> list[tuple[str, str]]:
    return [(m["To"], m["Subject"]) for m in inbox.reminders if event is None or m["X-Csirt-Event"] == event]


def test_approaching_once_at_due_minus_24h_then_overdue_once_at_due(app, client, smtp_server, people, reportable):
    incident, _headers = reportable
    prelim_id = by_kind(incident)["ppc_preliminary"]["id"]
    tick(PRELIM_DUE - D - S)
    assert reminders(incident["id"]) == [] and smtp_server.reminders == []

    tick(PRELIM_DUE - D)
    rows = reminders(incident["id"])
    assert sorted((n.event, n.recipient, n.role, n.channel, n.status) for n in rows) == [
        ("deadline_approaching", "chief@city.ageo.example.jp", "chief_officer", "email", "sent"),
        ("deadline_approaching", "chief@city.ageo.example.jp", "chief_officer", "in_app", "sent"),
        ("deadline_approaching", "csirt@city.ageo.example.jp", "csirt", "email", "sent"),
        ("deadline_approaching", "csirt@city.ageo.example.jp", "csirt", "in_app", "sent")]
    assert {n.deadline_id for n in rows} == {prelim_id} and {n.level for n in rows} == {0}
    assert sorted(m["To"] for m in smtp_server.reminders) == ["chief@city.ageo.example.jp", "csirt@city.ageo.example.jp"]
    for message in smtp_server.reminders:
        assert message["X-Csirt-Event"] == "deadline_approaching"
        assert incident["reference"] in message["Subject"] and "期限が近づいています" in message["Subject"]
        assert "個人情報保護委員会への漏えい等報告（速報）" in message["Subject"]
        assert "期日: 2026-11-23 10:00" in message.get_content()

    for moment in (PRELIM_DUE - D + S, PRELIM_DUE - H, PRELIM_DUE - S):   # nothing more before the due time
        tick(moment)
    assert len(reminders(incident["id"])) == 4 and len(smtp_server.reminders) == 2

    tick(PRELIM_DUE)
    overdue = reminders(incident["id"], event="deadline_overdue")
    assert sorted((n.recipient, n.channel, n.status) for n in overdue) == [
        ("chief@city.ageo.example.jp", "email", "sent"), ("chief@city.ageo.example.jp", "in_app", "sent"),
        ("csirt@city.ageo.example.jp", "email", "sent"), ("csirt@city.ageo.example.jp", "in_app", "sent")]
    assert {n.deadline_id for n in overdue} == {prelim_id}
    late_mails = _mails(smtp_server, "deadline_overdue")
    assert len(late_mails) == 2 and all(incident["reference"] in s and "【期限超過】" in s for _to, s in late_mails)

    for moment in (PRELIM_DUE + S, PRELIM_DUE + H, PRELIM_DUE + 2 * D):   # once only
        tick(moment)
    assert len(reminders(incident["id"])) == 8 and len(smtp_server.reminders) == 4
    # the manager is no addressee of deadline reminders
    assert "manager@city.ageo.example.jp" not in {n.recipient for n in reminders(incident["id"])}
    row = deadline_row(incident["id"], "ppc_preliminary")
    assert row.approaching_notified_at == PRELIM_DUE - D and row.overdue_notified_at == PRELIM_DUE


def test_the_first_tick_after_the_due_time_sends_only_overdue(app, client, smtp_server, people, reportable):
    incident, _headers = reportable
    tick(PRELIM_DUE + H)
    assert {n.event for n in reminders(incident["id"])} == {"deadline_overdue"}
    tick(PRELIM_DUE + 2 * H)
    assert len(reminders(incident["id"])) == 4
    assert [m["X-Csirt-Event"] for m in smtp_server.reminders] == ["deadline_overdue"] * 2


def test_a_filed_deadline_is_reminded_no_more(app, client, smtp_server, people, reportable):
    incident, headers = reportable
    prelim = by_kind(incident)["ppc_preliminary"]
    tick(PRELIM_DUE - D)
    assert len(smtp_server.reminders) == 2
    assert file(client, headers, incident["id"], prelim["id"], reference="PPC-1").status_code == 200
    for moment in (PRELIM_DUE, PRELIM_DUE + D):
        tick(moment)
    assert {n.event for n in reminders(incident["id"], deadline_id=prelim["id"])} == {"deadline_approaching"}
    assert len(smtp_server.reminders) == 2
    # the final report, unfiled, still is
    tick(FINAL_DUE - D)
    final_rows = reminders(incident["id"], deadline_id=by_kind(incident)["ppc_final"]["id"])
    assert {(n.event, n.status) for n in final_rows} == {("deadline_approaching", "sent")} and len(final_rows) == 4
    assert len(smtp_server.reminders) == 4


def test_a_filed_deadline_never_reminded_stays_silent(app, client, smtp_server, people, reportable):
    incident, headers = reportable
    assert file(client, headers, incident["id"], by_kind(incident)["ppc_preliminary"]["id"]).status_code == 200
    tick(PRELIM_DUE + D)
    assert {n.deadline_id for n in reminders(incident["id"])} == set()
    assert smtp_server.reminders == []


def test_a_moved_due_time_is_reminded_again(app, client, smtp_server, people, reportable):
    incident, headers = reportable
    tick(PRELIM_DUE - D)
    assert len(smtp_server.reminders) == 2
    moved = patch(client, headers, incident, detected_at="2026-11-21T10:00:00+09:00")
    new_due = utc(by_kind(moved)["ppc_preliminary"]["due_at"])
    assert new_due == PRELIM_DUE + D and deadline_row(incident["id"], "ppc_preliminary").round == 2
    tick(new_due - D - S)
    assert len(smtp_server.reminders) == 2
    tick(new_due - D)
    approaching = reminders(incident["id"], event="deadline_approaching")
    assert sorted((n.cycle, n.recipient, n.channel) for n in approaching) == sorted(
        (cycle, who, channel) for cycle in (1, 2) for who in ("chief@city.ageo.example.jp", "csirt@city.ageo.example.jp")
        for channel in ("email", "in_app"))
    assert len(smtp_server.reminders) == 4
    assert all("【期限が近づいています】" in s and incident["reference"] in s for _to, s in _mails(smtp_server))
    assert "期日: 2026-11-24 10:00" in smtp_server.reminders[-1].get_content()
    tick(new_due)
    assert len(_mails(smtp_server, "deadline_overdue")) == 2


def test_internal_duties_are_never_reminded(app, client, factory, smtp_server, people):
    headers = factory.headers(people["csirt"])
    incident = create(client, headers)     # no personal data: only the internal chain
    internal_ids = {d["id"] for d in incident["internal_deadlines"]}
    assert {d["kind"] for d in incident["internal_deadlines"]} == INTERNAL
    for moment in (utc("2026-11-20T01:00:00Z"), utc("2026-11-21T01:00:00Z"), utc("2026-11-25T00:00:00Z")):
        tick(moment)
    assert reminders(incident["id"]) == [] and smtp_server.reminders == []
    assert all(deadline_row(incident["id"], k).approaching_notified_at is None for k in INTERNAL)
    assert internal_ids


def test_an_added_notice_is_reminded(app, client, smtp_server, people, reportable):
    incident, headers = reportable
    response = client.post(f"{API}/{incident['id']}/deadlines", headers=headers,
                           json={"kind": "public_announcement", "due_at": "2026-12-01T17:00:00+09:00"})
    assert response.status_code == 201
    due = utc(response.json["due_at"])
    tick(due - D)
    rows = reminders(incident["id"], deadline_id=response.json["id"])
    assert {(n.event, n.status) for n in rows} == {("deadline_approaching", "sent")} and len(rows) == 4
    assert [m for m in smtp_server.reminders if "公表" in m["Subject"]]


def test_facts_change_after_a_reminder_removes_the_deadline(app, client, smtp_server, people, reportable):
    incident, headers = reportable
    tick(PRELIM_DUE - D)
    assert len(reminders(incident["id"])) == 4
    version = client.get(f"{API}/{incident['id']}", headers=headers).json["version"]
    response = client.patch(f"{API}/{incident['id']}", headers=headers,
                            json={"version": version, "personal_data": {"involved": True, "persons": 50}})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.json["deadlines"] == []


def test_not_incident_after_a_reminder_closes(app, client, smtp_server, people, reportable):
    incident, headers = reportable
    tick(PRELIM_DUE - D)
    response = client.post(f"{API}/{incident['id']}/stage", headers=headers,
                           json={"to": "closed", "not_incident": True, "reason": "誤検知"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.json["deadlines"] == []


def test_no_reminder_after_facts_change_before_any_reminder(app, client, smtp_server, people, reportable):
    incident, headers = reportable
    assert patch(client, headers, incident, **pd(persons=50))["deadlines"] == []
    tick(PRELIM_DUE + D)
    assert reminders(incident["id"]) == [] and smtp_server.reminders == []


def test_unsent_reminders_are_cancelled_when_the_deadline_is_filed(app, client, people, reportable, monkeypatch):
    """SMTP down: the approaching e-mails wait for a retry; filing the deadline cancels them."""
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())  # nothing listens there
    incident, headers = reportable
    prelim_id = by_kind(incident)["ppc_preliminary"]["id"]
    tick(PRELIM_DUE - D)
    waiting = [n for n in reminders(incident["id"]) if n.channel == "email"]
    assert [(n.status, n.attempts) for n in waiting] == [("pending", 1), ("pending", 1)]
    assert file(client, headers, incident["id"], prelim_id, reference="PPC-1").status_code == 200
    assert sorted((n.channel, n.status) for n in reminders(incident["id"])) == [
        ("email", "cancelled"), ("email", "cancelled"), ("in_app", "sent"), ("in_app", "sent")]
    tick(PRELIM_DUE + H)  # the retry time has come: nothing is sent, nothing new is written
    assert sorted(n.status for n in reminders(incident["id"])) == ["cancelled", "cancelled", "sent", "sent"]
