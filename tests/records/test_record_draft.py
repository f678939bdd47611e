"""The draft of a post-incident record: before any PUT the API answers `saved: false` with the
key times taken from the incident's own record and the measures from its done tasks."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from tests.records.helpers import acknowledge, advance_to, create, get_record, incident_json, iso, parse, stored, tasks, timeline

JST = ZoneInfo("Asia/Tokyo")
TIME_KEYS = {"detected_at", "reported_at", "acknowledged_at", "contained_at", "recovered_at"}


def _stage_event(events: list[dict], before: str, after: str) -> dict:
    matching = [e for e in events if e["kind"] == "stage_changed" and e["data"]["from"] == before
                and e["data"]["to"] == after]
    assert len(matching) == 1, [(e["kind"], e["data"]) for e in events]
    return matching[0]


def _close_to(stamp: str, event: dict) -> None:
    """The stage's time is taken in the same request as its timeline entry, just before it."""
    delta = parse(event["at"]) - parse(stamp)
    assert dt.timedelta(0) <= delta < dt.timedelta(seconds=2), (stamp, event["at"])


def test_draft_before_any_save_has_the_incidents_real_times(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(csirt)
    incident_id = create(client, headers, detected_at="2026-11-20T10:00:00+09:00")["id"]
    acknowledge(client, headers, incident_id)
    advance_to(client, headers, incident_id, "prevent")

    record = get_record(client, headers, incident_id)
    incident = incident_json(client, headers, incident_id)
    events = timeline(client, headers, incident_id)
    row = stored(incident_id)

    assert record["saved"] is False
    assert record["incident"] == incident_id and record["reference"] == incident["reference"]
    assert record["version"] is None and record["saved_by"] is None and record["approved_at"] is None
    assert set(record["times"]) == TIME_KEYS
    times = record["times"]
    assert times["detected_at"] == incident["detected_at"] == "2026-11-20T01:00:00Z"
    assert times["reported_at"] == incident["created_at"]
    assert incident["acknowledged_at"] is not None
    assert times["acknowledged_at"] == incident["acknowledged_at"]
    [acknowledged] = [e for e in events if e["kind"] == "acknowledged"]
    _close_to(times["acknowledged_at"], acknowledged)
    # contained_at / recovered_at are not in the incident JSON: the stored row and the timeline
    assert times["contained_at"] == iso(row.contained_at) is not None
    assert times["recovered_at"] == iso(row.recovered_at) is not None
    _close_to(times["contained_at"], _stage_event(events, "contain", "recover"))
    _close_to(times["recovered_at"], _stage_event(events, "recover", "prevent"))
    assert parse(times["reported_at"]) <= parse(times["acknowledged_at"]) < parse(times["contained_at"]) \
        < parse(times["recovered_at"])


def test_draft_measures_list_the_done_tasks_of_preserve_contain_recover(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(csirt)
    incident_id = create(client, headers)["id"]
    advance_to(client, headers, incident_id, "prevent")

    done = sorted((t for t in tasks(client, headers, incident_id) if t["done"]), key=lambda t: (t["done_at"], t["id"]))
    counted = [t for t in done if t["stage"] in ("preserve", "contain", "recover")]
    assert {t["stage"] for t in counted} == {"preserve", "contain", "recover"}
    assert any(t["stage"] in ("triage", "report") for t in done)
    expected = "\n".join(f"- {parse(t['done_at']).astimezone(JST):%Y-%m-%d %H:%M} {t['title']}" for t in counted)

    record = get_record(client, headers, incident_id)
    assert record["measures"] == expected
    for task in done:
        assert (task["title"] in record["measures"]) == (task in counted), task
    assert record["measures_html"].count("<li>") == len(counted)
    assert record["cause"] == record["prevention"] == ""
    assert record["impact"] == ""  # no personal data, no impacts
    assert record["policy_clauses"] == [] and record["recommendations"] == []


def test_draft_impact_from_personal_data(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident_id = create(client, headers, personal_data={"involved": True, "persons": 120, "sensitive": True,
                                                         "my_number": True})["id"]
    record = get_record(client, headers, incident_id)
    assert record["impact"] == "- 個人情報: 本人の数 120 名（要配慮個人情報、特定個人情報）"
    assert record["measures"] == ""


def test_fresh_incident_draft_has_no_containment_times(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    created = create(client, headers)
    times = get_record(client, headers, created["id"])["times"]
    assert times == {"detected_at": created["detected_at"], "reported_at": created["created_at"],
                     "acknowledged_at": None, "contained_at": None, "recovered_at": None}


def test_contained_and_recovered_are_kept_from_the_first_pass(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident_id = create(client, headers)["id"]
    advance_to(client, headers, incident_id, "prevent")
    first = get_record(client, headers, incident_id)["times"]

    back = client.post(f"/api/v1/incidents/{incident_id}/stage", headers=headers,
                       json={"to": "contain", "reason": "封じ込めの再確認"})
    assert back.status_code == 200, back.get_data(as_text=True)
    assert back.json["stage"] == "contain"
    advance_to(client, headers, incident_id, "prevent")

    again = get_record(client, headers, incident_id)["times"]
    assert again["contained_at"] == first["contained_at"] is not None
    assert again["recovered_at"] == first["recovered_at"] is not None
