"""Filing a deadline (who, when, the filing's reference, the timeline), notices a handler adds,
and who may do either."""
from __future__ import annotations

import datetime as dt

from app.core.timeutil import now_utc
from tests.deadlines.support import API, all_deadlines, by_kind, create, file, get, pd, utc
from tests.workflow.helpers import assert_error, timeline


def _reportable(client, factory, roles=("csirt",)):
    user = factory.user({"ageo": list(roles)})
    headers = factory.headers(user)
    incident = create(client, headers, **pd(persons=150))
    return user, headers, incident, by_kind(incident)


def test_filing_records_who_when_and_the_reference_and_is_on_the_timeline(client, factory):
    user, headers, incident, deadlines = _reportable(client, factory)
    prelim = deadlines["ppc_preliminary"]
    response = file(client, headers, incident["id"], prelim["id"], reference="  PPC-2026-000123 ",
                    met_at="2026-11-22T09:15:00+09:00", note="電子申請で提出")
    assert response.status_code == 200, response.json
    got = response.json
    assert got["id"] == prelim["id"] and got["kind"] == "ppc_preliminary"
    assert got["met_at"] == "2026-11-22T00:15:00Z"
    assert got["reference"] == "PPC-2026-000123" and got["note"] == "電子申請で提出"
    assert got["late"] is False and got["overdue"] is False and got["time_left"] is None
    # the incident answers it too, and the final report is still open
    again = by_kind(get(client, headers, incident["id"]))
    assert again["ppc_preliminary"]["met_at"] == "2026-11-22T00:15:00Z"
    assert again["ppc_preliminary"]["met_by"] == user.email and again["ppc_preliminary"]["reference"] == "PPC-2026-000123"
    assert again["ppc_final"]["met_at"] is None
    entry = [e for e in timeline(client, headers, incident["id"]) if e["kind"] == "deadline_met"]
    assert len(entry) == 1
    assert entry[0]["actor"] == user.email
    assert "個人情報保護委員会への漏えい等報告（速報） を完了（2026-11-22 09:15）" in entry[0]["summary"]
    assert "受付番号等: PPC-2026-000123" in entry[0]["summary"]
    assert entry[0]["data"]["kind"] == "ppc_preliminary" and entry[0]["data"]["reference"] == "PPC-2026-000123"
    assert entry[0]["data"]["late"] is False


def test_filing_after_the_due_time_is_late_and_without_met_at_is_now(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    detected = (now_utc() - dt.timedelta(days=4)).replace(microsecond=0)
    incident = create(client, headers, detected_at=detected.isoformat(), **pd(sensitive=True))
    prelim, final = by_kind(incident)["ppc_preliminary"], by_kind(incident)["ppc_final"]
    assert prelim["overdue"] is True and prelim["time_left"] == "超過 1日"
    assert final["overdue"] is False and final["time_left"].startswith("残り 25日23時間")
    met_at = detected + dt.timedelta(days=3, hours=2)   # two hours after the due time
    late = file(client, headers, incident["id"], prelim["id"], met_at=met_at.isoformat())
    assert late.status_code == 200, late.json
    assert late.json["late"] is True and late.json["overdue"] is False and late.json["time_left"] is None
    summary = [e for e in timeline(client, headers, incident["id"]) if e["kind"] == "deadline_met"][-1]["summary"]
    assert "、期限超過）" in summary

    before = now_utc()
    now = file(client, headers, incident["id"], final["id"])
    assert now.status_code == 200, now.json
    assert before - dt.timedelta(seconds=1) <= utc(now.json["met_at"]) <= now_utc() + dt.timedelta(seconds=1)
    assert now.json["reference"] is None and now.json["late"] is False
    assert all_deadlines(client, headers, incident["id"])["ppc_final"]["met_by"] == user.email


def test_the_filing_answer_names_who_filed(client, factory):
    user, headers, incident, deadlines = _reportable(client, factory)
    response = file(client, headers, incident["id"], deadlines["ppc_final"]["id"], reference="R-1")
    assert response.status_code == 200
    assert response.json["met_by"] == user.email


def test_second_filing_is_a_conflict_and_keeps_the_first(client, factory):
    _user, headers, incident, deadlines = _reportable(client, factory)
    first = file(client, headers, incident["id"], deadlines["ppc_final"]["id"], reference="A-1")
    assert first.status_code == 200
    second = file(client, headers, incident["id"], deadlines["ppc_final"]["id"], reference="B-2")
    assert_error(second, 409)
    assert all_deadlines(client, headers, incident["id"])["ppc_final"]["reference"] == "A-1"
    assert len([e for e in timeline(client, headers, incident["id"]) if e["kind"] == "deadline_met"]) == 1


def test_future_met_at_and_unknown_fields_are_refused(client, factory):
    _user, headers, incident, deadlines = _reportable(client, factory)
    future = (now_utc() + dt.timedelta(hours=1)).isoformat()
    assert_error(file(client, headers, incident["id"], deadlines["ppc_final"]["id"], met_at=future), 422, field="met_at")
    assert_error(file(client, headers, incident["id"], deadlines["ppc_final"]["id"], met_at="2026-11-21T10:00:00"),
                 422, field="met_at")
    assert_error(file(client, headers, incident["id"], deadlines["ppc_final"]["id"], filed=True), 422)
    before_detection = file(client, headers, incident["id"], deadlines["ppc_final"]["id"], met_at="2001-04-01T09:00:00+09:00")
    assert_error(before_detection, 422, field="met_at")
    assert before_detection.json["error"]["fields"]["met_at"] == "検知日時より前の日時は指定できません。"
    assert all_deadlines(client, headers, incident["id"])["ppc_final"]["met_at"] is None


def test_reporter_and_auditor_may_not_file(client, factory):
    reporter = factory.user({"ageo": ["reporter"]})
    reporter_h = factory.headers(reporter)
    incident = create(client, reporter_h, **pd(persons=150))
    prelim = by_kind(incident)["ppc_preliminary"]
    assert_error(file(client, reporter_h, incident["id"], prelim["id"], reference="X"), 403)
    auditor_h = factory.headers(factory.user({"ageo": ["auditor"]}))
    assert_error(file(client, auditor_h, incident["id"], prelim["id"]), 403)
    # a 情報セキュリティ管理者 works the incident and may file
    manager_h = factory.headers(factory.user({"ageo": ["security_manager"]}))
    assert file(client, manager_h, incident["id"], prelim["id"], reference="M-1").status_code == 200
    assert all_deadlines(client, auditor_h, incident["id"])["ppc_preliminary"]["reference"] == "M-1"


def test_another_bodys_incident_and_a_foreign_deadline_are_not_found(client, factory):
    _user, headers, incident, deadlines = _reportable(client, factory)
    saga_h = factory.headers(factory.user({"saga": ["csirt"]}))
    assert_error(client.get(f"{API}/{incident['id']}/deadlines", headers=saga_h), 404)
    assert_error(file(client, saga_h, incident["id"], deadlines["ppc_final"]["id"]), 404)
    assert_error(client.post(f"{API}/{incident['id']}/deadlines", headers=saga_h, json={"kind": "mic_report"}), 404)
    # a deadline of another incident, through this one's path
    other = create(client, headers, **pd(persons=150))
    assert_error(file(client, headers, incident["id"], by_kind(other)["ppc_final"]["id"]), 404)
    assert_error(file(client, headers, incident["id"], 2**31), 404)
    assert by_kind(get(client, headers, other["id"]))["ppc_final"]["met_at"] is None


def test_notices_add_with_suggested_or_given_due_refuse_duplicates_and_unknown_kinds(client, factory):
    _user, headers, incident, _deadlines = _reportable(client, factory)
    path = f"{API}/{incident['id']}/deadlines"
    before = now_utc()
    police = client.post(path, headers=headers, json={"kind": "police_report", "note": "上尾警察署に相談"})
    assert police.status_code == 201, police.json
    got = police.json
    assert got["kind"] == "police_report" and got["category"] == "notice" and got["origin"] == "manual"
    assert got["label"] == "警察への相談・届出" and got["authority"] == "警察" and got["note"] == "上尾警察署に相談"
    suggested = utc(got["due_at"]) - dt.timedelta(days=1)   # `after: 1d` from now
    assert before - dt.timedelta(seconds=1) <= suggested <= now_utc() + dt.timedelta(seconds=1)

    persons = client.post(path, headers=headers, json={"kind": "persons_notice", "due_at": "2026-12-01T17:00:00+09:00"})
    assert persons.status_code == 201 and persons.json["due_at"] == "2026-12-01T08:00:00Z"

    assert_error(client.post(path, headers=headers, json={"kind": "police_report"}), 409)
    assert_error(client.post(path, headers=headers, json={"kind": "ppc_preliminary"}), 422, field="kind")
    assert_error(client.post(path, headers=headers, json={"kind": "press_release"}), 422, field="kind")
    assert_error(client.post(path, headers=headers, json={}), 422, field="kind")
    kinds = [d["kind"] for d in get(client, headers, incident["id"])["deadlines"]]
    assert sorted(kinds) == ["persons_notice", "police_report", "ppc_final", "ppc_preliminary"]
    added = [e for e in timeline(client, headers, incident["id"]) if e["kind"] == "deadline_added"]
    assert [e["data"]["kind"] for e in added] == ["police_report", "persons_notice"]
    assert "追加: 本人への通知（2026-12-01 17:00まで）" == added[1]["summary"]


def test_roles_without_edit_may_not_add_notices(client, factory):
    _user, headers, incident, _deadlines = _reportable(client, factory)
    path = f"{API}/{incident['id']}/deadlines"
    for role in ("security_manager", "auditor"):
        other_h = factory.headers(factory.user({"ageo": [role]}))
        assert_error(client.post(path, headers=other_h, json={"kind": "mic_report"}), 403)
    # unknown kind is 422 before 403 (the contract's order)
    auditor_h = factory.headers(factory.user({"ageo": ["auditor"]}))
    assert_error(client.post(path, headers=auditor_h, json={"kind": "nope"}), 422)
    assert "mic_report" not in all_deadlines(client, headers, incident["id"])
