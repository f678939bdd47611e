"""Closing an incident approves its post-incident record: only with a saved record, only by the
統括情報セキュリティ責任者 / CISO; an approved record is final until the incident is reopened.
Recommendation statuses stay workable after approval."""
from __future__ import annotations

import pytest

from tests.records.helpers import (
    API,
    at_prevent,
    events,
    get_record,
    incident_json,
    iso,
    move,
    put_record,
    record_url,
    saved,
    stored,
)
from tests.workflow.helpers import assert_error


@pytest.fixture
def people(factory):
    users = {role: factory.user({"ageo": [role]}, name=f"上尾 {role}") for role in ("csirt", "chief_officer", "ciso",
                                                                                  "auditor")}
    return {role: (user, factory.headers(user)) for role, user in users.items()}


def test_closing_needs_a_record_the_officers_role_and_approves_it(client, people):
    (csirt, csirt_h), (chief, chief_h), (_, ciso_h) = people["csirt"], people["chief_officer"], people["ciso"]
    incident_id = at_prevent(client, csirt_h)

    error = assert_error(move(client, ciso_h, incident_id, "closed"), 409)
    assert "事後報告" in error["message"]
    assert stored(incident_id).stage == "prevent"

    version = saved(client, csirt_h, incident_id)["version"]
    assert_error(move(client, csirt_h, incident_id, "closed"), 403)
    assert stored(incident_id).stage == "prevent"
    assert get_record(client, csirt_h, incident_id)["approved_at"] is None

    closed = move(client, chief_h, incident_id, "closed")
    assert closed.status_code == 200, closed.get_data(as_text=True)
    assert closed.json["stage"] == "closed"
    incident = incident_json(client, chief_h, incident_id)
    record = get_record(client, csirt_h, incident_id)
    assert record["approved_by"] == chief.email
    assert record["approved_at"] == incident["closed_at"] is not None
    assert record["version"] == version and record["saved_by"] == csirt.email
    [event] = [e for e in events(client, chief_h, incident_id, "stage_changed") if e["data"]["to"] == "closed"]
    assert event["actor"] == chief.email and "事後報告を上尾 chief_officerが承認" in event["summary"]

    refused = put_record(client, csirt_h, incident_id, version=version, cause="承認後の書き換え")
    assert_error(refused, 409)
    assert_error(put_record(client, chief_h, incident_id, cause="承認者でも不可"), 409)
    assert get_record(client, csirt_h, incident_id)["cause"] != "承認後の書き換え"


def test_reopening_withdraws_the_approval_and_the_record_is_editable_again(client, people):
    (_, csirt_h), (_, chief_h), (ciso, ciso_h) = people["csirt"], people["chief_officer"], people["ciso"]
    incident_id = at_prevent(client, csirt_h)
    saved(client, csirt_h, incident_id)
    assert move(client, chief_h, incident_id, "closed").status_code == 200

    assert_error(move(client, csirt_h, incident_id, "prevent", reason="追加調査"), 403)  # reopening is the officers'
    reopened = move(client, ciso_h, incident_id, "prevent", reason="原因の追加調査")
    assert reopened.status_code == 200, reopened.get_data(as_text=True)
    assert reopened.json["stage"] == "prevent"
    record = get_record(client, csirt_h, incident_id)
    assert record["approved_at"] is None and record["approved_by"] is None
    assert incident_json(client, csirt_h, incident_id)["closed_at"] is None

    again = saved(client, csirt_h, incident_id, version=1, cause="追加調査で判明した原因")
    assert again["version"] == 2 and again["cause"] == "追加調査で判明した原因"

    approved = client.post(record_url(incident_id, "/approve"), headers=ciso_h)
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert approved.json["approved_by"] == ciso.email and approved.json["version"] == 2
    assert approved.json["cause"] == "追加調査で判明した原因"
    assert incident_json(client, ciso_h, incident_id)["stage"] == "closed"
    assert_error(client.post(record_url(incident_id, "/approve"), headers=ciso_h), 409)  # already closed


def test_approve_endpoint_has_the_same_checks_as_the_stage_move(client, people):
    (_, csirt_h), (chief, chief_h) = people["csirt"], people["chief_officer"]
    incident_id = at_prevent(client, csirt_h)
    approve = record_url(incident_id, "/approve")

    assert_error(client.post(approve, headers=chief_h), 409)  # no record yet
    saved(client, csirt_h, incident_id)
    assert_error(client.post(approve, headers=csirt_h), 403)
    assert_error(client.post(approve, headers=people["auditor"][1]), 403)
    assert stored(incident_id).stage == "prevent"

    response = client.post(approve, headers=chief_h)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["saved"] is True and response.json["approved_by"] == chief.email
    row = stored(incident_id)
    assert row.stage == "closed" and row.not_incident is False
    assert response.json["approved_at"] == iso(row.closed_at) is not None


def test_approve_is_refused_before_the_prevent_stage(client, people):
    (_, csirt_h), (_, ciso_h) = people["csirt"], people["ciso"]
    incident_id = at_prevent(client, csirt_h)
    back = move(client, csirt_h, incident_id, "recover", reason="復旧の再確認")
    assert back.status_code == 200, back.get_data(as_text=True)
    saved(client, csirt_h, incident_id)
    assert_error(client.post(record_url(incident_id, "/approve"), headers=ciso_h), 409)  # a stage would be skipped
    assert stored(incident_id).stage == "recover"
    assert get_record(client, ciso_h, incident_id)["approved_at"] is None


def test_recommendation_status_after_approval(client, people):
    (csirt, csirt_h), (_, chief_h), (_, auditor_h) = people["csirt"], people["chief_officer"], people["auditor"]
    incident_id = at_prevent(client, csirt_h)
    first, second = saved(client, csirt_h, incident_id)["recommendations"]
    assert move(client, chief_h, incident_id, "closed").status_code == 200
    url = record_url(incident_id, f"/recommendations/{first['id']}")

    response = client.patch(url, headers=csirt_h, json={"status": "adopted"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {"id": first["id"], "text": first["text"], "clause": first["clause"], "status": "adopted"}
    done = client.patch(url, headers=chief_h, json={"status": "done"})
    assert done.status_code == 200 and done.json["status"] == "done"

    record = get_record(client, csirt_h, incident_id)
    assert [r["status"] for r in record["recommendations"]] == ["done", second["status"]]
    assert record["approved_at"] is not None and record["version"] == 1  # still approved, not a new version
    changes = events(client, csirt_h, incident_id, "recommendation_status")
    assert [(e["actor"], e["data"]) for e in changes] == [
        (csirt.email, {"recommendation": first["id"], "from": "proposed", "to": "adopted"}),
        (people["chief_officer"][0].email, {"recommendation": first["id"], "from": "adopted", "to": "done"})]
    assert "提案 → 採用" in changes[0]["summary"] and "採用 → 実施済" in changes[1]["summary"]

    same = client.patch(url, headers=csirt_h, json={"status": "done"})  # no change, no entry
    assert same.status_code == 200
    assert len(events(client, csirt_h, incident_id, "recommendation_status")) == 2

    assert_error(client.patch(url, headers=auditor_h, json={"status": "rejected"}), 403)
    assert_error(client.patch(record_url(incident_id, "/recommendations/999999"), headers=csirt_h,
                              json={"status": "rejected"}), 404)
    assert_error(client.patch(url, headers=csirt_h, json={"status": "approved"}), 422)
    assert_error(client.patch(url, headers=csirt_h, json={"status": "rejected", "text": "x"}), 422)
    assert get_record(client, csirt_h, incident_id)["recommendations"][0]["status"] == "done"


def test_a_recommendation_of_another_incident_is_404(client, people):
    _, csirt_h = people["csirt"]
    one = client.post(f"{API}", headers=csirt_h, json={"organization": "ageo", "title": "一件目", "threat_category": "intentional",
                                                       "detected_at": "2026-11-20T10:00:00+09:00"}).json["id"]
    two = client.post(f"{API}", headers=csirt_h, json={"organization": "ageo", "title": "二件目", "threat_category": "intentional",
                                                       "detected_at": "2026-11-20T10:00:00+09:00"}).json["id"]
    foreign = saved(client, csirt_h, one)["recommendations"][0]["id"]
    saved(client, csirt_h, two)
    assert_error(client.patch(record_url(two, f"/recommendations/{foreign}"), headers=csirt_h,
                              json={"status": "adopted"}), 404)
    assert_error(client.patch(record_url(one + two + 100, f"/recommendations/{foreign}"), headers=csirt_h,
                              json={"status": "adopted"}), 404)
    assert get_record(client, csirt_h, one)["recommendations"][0]["status"] == "proposed"
