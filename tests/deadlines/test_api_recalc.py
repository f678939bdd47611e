"""The API's deadlines follow the incident's facts: exact due times from detected_at, created,
moved and removed on PATCH while unmet, kept once met; 非該当 removes them."""
from __future__ import annotations

from tests.deadlines.support import (
    API,
    DETECTED,
    by_kind,
    create,
    deadline_row,
    due,
    file,
    get,
    patch,
    pd,
)
from tests.workflow.helpers import timeline


def last(client, headers, incident_id: int, kind: str | None = None) -> dict:
    return [e for e in timeline(client, headers, incident_id) if kind is None or e["kind"] == kind][-1]


PRELIM, FINAL30, FINAL60 = "2026-11-23T01:00:00Z", "2026-12-20T01:00:00Z", "2027-01-19T01:00:00Z"


def test_exact_due_times_from_detected_at(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, **pd(persons=150))
    assert due(incident) == {"ppc_preliminary": PRELIM, "ppc_final": FINAL30}
    assert incident["severity"] == "high"  # 150 persons: the CISO hears within 4 h (issue 17, item 5)
    assert due(incident, "internal_deadlines") == {
        "internal_manager_report": "2026-11-20T02:00:00Z", "internal_chief_report": "2026-11-20T05:00:00Z",
        "csirt_assessment": "2026-11-21T01:00:00Z", "ciso_report": "2026-11-20T05:00:00Z"}
    prelim = by_kind(incident)["ppc_preliminary"]
    assert prelim["category"] == "regulatory" and prelim["origin"] == "rule"
    assert prelim["authority"] == "個人情報保護委員会" and "第68条" in prelim["source"]
    assert prelim["met_at"] is None and prelim["met_by"] is None and prelim["reference"] is None
    assert set(prelim) >= {"id", "kind", "category", "origin", "label", "authority", "source", "due_at", "met_at",
                           "met_by", "reference", "note", "overdue", "late", "time_left"}
    # the same times through the GET and the list of all the incident's deadlines
    assert due(get(client, headers, incident["id"])) == due(incident)
    listed = client.get(f"{API}/{incident['id']}/deadlines", headers=headers).json
    assert listed["total"] == 6 and [d["due_at"] for d in listed["items"]] == sorted(d["due_at"] for d in listed["items"])


def test_my_number_leak_in_the_segment_owes_mynumber_reports_with_exact_times(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, network_segments=["mynumber"],
                      **pd(persons=1, my_number=True, malicious=True))
    assert due(incident) == {"mynumber_preliminary": PRELIM, "mynumber_final": FINAL60,
                             "ppc_preliminary": PRELIM, "ppc_final": FINAL60}
    quiet = create(client, headers, network_segments=["lgwan"], **pd(persons=1, my_number=True))
    assert due(quiet) == {}


def test_persons_up_adds_and_back_down_removes_an_unmet_deadline(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, **pd(persons=50))
    assert incident["deadlines"] == []
    up = patch(client, headers, incident, **pd(persons=150))
    assert due(up) == {"ppc_preliminary": PRELIM, "ppc_final": FINAL30}
    entry = last(client, headers, incident["id"], "updated")
    assert "設定: 個人情報保護委員会への漏えい等報告（速報）（2026-11-23 10:00まで）" in entry["summary"]
    assert entry["data"]["deadlines"][0].startswith("設定: ")
    down = patch(client, headers, incident, **pd(persons=50))
    assert down["deadlines"] == []
    assert deadline_row(incident["id"], "ppc_preliminary").withdrawn_at is not None  # kept as history
    entry = last(client, headers, incident["id"], "updated")
    assert "取消: 個人情報保護委員会への漏えい等報告（速報）" in entry["summary"]
    # the internal chain is untouched by the personal data
    assert len(down["internal_deadlines"]) == 4


def test_detected_at_change_moves_the_due_times(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, **pd(persons=150))
    before = by_kind(incident)["ppc_preliminary"]
    moved = patch(client, headers, incident, detected_at="2026-11-21T09:30:00+09:00")
    after = by_kind(moved)["ppc_preliminary"]
    assert after["due_at"] == "2026-11-24T00:30:00Z" and by_kind(moved)["ppc_final"]["due_at"] == "2026-12-21T00:30:00Z"
    assert after["id"] == before["id"]  # the same deadline, moved
    assert by_kind(moved, "internal_deadlines")["internal_manager_report"]["due_at"] == "2026-11-21T01:30:00Z"
    assert deadline_row(incident["id"], "ppc_preliminary").round == 2
    assert "変更: 個人情報保護委員会への漏えい等報告（速報）" in last(client, headers, incident["id"])["summary"]


def test_malicious_toggles_the_final_report_between_30_and_60_days(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, **pd(persons=150))
    assert due(incident)["ppc_final"] == FINAL30
    assert due(patch(client, headers, incident, **pd(persons=150, malicious=True)))["ppc_final"] == FINAL60
    back = patch(client, headers, incident, **pd(persons=150))
    assert due(back) == {"ppc_preliminary": PRELIM, "ppc_final": FINAL30}


def test_a_met_deadline_stays_as_filed_when_the_facts_change(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, **pd(persons=150))
    prelim = by_kind(incident)["ppc_preliminary"]
    response = file(client, headers, incident["id"], prelim["id"], reference="PPC-0001",
                    met_at="2026-11-21T12:00:00+09:00")
    assert response.status_code == 200, response.json
    # detected later: the unmet final report moves, the filed preliminary one keeps its due time
    moved = patch(client, headers, incident, detected_at="2026-11-21T10:00:00+09:00")
    assert by_kind(moved)["ppc_preliminary"]["due_at"] == PRELIM
    assert by_kind(moved)["ppc_final"]["due_at"] == "2026-12-21T01:00:00Z"
    # no longer reportable: the unmet one goes, the filed one stays with its record
    gone = patch(client, headers, incident, **pd(persons=50))
    assert list(by_kind(gone)) == ["ppc_preliminary"]
    kept = by_kind(gone)["ppc_preliminary"]
    assert kept["met_at"] == "2026-11-21T03:00:00Z" and kept["reference"] == "PPC-0001" and kept["due_at"] == PRELIM


def test_closing_as_not_incident_withdraws_unmet_deadlines_and_added_notices(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, **pd(persons=150))
    ack = client.post(f"{API}/{incident['id']}/acknowledge", headers=headers)
    assert ack.status_code == 200
    notice = client.post(f"{API}/{incident['id']}/deadlines", headers=headers, json={"kind": "police_report"})
    assert notice.status_code == 201
    response = client.post(f"{API}/{incident['id']}/stage", headers=headers,
                           json={"to": "closed", "not_incident": True, "reason": "誤検知（テスト送信）"})
    assert response.status_code == 200, response.json
    closed = get(client, headers, incident["id"])
    assert closed["deadlines"] == []
    assert deadline_row(incident["id"], "police_report").withdrawn_at is not None
    # the acknowledged duty was met and stays; the other internal duties are gone
    assert [d["kind"] for d in closed["internal_deadlines"]] == ["internal_manager_report"]
    assert closed["internal_deadlines"][0]["met_at"] is not None
    assert "取消: 個人情報保護委員会への漏えい等報告（確報）" in last(client, headers, incident["id"])["summary"]


def test_create_with_detected_at_in_jst_and_other_offsets_gives_the_same_due(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    jst = create(client, headers, **pd(sensitive=True))
    utc = create(client, headers, detected_at="2026-11-20T01:00:00Z", **pd(sensitive=True))
    assert DETECTED.endswith("+09:00")
    assert due(jst) == due(utc) == {"ppc_preliminary": PRELIM, "ppc_final": FINAL30}


def test_reopening_an_event_closed_as_not_incident_brings_the_deadlines_back(client, factory):
    headers = factory.headers(factory.user({"ageo": ["chief_officer"]}))
    incident = create(client, headers, **pd(persons=150))
    closed = client.post(f"{API}/{incident['id']}/stage", headers=headers,
                         json={"to": "closed", "not_incident": True, "reason": "誤検知"})
    assert closed.status_code == 200 and closed.json["deadlines"] == [] and closed.json["internal_deadlines"] == []
    reopened = client.post(f"{API}/{incident['id']}/stage", headers=headers, json={"to": "triage", "reason": "再評価"})
    assert reopened.status_code == 200, reopened.json
    assert due(reopened.json) == {"ppc_preliminary": PRELIM, "ppc_final": FINAL30}
    assert len(reopened.json["internal_deadlines"]) == 4
