"""Stage moves, tasks and notes through the pages: CSRF-checked POSTs, Japanese messages."""
from __future__ import annotations

import html

from app.core.db import db
from app.incidents.models import Incident, Task, TimelineEvent
from tests.workflow.helpers import login, page_token


def _stage(incident_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Incident, incident_id).stage


def _events(incident_id: int) -> list[TimelineEvent]:
    db.session.expire_all()
    return db.session.query(TimelineEvent).filter_by(incident_id=incident_id).order_by(TimelineEvent.id).all()


def test_refused_move_shows_the_japanese_message_and_keeps_the_stage(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    incident = factory.incident(user, subcategory="malware")
    login(client, user)
    token = page_token(client, incident.id)
    response = client.post(f"/incidents/{incident.id}/stage", data={"to": "report", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/incidents/{incident.id}#stage"
    page = client.get(response.headers["Location"])
    text = html.unescape(page.text)
    assert "必須タスクが 3 件残っているため次の段階へ進めません。" in text
    assert "報告者・報告経路・受付日時を記録する" in text
    assert _stage(incident.id) == "triage"
    assert [e.kind for e in _events(incident.id)] == ["created", "escalation_started"]
    # the flash is shown once
    assert "次の段階へ進めません" not in client.get(f"/incidents/{incident.id}").text


def test_without_csrf_token_nothing_moves(client, factory):
    user = factory.user({"ageo": ["ciso"]})
    incident = factory.incident(user)
    login(client, user)
    response = client.post(f"/incidents/{incident.id}/stage",
                           data={"to": "report", "override": "y", "reason": "急ぎ"})
    assert response.status_code == 400
    assert _stage(incident.id) == "triage"


def test_officers_override_with_a_reason_through_the_page(client, factory):
    officer = factory.user({"ageo": ["chief_officer"]})
    incident = factory.incident(factory.user({"ageo": ["csirt"]}))
    login(client, officer)
    token = page_token(client, incident.id)
    page = client.get(f"/incidents/{incident.id}")
    assert "必須タスクが残っていても進める（理由が必要）" in page.text

    no_reason = client.post(f"/incidents/{incident.id}/stage",
                            data={"to": "report", "override": "y", "reason": "", "csrf_token": token},
                            follow_redirects=True)
    assert "強制移行には理由が必要です。" in no_reason.text
    assert _stage(incident.id) == "triage"

    response = client.post(f"/incidents/{incident.id}/stage", data={
        "to": "report", "override": "y", "reason": "CISOの指示", "csrf_token": token})
    assert response.status_code == 302
    assert "段階を変更しました。" in client.get(response.headers["Location"]).text
    assert _stage(incident.id) == "report"
    event = _events(incident.id)[-1]
    assert event.kind == "stage_overridden" and event.actor_id == officer.id
    assert event.data["reason"] == "CISOの指示" and len(event.data["overridden_tasks"]) == 3


def test_csirt_override_and_manager_moves_are_forbidden_on_the_page(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    manager = factory.user({"ageo": ["security_manager"]})
    incident = factory.incident(csirt)
    login(client, csirt)
    token = page_token(client, incident.id)
    assert "必須タスクが残っていても進める" not in client.get(f"/incidents/{incident.id}").text
    response = client.post(f"/incidents/{incident.id}/stage",
                           data={"to": "report", "override": "y", "reason": "急ぎ", "csrf_token": token})
    assert response.status_code == 403
    manager_client = client.application.test_client()
    login(manager_client, manager)
    token = page_token(manager_client, incident.id)
    assert "次の段階へ: " not in manager_client.get(f"/incidents/{incident.id}").text
    response = manager_client.post(f"/incidents/{incident.id}/stage", data={"to": "report", "csrf_token": token})
    assert response.status_code == 403
    assert _stage(incident.id) == "triage"


def test_not_incident_close_and_back_through_the_page(client, factory):
    officer = factory.user({"ageo": ["ciso"]})
    incident = factory.incident(officer)
    login(client, officer)
    token = page_token(client, incident.id)
    response = client.post(f"/incidents/{incident.id}/stage", data={
        "to": "closed", "not_incident": "y", "reason": "職員の誤操作で実害なし", "csrf_token": token},
        follow_redirects=True)
    assert "非該当として終結" in response.text and "職員の誤操作で実害なし" in response.text
    db.session.expire_all()
    closed = db.session.get(Incident, incident.id)
    assert (closed.stage, closed.not_incident, closed.closed_reason) == ("closed", True, "職員の誤操作で実害なし")
    client.post(f"/incidents/{incident.id}/stage", data={"to": "triage", "reason": "再調査", "csrf_token": token})
    assert _stage(incident.id) == "triage"
    assert [e.kind for e in _events(incident.id)][-2:] == ["closed_not_incident", "stage_back"]


def test_tasks_and_notes_through_the_page(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    member = factory.user({"ageo": ["system_admin"]}, name="情シス 花子")
    incident = factory.incident(user)
    login(client, user)
    token = page_token(client, incident.id)
    task = db.session.query(Task).filter_by(incident_id=incident.id, code="triage-assess").one()

    response = client.post(f"/incidents/{incident.id}/tasks/{task.id}", data={"action": "done", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#task-{task.id}")
    client.post(f"/incidents/{incident.id}/tasks/{task.id}", data={"assignee": member.email, "csrf_token": token})
    db.session.expire_all()
    task = db.session.get(Task, task.id)
    assert task.done is True and task.done_by_id == user.id and task.assignee_id == member.id
    client.post(f"/incidents/{incident.id}/tasks/{task.id}", data={"action": "reopen", "assignee": "",
                                                                  "csrf_token": token})
    db.session.expire_all()
    task = db.session.get(Task, task.id)
    assert (task.done, task.done_by_id, task.done_at, task.assignee_id) == (False, None, None, None)

    client.post(f"/incidents/{incident.id}/tasks", data={"stage": "triage", "title": "手作業の確認", "required": "y",
                                                         "csrf_token": token})
    manual = db.session.query(Task).filter_by(incident_id=incident.id, source="manual").one()
    assert (manual.stage, manual.title, manual.required, manual.code) == ("triage", "手作業の確認", True, None)

    note = client.post(f"/incidents/{incident.id}/notes", data={"body": "**確認** <script>x()</script>",
                                                                "csrf_token": token}, follow_redirects=True)
    assert "メモを追加しました。" in note.text
    assert "<strong>確認</strong>" in note.text and "<script>x()" not in note.text
    empty = client.post(f"/incidents/{incident.id}/notes", data={"body": "", "csrf_token": token},
                        follow_redirects=True)
    assert empty.status_code == 200
    kinds = [e.kind for e in _events(incident.id)]
    assert kinds == ["created", "escalation_started", "task_done", "task_assigned", "task_assigned", "task_reopened", "task_added", "note"]
