"""The incident timeline and notes (API.md, GET /timeline; POST /notes)."""
from __future__ import annotations

import datetime as dt
import io
import re

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

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_timeline_lists_everything_in_order(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    h = factory.headers(user)
    incident = create(client, h, title="旧件名")
    iid = incident["id"]
    updated = client.patch(f"{API}/{iid}", headers=h, json={"title": "新件名", "version": incident["version"]})
    assert updated.status_code == 200
    task = by_code(tasks(client, h, iid))["triage-record-report"]
    patch_task(client, h, iid, task["id"], done=True)
    assert client.post(f"{API}/{iid}/notes", headers=h, json={"body": "初報を受領"}).status_code == 201
    finish_required(client, h, iid, "triage")
    assert move(client, h, iid, "report").status_code == 200
    evidence = client.post(f"{API}/{iid}/evidence", headers=h, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"log"), "mail.eml")}).json
    assert client.get(evidence["url"], headers=h).status_code == 200

    events = timeline(client, h, iid)
    assert [e["kind"] for e in events] == [
        "created", "escalation_started", "updated", "task_done", "note", "task_done", "task_done", "stage_changed",
        "evidence_added", "evidence_downloaded"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    ats = [e["at"] for e in events]
    assert all(ISO_Z.match(at) for at in ats)
    moments = [dt.datetime.fromisoformat(at.replace("Z", "+00:00")) for at in ats]
    assert moments == sorted(moments)
    assert {e["actor"] for e in events} == {user.email}
    assert all(set(e) >= {"id", "at", "actor", "kind", "summary", "data"} for e in events)

    created, started, changed = events[0], events[1], events[2]
    assert created["data"]["title"] == "旧件名" and created["data"]["threat_category"] == "intentional"
    assert created["data"]["detected_at"] == "2026-11-20T01:00:00Z"
    assert created["summary"].startswith(incident["reference"])
    assert started["data"]["cycle"] == 1 and started["data"]["severity"] == created["data"]["severity"]
    assert changed["data"] == {"changes": {"title": {"before": "旧件名", "after": "新件名"}}}
    assert changed["summary"] == "件名 を変更しました"
    assert events[3]["data"] == {"task_id": task["id"], "code": "triage-record-report"}
    assert events[4]["data"] == {"body": "初報を受領"} and events[4]["body_html"] == "<p>初報を受領</p>"
    assert events[7]["data"]["to"] == "report"
    assert events[8]["data"]["evidence_id"] == evidence["id"] and events[9]["data"]["channel"] == "api"


def test_timeline_records_a_severity_and_list_change_with_before_and_after(client, factory):
    h = factory.headers(factory.user({"ageo": ["csirt"]}))
    iid = create(client, h)["id"]
    response = client.patch(f"{API}/{iid}", headers=h, json={
        "version": 1, "impacts": ["leak"], "network_segments": ["lgwan"], "severity": "high",
        "severity_reason": "住民の個人情報を含む可能性"})
    assert response.status_code == 200, response.json
    events = timeline(client, h, iid)
    # raising the severity (low -> high) starts a new escalation cycle right after the update
    assert [e["kind"] for e in events] == ["created", "escalation_started", "updated", "escalation_started"]
    assert events[-1]["data"]["cycle"] == 2 and events[-1]["data"]["severity"] == "high"
    changes = events[-2]["data"]["changes"]
    assert changes["impacts"] == {"before": [], "after": ["leak"]}
    assert changes["network_segments"] == {"before": [], "after": ["lgwan"]}
    assert changes["severity"] == {"before": "low", "after": "high"}
    assert changes["severity_reason"] == {"before": None, "after": "住民の個人情報を含む可能性"}


def test_note_markdown_is_sanitized(client, factory):
    user = factory.user({"ageo": ["security_officer"]})
    h = factory.headers(user)
    iid = create(client, factory.headers(factory.user({"ageo": ["csirt"]})))["id"]
    response = client.post(f"{API}/{iid}/notes", headers=h, json={"body": "**x** <script>alert(1)</script>"})
    assert response.status_code == 201, response.json
    note = response.json
    assert note["kind"] == "note" and note["actor"] == user.email
    assert note["data"] == {"body": "**x** <script>alert(1)</script>"}
    assert "<strong>x</strong>" in note["body_html"]
    assert "<script" not in note["body_html"].lower()
    assert note["summary"] == "メモ: **x** <script>alert(1)</script>"
    listed = timeline(client, h, iid)[-1]
    assert listed["id"] == note["id"] and listed["body_html"] == note["body_html"]

    evil = "[link](javascript:alert(2))\n\n<img src=x onerror=alert(3)>"
    html = client.post(f"{API}/{iid}/notes", headers=h, json={"body": evil}).json["body_html"]
    assert "javascript:" not in html and "onerror" not in html


def test_note_errors_and_roles(client, factory):
    csirt = factory.headers(factory.user({"ageo": ["csirt"]}))
    reporter = factory.headers(factory.user({"ageo": ["reporter"]}))
    auditor = factory.headers(factory.user({"ageo": ["auditor"]}))
    iid = create(client, reporter)["id"]
    url = f"{API}/{iid}/notes"
    assert_error(client.post(url, headers=csirt, json={"body": ""}), 422, field="body")
    assert_error(client.post(url, headers=csirt, json={"body": "  \n "}), 422, field="body")
    assert_error(client.post(url, headers=csirt, json={"body": "a\x00b"}), 422, field="body")
    assert_error(client.post(url, headers=csirt, json={"body": "x" * 50_001}), 422, field="body")
    assert_error(client.post(url, headers=csirt, json={}), 422, field="body")
    assert_error(client.post(url, headers=csirt, json={"body": 5}), 422, field="body")
    assert_error(client.post(url, headers=csirt, data="body=x"), 415)
    assert_error(client.post(url, headers=csirt, data="{", content_type="application/json"), 400)
    assert_error(client.post(url, headers=reporter, json={"body": "自分の件へのメモ"}), 403)
    assert_error(client.post(url, headers=auditor, json={"body": "監査メモ"}), 403)
    assert_error(client.post(url, headers=reporter, json={"body": ""}), 422)
    saga = factory.headers(factory.user({"saga": ["csirt"]}))
    assert_error(client.post(url, headers=saga, json={"body": "x"}), 404)
    assert [e["kind"] for e in timeline(client, csirt, iid)] == ["created", "escalation_started"]
    # the reporter reads their own incident's timeline
    assert [e["kind"] for e in timeline(client, reporter, iid)] == ["created", "escalation_started"]
