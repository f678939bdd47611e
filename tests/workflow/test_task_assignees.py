"""Issue 15 item 9: a task goes only to someone who may complete it (a role of the incident's body
that works incidents), in the API and on the page; nobody else is offered or accepted."""
from __future__ import annotations

from tests.workflow.helpers import API, assert_error, create, login, page_token, patch_task, tasks

NOT_WORKERS = {"auditor": {"ageo": ["auditor"]}, "reporter": {"ageo": ["reporter"]},
               "another body's CSIRT": {"saga": ["csirt"]}}


def _people(factory):
    csirt = factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT")
    others = {label: factory.user(roles, name=f"指定不可 {label}") for label, roles in NOT_WORKERS.items()}
    officer = factory.user({"ageo": ["security_manager"]}, name="上尾 管理者")
    return csirt, officer, others


def test_the_api_assigns_only_people_who_may_complete_the_task(client, factory):
    csirt, officer, others = _people(factory)
    h = factory.headers(csirt)
    iid = create(client, h)["id"]
    task = tasks(client, h, iid)[0]
    for label, person in others.items():
        error = assert_error(patch_task(client, h, iid, task["id"], assignee=person.email), 422, "invalid", "assignee")
        assert "監査担当・職員・他団体" in error["fields"]["assignee"], label
        created = client.post(f"{API}/{iid}/tasks", headers=h, json={"stage": "triage", "title": "確認", "assignee": person.email})
        assert_error(created, 422, "invalid", "assignee")
    assert [t["assignee"] for t in tasks(client, h, iid)] == [None] * len(tasks(client, h, iid))  # nothing assigned or added
    assert patch_task(client, h, iid, task["id"], assignee=officer.email).json["assignee"] == officer.email


def test_the_page_offers_and_accepts_only_people_who_may_complete_the_task(client, factory):
    csirt, officer, others = _people(factory)
    h = factory.headers(csirt)
    iid = create(client, h)["id"]
    task = tasks(client, h, iid)[0]
    login(client, csirt)
    page = client.get(f"/incidents/{iid}")
    assert f'<option value="{officer.email}"' in page.text and f'<option value="{csirt.email}"' in page.text
    assert not [p.email for p in others.values() if f'<option value="{p.email}"' in page.text]
    token = page_token(client, iid)
    response = client.post(f"/incidents/{iid}/tasks/{task['id']}", data={"csrf_token": token, "assignee": others["auditor"].email},
                           follow_redirects=True)
    assert "この団体でインシデント対応を行える担当者ではありません" in response.text
    assert tasks(client, h, iid)[0]["assignee"] is None
    client.post(f"/incidents/{iid}/tasks/{task['id']}", data={"csrf_token": token, "assignee": officer.email})
    assert tasks(client, h, iid)[0]["assignee"] == officer.email
