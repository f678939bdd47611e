"""Personal notices (issue 18, §2): a mention in a note tells the people named (within the body
only, never the author), a task assigned tells its assignee, and each person chooses in-app and/or
e-mail per kind on /notifications/settings."""
from __future__ import annotations

from sqlalchemy import select

from app.core.db import db
from app.notifications import personal
from app.notifications.models import Notification
from tests.factories import csrf_token
from tests.workflow.helpers import API, create, login, patch_task, tasks


def _notices(incident_id: int, event: str) -> list[tuple[str, str, str]]:
    db.session.expire_all()
    return [(n.recipient, n.channel, n.detail) for n in db.session.scalars(
        select(Notification).where(Notification.incident_id == incident_id, Notification.event == event)
        .order_by(Notification.recipient, Notification.channel))]


def test_a_mention_tells_the_people_named_within_the_body(app, client, factory, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")  # e-mail is a channel: rows are written, not sent
    author = factory.user({"ageo": ["csirt"]}, name="上尾 太郎", email="taro@ageo.example.jp")
    named = factory.user({"ageo": ["security_manager"]}, name="佐藤 花子", email="sato@ageo.example.jp")
    by_mail = factory.user({"ageo": ["chief_officer"]}, name="伊藤 次郎", email="ito@ageo.example.jp")
    namesake = factory.user({"saga": ["csirt"]}, name="佐藤 花子", email="sato@saga.example.jp")  # another body
    reporter = factory.user({"ageo": ["reporter"]}, name="職員 一郎", email="ichiro@ageo.example.jp")
    h = factory.headers(author)
    iid = create(client, h)["id"]
    body = "@佐藤花子 さん、ログの確認を。@ITO@AGEO.EXAMPLE.JP も。@上尾 太郎 @職員 一郎 @nobody@example.jp"
    assert client.post(f"{API}/{iid}/notes", headers=h, json={"body": body}).status_code == 201
    told = _notices(iid, "mentioned")
    assert {r for r, _c, _d in told} == {named.email, by_mail.email}
    assert {(r, c) for r, c, _d in told} == {(named.email, "email"), (named.email, "in_app"),
                                             (by_mail.email, "email"), (by_mail.email, "in_app")}
    assert {d for _r, _c, d in told} == {"上尾 太郎 様がメモであなたに言及しました"}
    assert namesake.email not in {r for r, _c, _d in told} and reporter.email not in {r for r, _c, _d in told}


def test_a_task_assigned_tells_its_assignee_once_and_not_oneself(app, client, factory, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", None)  # no mail server: in-app only
    csirt = factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT")
    officer = factory.user({"ageo": ["security_manager"]}, name="上尾 管理者")
    h = factory.headers(csirt)
    iid = create(client, h)["id"]
    task = tasks(client, h, iid)[0]
    assert patch_task(client, h, iid, task["id"], assignee=csirt.email).status_code == 200  # oneself: nothing
    assert _notices(iid, "task_assigned") == []
    assert patch_task(client, h, iid, task["id"], assignee=officer.email).status_code == 200
    assert patch_task(client, h, iid, task["id"], assignee=officer.email).status_code == 200  # unchanged: nothing more
    assert _notices(iid, "task_assigned") == [(officer.email, "in_app", f"上尾 CSIRT 様がタスク「{task['title']}」の担当にあなたを指定しました")]
    added = client.post(f"{API}/{iid}/tasks", headers=h, json={"stage": "triage", "title": "端末の回収", "assignee": officer.email})
    assert added.status_code == 201
    assert len(_notices(iid, "task_assigned")) == 2


def test_each_person_chooses_the_channels_per_kind(app, client, factory, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    csirt = factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT")
    officer = factory.user({"ageo": ["security_manager"]}, name="上尾 管理者")
    login(client, officer)
    page = client.get("/notifications/settings")
    assert page.status_code == 200 and 'name="mentioned" value="email" checked' in page.text
    assert client.post("/notifications/settings", data={"mentioned": "email"}).status_code == 400  # no CSRF token
    saved = client.post("/notifications/settings", data={"csrf_token": csrf_token(page.text), "mentioned": "email",
                                                          "task_assigned": ["in_app", "sms"]})
    assert saved.status_code == 302
    db.session.expire_all()
    assert {kind: sorted(channels) for kind, channels in ((k, personal.choices_of([officer], k)[officer.id])
                                                          for k in personal.KINDS)} == {
        "assigned": [], "task_assigned": ["in_app"], "mentioned": ["email"], "deadline_soon": []}
    h = factory.headers(csirt)
    iid = create(client, h)["id"]
    client.post(f"{API}/{iid}/notes", headers=h, json={"body": "@上尾 管理者 確認をお願いします"})
    assert [(r, c) for r, c, _d in _notices(iid, "mentioned")] == [(officer.email, "email")]
    patch_task(client, h, iid, tasks(client, h, iid)[0]["id"], assignee=officer.email)
    assert [(r, c) for r, c, _d in _notices(iid, "task_assigned")] == [(officer.email, "in_app")]
