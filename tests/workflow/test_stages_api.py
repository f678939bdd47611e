"""Stage gating and override through the API (API.md, POST /incidents/{id}/stage)."""
from __future__ import annotations

import threading

from tests.workflow.helpers import (
    API,
    advance_to,
    assert_error,
    by_code,
    create,
    finish_required,
    kinds,
    move,
    tasks,
    timeline,
)

MALWARE_CODES = [
    "triage-record-report", "triage-first-instruction", "triage-assess", "triage-severity",
    "report-internal-chain", "report-ciso", "report-owners", "report-ppc-assess", "report-mynumber",
    "report-external", "report-publish", "intentional-report-police", "intentional-report-shared-networks",
    "intentional-preserve-logs", "intentional-preserve-custody", "intentional-preserve-no-alteration",
    "intentional-preserve-external-logs", "malware-preserve-sample",
    "intentional-contain-isolate", "intentional-contain-block", "intentional-contain-sweep", "malware-contain-scan",
    "malware-contain-mail-origin", "malware-contain-ransom",
    "intentional-recover-rebuild", "intentional-recover-credentials", "intentional-recover-fix-entry",
    "prevent-root-cause", "prevent-measures-ciso", "prevent-policy-clauses", "intentional-prevent-technical",
    "intentional-prevent-awareness",
]
TRIAGE_REQUIRED_TITLES = ("報告者・報告経路・受付日時を記録する, セキュリティインシデントに該当するかを判断する, "
                          "影響範囲を確認し、重要度を決定する")


def _people(factory, *roles):
    users = {role: factory.user({"ageo": [role]}) for role in roles}
    return users, {role: factory.headers(user) for role, user in users.items()}


def test_new_incident_starts_at_triage_with_its_playbook_tasks(client, factory):
    _users, h = _people(factory, "csirt")
    incident = create(client, h["csirt"])
    assert incident["stage"] == "triage" and incident["closed_at"] is None and incident["not_incident"] is False
    items = tasks(client, h["csirt"], incident["id"])
    assert [t["code"] for t in items] == MALWARE_CODES
    codes = by_code(items)
    assert codes["triage-assess"] | {"id": 0} == {
        "id": 0, "stage": "triage", "code": "triage-assess", "source": "common",
        "title": "セキュリティインシデントに該当するかを判断する", "guidance": codes["triage-assess"]["guidance"],
        "required": True, "role": "csirt", "assignee": None, "done": False, "done_by": None, "done_at": None}
    assert codes["intentional-preserve-logs"]["stage"] == "preserve"
    assert codes["intentional-preserve-logs"]["source"] == "intentional"
    assert codes["intentional-preserve-logs"]["required"] is True
    assert codes["malware-preserve-sample"]["source"] == "intentional.malware"
    assert [t["code"] for t in items if t["stage"] == "triage" and t["required"]] == [
        "triage-record-report", "triage-assess", "triage-severity"]
    assert kinds(client, h["csirt"], incident["id"]) == ["created", "escalation_started"]


def test_open_required_tasks_block_and_only_officers_override_with_reason(client, factory):
    users, h = _people(factory, "csirt", "chief_officer")
    incident = create(client, h["csirt"])
    iid = incident["id"]

    error = assert_error(move(client, h["csirt"], iid, "report"), 409, field="tasks")
    assert error["fields"]["tasks"] == TRIAGE_REQUIRED_TITLES
    assert "3" in error["message"]
    assert_error(move(client, h["csirt"], iid, "report", override=True, reason="至急"), 403)
    assert_error(move(client, h["chief_officer"], iid, "report", override=True), 422, field="reason")
    assert_error(move(client, h["chief_officer"], iid, "report", override=True, reason="   "), 422, field="reason")
    assert client.get(f"{API}/{iid}", headers=h["csirt"]).json["stage"] == "triage"

    response = move(client, h["chief_officer"], iid, "report", override=True, reason="CISOの指示により先行")
    assert response.status_code == 200, response.json
    assert response.json["stage"] == "report" and response.json["version"] == incident["version"] + 1
    event = timeline(client, h["csirt"], iid)[-1]
    blocking = [t["id"] for t in tasks(client, h["csirt"], iid) if t["stage"] == "triage" and t["required"]]
    assert event["kind"] == "stage_overridden" and event["actor"] == users["chief_officer"].email
    assert event["data"] == {"from": "triage", "to": "report", "reason": "CISOの指示により先行",
                             "overridden_tasks": blocking}
    assert event["summary"] == "段階: 受付・評価 → 連絡・報告（理由: CISOの指示により先行）"


def test_completing_required_tasks_lets_the_stage_move_on(client, factory):
    users, h = _people(factory, "csirt")
    iid = create(client, h["csirt"])["id"]
    done = finish_required(client, h["csirt"], iid, "triage")
    assert done == ["triage-record-report", "triage-assess", "triage-severity"]
    response = move(client, h["csirt"], iid, "report")
    assert response.status_code == 200 and response.json["stage"] == "report"
    event = timeline(client, h["csirt"], iid)[-1]
    assert event["kind"] == "stage_changed" and event["actor"] == users["csirt"].email
    assert event["data"] == {"from": "triage", "to": "report", "reason": None}
    assert event["summary"] == "段階: 受付・評価 → 連絡・報告"
    # an override flag with nothing blocking is a plain move
    finish_required(client, h["csirt"], iid, "report")
    assert move(client, h["csirt"], iid, "preserve", reason="報告済み").status_code == 200


def test_skipping_unknown_and_same_stage(client, factory):
    _users, h = _people(factory, "csirt", "ciso")
    iid = create(client, h["csirt"])["id"]
    finish_required(client, h["csirt"], iid, "triage")
    error = assert_error(move(client, h["csirt"], iid, "preserve"), 409, field="to")
    assert "連絡・報告" in error["message"]
    assert_error(move(client, h["ciso"], iid, "contain", override=True, reason="飛ばしたい"), 409, field="to")
    assert_error(move(client, h["csirt"], iid, "investigate"), 422, field="to")
    assert_error(move(client, h["csirt"], iid, ""), 422, field="to")
    assert_error(move(client, h["csirt"], iid, "triage"), 409, field="to")
    assert_error(client.post(f"{API}/{iid}/stage", headers=h["csirt"], json={"to": "report", "x": 1}), 422, field="x")
    assert_error(client.post(f"{API}/{iid}/stage", headers=h["csirt"], json={"to": 3}), 422, field="to")
    assert kinds(client, h["csirt"], iid).count("stage_changed") == 0


def test_moving_back_to_any_earlier_stage_is_recorded(client, factory):
    users, h = _people(factory, "csirt")
    iid = create(client, h["csirt"])["id"]
    advance_to(client, h["csirt"], iid, "contain")
    response = move(client, h["csirt"], iid, "report", reason="報告先の追加が必要")
    assert response.status_code == 200 and response.json["stage"] == "report"
    event = timeline(client, h["csirt"], iid)[-1]
    assert event["kind"] == "stage_back" and event["actor"] == users["csirt"].email
    assert event["data"] == {"from": "contain", "to": "report", "reason": "報告先の追加が必要"}
    assert move(client, h["csirt"], iid, "triage").json["stage"] == "triage"
    assert kinds(client, h["csirt"], iid)[-1] == "stage_back"
    # the required tasks are still done: forward again without a gate
    assert move(client, h["csirt"], iid, "report").status_code == 200


def test_closing_as_not_incident_from_triage(client, factory):
    _users, h = _people(factory, "csirt", "chief_officer")
    iid = create(client, h["csirt"])["id"]
    assert_error(move(client, h["csirt"], iid, "closed", not_incident=True), 422, field="reason")
    assert_error(move(client, h["csirt"], iid, "report", not_incident=True, reason="誤検知"), 422, field="to")
    response = move(client, h["csirt"], iid, "closed", not_incident=True, reason="誤検知（正規の更新通知）")
    assert response.status_code == 200, response.json
    got = response.json
    assert got["stage"] == "closed" and got["not_incident"] is True
    assert got["closed_reason"] == "誤検知（正規の更新通知）" and got["closed_at"].endswith("Z")
    event = timeline(client, h["csirt"], iid)[-1]
    assert event["kind"] == "closed_not_incident"
    assert event["data"] == {"from": "triage", "to": "closed", "reason": "誤検知（正規の更新通知）"}
    assert event["summary"] == "段階: 非該当として終結（理由: 誤検知（正規の更新通知））"
    # reopening needs an officer; it clears the 非該当 mark
    assert_error(move(client, h["csirt"], iid, "triage", reason="再調査"), 403)
    reopened = move(client, h["chief_officer"], iid, "triage", reason="再調査")
    assert reopened.status_code == 200
    assert reopened.json["stage"] == "triage" and reopened.json["not_incident"] is False
    assert reopened.json["closed_at"] is None and reopened.json["closed_reason"] is None


def test_not_incident_from_a_later_stage_is_a_conflict(client, factory):
    _users, h = _people(factory, "csirt", "ciso")
    iid = create(client, h["csirt"])["id"]
    advance_to(client, h["csirt"], iid, "report")
    assert_error(move(client, h["csirt"], iid, "closed", not_incident=True, reason="非該当"), 409, field="to")
    assert_error(move(client, h["ciso"], iid, "closed", not_incident=True, reason="非該当"), 409, field="to")
    assert client.get(f"{API}/{iid}", headers=h["csirt"]).json["stage"] == "report"


def test_closing_from_prevent_needs_the_post_incident_record_even_for_the_ciso(client, factory):
    _users, h = _people(factory, "csirt", "ciso")
    iid = create(client, h["csirt"])["id"]
    advance_to(client, h["csirt"], iid, "prevent")
    assert_error(move(client, h["csirt"], iid, "closed"), 403)
    error = assert_error(move(client, h["ciso"], iid, "closed"), 409, field="tasks")
    assert error["fields"]["tasks"] == "原因を究明し、記録する, 再発防止策をまとめ、CISOへ報告する"
    assert_error(move(client, h["ciso"], iid, "closed", override=True, reason="急ぎ"), 409, field="to")
    finish_required(client, h["csirt"], iid, "prevent")
    error = assert_error(move(client, h["ciso"], iid, "closed", reason="完了"), 409, field="to")
    assert "事後報告" in error["message"]
    got = client.get(f"{API}/{iid}", headers=h["ciso"]).json
    assert got["stage"] == "prevent" and got["closed_at"] is None


def test_roles_that_may_not_move_stages(client, factory):
    _users, h = _people(factory, "csirt", "security_manager", "security_officer", "system_admin", "auditor")
    iid = create(client, h["csirt"])["id"]
    finish_required(client, h["csirt"], iid, "triage")
    for role in ("security_manager", "security_officer", "system_admin", "auditor"):
        assert_error(move(client, h[role], iid, "report"), 403)
        assert_error(move(client, h[role], iid, "closed", not_incident=True, reason="非該当"), 403)
    assert client.get(f"{API}/{iid}", headers=h["csirt"]).json["stage"] == "triage"


def test_foreign_and_invisible_incidents_are_404(client, factory):
    _users, h = _people(factory, "csirt")
    iid = create(client, h["csirt"])["id"]
    saga_officer = factory.headers(factory.user({"saga": ["ciso"]}))
    reporter = factory.headers(factory.user({"ageo": ["reporter"]}))
    for headers in (saga_officer, reporter):
        assert_error(move(client, headers, iid, "report", override=True, reason="x"), 404)
        assert_error(client.get(f"{API}/{iid}/tasks", headers=headers), 404)
        assert_error(client.get(f"{API}/{iid}/timeline", headers=headers), 404)
    assert_error(move(client, h["csirt"], 999_999, "report"), 404)
    assert_error(client.post(f"{API}/1/stage", json={"to": "report"}), 401)


def test_error_order_unreadable_then_invalid_then_forbidden_then_conflict(client, factory):
    _users, h = _people(factory, "csirt", "security_manager", "auditor")
    iid = create(client, h["csirt"])["id"]
    url = f"{API}/{iid}/stage"
    # 400 / 415 before anything else, even for a role that may not move stages
    assert_error(client.post(url, headers=h["auditor"], data="{bad", content_type="application/json"), 400)
    assert_error(client.post(url, headers=h["auditor"], data="to=report"), 415)
    # 422 before 403
    assert_error(move(client, h["security_manager"], iid, "nowhere"), 422, field="to")
    assert_error(move(client, h["auditor"], iid, "report", override=True), 422, field="reason")
    assert_error(move(client, h["csirt"], iid, "report", override=True), 422, field="reason")
    # 403 before 409: a csirt override while tasks are open; a manager skipping a stage
    assert_error(move(client, h["csirt"], iid, "report", override=True, reason="急ぎ"), 403)
    assert_error(move(client, h["security_manager"], iid, "contain"), 403)
    assert_error(move(client, h["security_manager"], iid, "triage"), 403)
    # 409 last
    assert_error(move(client, h["csirt"], iid, "contain"), 409)
    assert kinds(client, h["csirt"], iid) == ["created", "escalation_started"]


def test_concurrent_moves_of_one_incident_let_exactly_one_through(app, client, factory):
    h = factory.headers(factory.user({"ageo": ["csirt"]}))
    officers = [factory.headers(factory.user({"ageo": ["ciso"]})) for _ in range(4)]
    iid = create(client, h)["id"]
    barrier, lock = threading.Barrier(4), threading.Lock()
    statuses: list[int] = []

    def worker(n: int) -> None:
        with app.app_context():
            own_client = app.test_client()
            barrier.wait(timeout=30)
            response = move(own_client, officers[n], iid, "report", override=True, reason=f"指示 {n}")
            with lock:
                statuses.append(response.status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 409, 409, 409]
    assert kinds(client, h, iid) == ["created", "escalation_started", "stage_overridden"]
    got = client.get(f"{API}/{iid}", headers=h).json
    assert got["stage"] == "report" and got["version"] == 2
    # the refused moves were rolled back whole: the audit chain has no gap
    auditor = factory.headers(factory.user({"ageo": ["auditor"]}))
    verified = client.get("/api/v1/audit/verify", headers=auditor).json
    assert verified["ok"] is True and verified["first_bad"] is None
