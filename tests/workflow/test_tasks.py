"""Tasks: assigning, reopening, manual tasks, category changes and playbook inheritance."""
from __future__ import annotations

from app.auth.models import Membership
from app.core.db import db
from tests.workflow.helpers import (
    API,
    assert_error,
    by_code,
    create,
    finish_required,
    move,
    patch_task,
    tasks,
    timeline,
)

UNINTENTIONAL_CODES = [  # 本人への通知 is common since issue 17 (report-notify-persons, when reportable)
    "unintentional-report-contractor", "unintentional-preserve-facts",
    "unintentional-preserve-logs", "unintentional-contain-retrieve", "unintentional-contain-remote-wipe",
    "unintentional-contain-stop-process", "unintentional-recover-data", "unintentional-recover-confirm",
    "unintentional-prevent-rules", "unintentional-prevent-technical",
]
INTENTIONAL_OPEN_CODES = [  # the intentional and malware items, minus the completed intentional-preserve-logs
    "intentional-report-police", "intentional-report-shared-networks", "intentional-preserve-custody",
    "intentional-preserve-no-alteration", "intentional-preserve-external-logs", "malware-preserve-sample",
    "intentional-contain-isolate", "intentional-contain-block", "intentional-contain-sweep", "malware-contain-scan",
    "malware-contain-mail-origin", "malware-contain-ransom", "intentional-recover-rebuild",
    "intentional-recover-credentials", "intentional-recover-fix-entry", "intentional-prevent-technical",
    "intentional-prevent-awareness",
]
COMMON_CODES = [
    "triage-record-report", "triage-first-instruction", "triage-assess", "triage-severity",
    "report-internal-chain", "report-ciso", "report-owners", "report-ppc-assess", "report-mynumber",
    "report-external", "report-publish", "prevent-root-cause", "prevent-measures-ciso", "prevent-policy-clauses",
]


def test_category_change_keeps_completed_and_manual_tasks(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    h = factory.headers(user)
    incident = create(client, h)
    iid = incident["id"]
    codes = by_code(tasks(client, h, iid))
    assert patch_task(client, h, iid, codes["intentional-preserve-logs"]["id"], done=True).status_code == 200
    assert patch_task(client, h, iid, codes["triage-assess"]["id"], done=True).status_code == 200
    manual = client.post(f"{API}/{iid}/tasks", headers=h, json={"stage": "contain", "title": "委託先へ連絡"})
    assert manual.status_code == 201

    response = client.patch(f"{API}/{iid}", headers=h, json={"threat_category": "unintentional", "version": 1})
    assert response.status_code == 200, response.json
    assert response.json["threat_category"] == "unintentional" and response.json["subcategory"] is None

    after = tasks(client, h, iid)
    got = by_code(after)
    assert got["intentional-preserve-logs"]["done"] is True
    assert got["intentional-preserve-logs"]["done_by"] == user.email
    assert got["intentional-preserve-logs"]["id"] == codes["intentional-preserve-logs"]["id"]
    assert got["triage-assess"]["done"] is True and got["triage-assess"]["id"] == codes["triage-assess"]["id"]
    assert set(got) == set(COMMON_CODES) | {"intentional-preserve-logs"} | set(UNINTENTIONAL_CODES)
    assert [t for t in after if t["source"] == "manual"] == [manual.json]
    assert got["unintentional-preserve-facts"]["required"] is True
    assert got["unintentional-preserve-facts"]["source"] == "unintentional"
    assert len(after) == 14 + 1 + 10 + 1

    events = timeline(client, h, iid)
    assert [e["kind"] for e in events[-2:]] == ["updated", "tasks_changed"]
    assert events[-2]["data"]["changes"]["threat_category"] == {"before": "intentional", "after": "unintentional"}
    assert events[-2]["data"]["changes"]["subcategory"] == {"before": "malware", "after": None}
    assert events[-1]["data"]["added"] == UNINTENTIONAL_CODES
    assert sorted(events[-1]["data"]["removed"]) == sorted(INTENTIONAL_OPEN_CODES)
    assert events[-1]["summary"] == "区分の変更によりタスクを 10 件追加、未完了の 17 件を除外"


def test_changing_only_the_title_does_not_touch_tasks(client, factory):
    h = factory.headers(factory.user({"ageo": ["csirt"]}))
    iid = create(client, h)["id"]
    before = tasks(client, h, iid)
    assert client.patch(f"{API}/{iid}", headers=h, json={"title": "件名変更", "version": 1}).status_code == 200
    assert tasks(client, h, iid) == before
    assert [e["kind"] for e in timeline(client, h, iid)] == ["created", "escalation_started", "updated"]


def test_assign_and_unassign_a_task(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    admin = factory.user({"ageo": ["system_admin"]}, email="kanri@city.example.jp", name="管理 次郎")
    foreigner = factory.user({"saga": ["csirt"]})
    h = factory.headers(csirt)
    iid = create(client, h)["id"]
    task = by_code(tasks(client, h, iid))["intentional-preserve-logs"]

    response = patch_task(client, h, iid, task["id"], assignee=" Kanri@City.Example.JP ")
    assert response.status_code == 200, response.json
    assert response.json["assignee"] == admin.email and response.json["done"] is False
    event = timeline(client, h, iid)[-1]
    assert event["kind"] == "task_assigned"
    assert event["data"] == {"task_id": task["id"], "assignee": admin.email}
    assert "管理 次郎" in event["summary"]
    # the assignee works the task themselves
    done = patch_task(client, factory.headers(admin), iid, task["id"], done=True)
    assert done.json["done"] is True and done.json["done_by"] == admin.email

    for bad in (foreigner.email, "nobody@example.jp"):
        assert_error(patch_task(client, h, iid, task["id"], assignee=bad), 422, field="assignee")
    assert_error(patch_task(client, h, iid, task["id"], assignee="not an email"), 422, field="assignee")
    assert by_code(tasks(client, h, iid))["intentional-preserve-logs"]["assignee"] == admin.email

    cleared = patch_task(client, h, iid, task["id"], assignee=None)
    assert cleared.status_code == 200 and cleared.json["assignee"] is None
    event = timeline(client, h, iid)[-1]
    assert event["kind"] == "task_assigned" and event["data"] == {"task_id": task["id"], "assignee": None}
    # sending only `done` leaves the assignee alone; assigning the same person twice records nothing
    patch_task(client, h, iid, task["id"], assignee=admin.email)
    count = len(timeline(client, h, iid))
    assert patch_task(client, h, iid, task["id"], assignee=admin.email).json["assignee"] == admin.email
    assert patch_task(client, h, iid, task["id"], done=True).json["assignee"] == admin.email
    assert len(timeline(client, h, iid)) == count


def test_reopening_clears_who_and_when(client, factory):
    user = factory.user({"ageo": ["security_manager"]})
    h = factory.headers(user)
    iid = create(client, factory.headers(factory.user({"ageo": ["csirt"]})))["id"]
    task = by_code(tasks(client, h, iid))["triage-assess"]
    done = patch_task(client, h, iid, task["id"], done=True).json
    assert done["done"] is True and done["done_by"] == user.email and done["done_at"].endswith("Z")
    reopened = patch_task(client, h, iid, task["id"], done=False)
    assert reopened.status_code == 200
    assert (reopened.json["done"], reopened.json["done_by"], reopened.json["done_at"]) == (False, None, None)
    assert by_code(tasks(client, h, iid))["triage-assess"]["done_at"] is None
    events = timeline(client, h, iid)
    assert [e["kind"] for e in events[-2:]] == ["task_done", "task_reopened"]
    assert events[-1]["data"] == {"task_id": task["id"], "code": "triage-assess"}


def test_task_errors_and_roles(client, factory):
    csirt_h = factory.headers(factory.user({"ageo": ["csirt"]}))
    reporter = factory.user({"ageo": ["reporter"]})
    reporter_h = factory.headers(reporter)
    auditor_h = factory.headers(factory.user({"ageo": ["auditor"]}))
    own = create(client, reporter_h)["id"]
    other = create(client, csirt_h)["id"]
    task = by_code(tasks(client, reporter_h, own))["triage-assess"]
    assert_error(patch_task(client, reporter_h, own, task["id"], done=True), 403)
    assert_error(patch_task(client, auditor_h, own, task["id"], done=True), 403)
    assert_error(patch_task(client, auditor_h, own, task["id"], done="yes"), 422, field="done")
    assert_error(patch_task(client, csirt_h, own, task["id"], done=True, code="x"), 422, field="code")
    assert_error(patch_task(client, csirt_h, other, task["id"], done=True), 404)
    assert_error(patch_task(client, csirt_h, own, 2**40, done=True), 404)
    assert_error(client.post(f"{API}/{own}/tasks", headers=auditor_h, json={"stage": "triage", "title": "x"}), 403)
    assert_error(client.post(f"{API}/{own}/tasks", headers=csirt_h, json={"stage": "closed", "title": "x"}),
                 422, field="stage")
    assert_error(client.post(f"{API}/{own}/tasks", headers=csirt_h, json={"stage": "triage", "title": ""}),
                 422, field="title")
    assert_error(client.post(f"{API}/{own}/tasks", headers=csirt_h, json={"stage": "nowhere", "title": "x"}),
                 422, field="stage")
    assert by_code(tasks(client, csirt_h, own))["triage-assess"]["done"] is False


def test_a_required_manual_task_blocks_its_stage(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    h = factory.headers(user)
    iid = create(client, h)["id"]
    response = client.post(f"{API}/{iid}/tasks", headers=h, json={
        "stage": "triage", "title": "庁内ネットワークの接続記録を確認する", "guidance": "プロキシログ", "required": True})
    assert response.status_code == 201, response.json
    manual = response.json
    assert manual["source"] == "manual" and manual["code"] is None and manual["required"] is True
    assert manual["stage"] == "triage" and manual["title"] == "庁内ネットワークの接続記録を確認する"
    assert manual["guidance"] == "プロキシログ" and manual["done"] is False and manual["assignee"] is None
    assert tasks(client, h, iid)[-1]["id"] != manual["id"]  # listed within its stage, not at the end
    assert [t["id"] for t in tasks(client, h, iid) if t["stage"] == "triage"][-1] == manual["id"]
    event = timeline(client, h, iid)[-1]
    assert event["kind"] == "task_added"
    assert event["data"] == {"task_id": manual["id"], "stage": "triage", "required": True}

    for task in tasks(client, h, iid):
        if task["stage"] == "triage" and task["required"] and task["code"]:
            patch_task(client, h, iid, task["id"], done=True)
    error = assert_error(move(client, h, iid, "report"), 409, field="tasks")
    assert error["fields"]["tasks"] == "庁内ネットワークの接続記録を確認する"
    assert patch_task(client, h, iid, manual["id"], done=True).status_code == 200
    assert move(client, h, iid, "report").json["stage"] == "report"


def test_manual_task_with_an_assignee(client, factory):
    h = factory.headers(factory.user({"ageo": ["csirt"]}))
    member = factory.user({"ageo": ["security_officer"]})
    iid = create(client, h)["id"]
    response = client.post(f"{API}/{iid}/tasks", headers=h,
                           json={"stage": "report", "title": "議会へ説明", "assignee": member.email})
    assert response.status_code == 201 and response.json["assignee"] == member.email
    assert_error(client.post(f"{API}/{iid}/tasks", headers=h,
                             json={"stage": "report", "title": "x", "assignee": "ghost@example.jp"}),
                 422, field="assignee")


def test_toride_gikai_inherits_the_citys_plan_with_its_own_items(client, factory):
    gikai_h = factory.headers(factory.user({"toride-gikai": ["csirt"]}))
    ageo_h = factory.headers(factory.user({"ageo": ["csirt"]}))
    gikai = create(client, gikai_h, organization="toride-gikai")
    ageo = create(client, ageo_h)
    gikai_tasks = by_code(tasks(client, gikai_h, gikai["id"]))
    ageo_tasks = by_code(tasks(client, ageo_h, ageo["id"]))

    chairman = gikai_tasks["gikai-report-chairman"]
    assert (chairman["stage"], chairman["title"], chairman["required"], chairman["role"], chairman["source"]) == (
        "report", "議会事務局長・議長へ報告する", True, "chief_officer", "common")
    assert gikai_tasks["gikai-report-city"]["required"] is False
    # the assembly's rules (assembly.yaml) give it the council item, in its ordinance's name, not the PPC's
    council = gikai_tasks["report-council-assess"]
    assert council["title"] == "取手市議会の個人情報保護条例による漏えい等の報告・本人通知の要否を判断する"
    assert council["required"] is True and council["role"] == "csirt"
    assert "report-ppc-assess" not in gikai_tasks
    assert len(gikai_tasks) == 34

    assert "gikai-report-chairman" not in ageo_tasks and "gikai-report-city" not in ageo_tasks
    assert ageo_tasks["report-ppc-assess"]["title"] == "個人情報保護委員会への漏えい等報告の要否を判断する"
    assert "report-council-assess" not in ageo_tasks
    assert len(ageo_tasks) == 32
    assert set(gikai_tasks) - set(ageo_tasks) == {"gikai-report-chairman", "gikai-report-city", "report-council-assess"}

    # the assembly's own required item gates its report stage
    finish_required(client, gikai_h, gikai["id"], "triage")
    move(client, gikai_h, gikai["id"], "report")
    for task in tasks(client, gikai_h, gikai["id"]):
        if task["stage"] == "report" and task["required"] and task["code"] != "gikai-report-chairman":
            patch_task(client, gikai_h, gikai["id"], task["id"], done=True)
    error = assert_error(move(client, gikai_h, gikai["id"], "preserve"), 409, field="tasks")
    assert error["fields"]["tasks"] == "議会事務局長・議長へ報告する"


def test_a_deactivated_member_cannot_be_assigned(client, factory):
    h = factory.headers(factory.user({"ageo": ["csirt"]}))
    gone = factory.user({"ageo": ["system_admin"]})
    db.session.query(Membership).filter_by(user_id=gone.id).update({"active": False})
    db.session.commit()
    iid = create(client, h)["id"]
    task = tasks(client, h, iid)[0]
    assert_error(patch_task(client, h, iid, task["id"], assignee=gone.email), 422, field="assignee")
    assert tasks(client, h, iid)[0]["assignee"] is None
