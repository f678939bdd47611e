"""The internal chain's duties (met by the record: acknowledgement, reaching 報告), an assembly's
rules, a body's reporting options, and the dashboard of open deadlines."""
from __future__ import annotations

import pytest

from tests.deadlines.support import API, INTERNAL, by_kind, create, due, file, get, patch, pd
from tests.workflow.helpers import assert_error, finish_required, move

AUTO_NOTE = "インシデントの記録から自動的に記録しました。"


def test_internal_duties_are_listed_apart_and_never_in_deadlines(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, **pd(persons=150))
    assert set(by_kind(incident, "internal_deadlines")) == INTERNAL
    assert all(d["category"] == "internal" and d["origin"] == "rule" for d in incident["internal_deadlines"])
    assert not INTERNAL & set(by_kind(incident))
    assert by_kind(incident, "internal_deadlines")["ciso_report"]["label"] == "CISOへの報告（CSIRT→CISO）"
    listed = client.get(f"{API}/{incident['id']}/deadlines", headers=headers).json
    assert {d["kind"] for d in listed["items"]} == INTERNAL | {"ppc_preliminary", "ppc_final"}


def test_acknowledgement_meets_the_manager_report(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    incident = create(client, headers)
    assert by_kind(incident, "internal_deadlines")["internal_manager_report"]["met_at"] is None
    response = client.post(f"{API}/{incident['id']}/acknowledge", headers=headers)
    assert response.status_code == 200, response.json
    acknowledged_at = response.json["acknowledged_at"]
    internal = by_kind(get(client, headers, incident["id"]), "internal_deadlines")
    report = internal["internal_manager_report"]
    assert report["met_at"] == acknowledged_at and report["met_by"] == user.email and report["note"] == AUTO_NOTE
    assert report["time_left"] is None
    assert all(internal[k]["met_at"] is None for k in INTERNAL - {"internal_manager_report"})
    # a second acknowledgement changes nothing
    client.post(f"{API}/{incident['id']}/acknowledge", headers=headers)
    assert by_kind(get(client, headers, incident["id"]), "internal_deadlines")["internal_manager_report"]["met_at"] \
        == acknowledged_at


def test_reaching_report_meets_the_csirt_assessment(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, subcategory="malware")
    assert finish_required(client, headers, incident["id"], "triage")
    # finishing the tasks is not yet the assessment: the stage move is
    assert by_kind(get(client, headers, incident["id"]), "internal_deadlines")["csirt_assessment"]["met_at"] is None
    response = move(client, headers, incident["id"], "report")
    assert response.status_code == 200, response.json
    internal = by_kind(response.json, "internal_deadlines")
    assert internal["csirt_assessment"]["met_at"] is not None and internal["csirt_assessment"]["note"] == AUTO_NOTE
    assert internal["csirt_assessment"]["met_by"] is None
    assert internal["ciso_report"]["met_at"] is None and internal["internal_chief_report"]["met_at"] is None
    # moving back keeps it met
    back = move(client, headers, incident["id"], "triage", reason="再評価")
    assert back.status_code == 200, back.json
    assert by_kind(back.json, "internal_deadlines")["csirt_assessment"]["met_at"] \
        == internal["csirt_assessment"]["met_at"]


def test_an_internal_duty_may_be_filed_by_hand(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    incident = create(client, headers)
    ciso = by_kind(incident, "internal_deadlines")["ciso_report"]
    assert file(client, headers, incident["id"], ciso["id"], met_at="2026-11-20T15:00:00+09:00").status_code == 200
    got = by_kind(get(client, headers, incident["id"]), "internal_deadlines")["ciso_report"]
    assert got["met_at"] == "2026-11-20T06:00:00Z" and got["met_by"] == user.email and got["late"] is False


def test_an_assembly_owes_council_reports_not_ppc(client, factory):
    headers = factory.headers(factory.user({"toride-gikai": ["csirt"]}))
    incident = create(client, headers, organization="toride-gikai", **pd(persons=150, malicious=True))
    assert incident["reference"].startswith("TORIDE-GIKAI-")
    assert due(incident) == {"council_preliminary": "2026-11-23T01:00:00Z", "council_final": "2027-01-19T01:00:00Z"}
    assert by_kind(incident)["council_preliminary"]["authority"] == "議長"
    assert set(by_kind(incident, "internal_deadlines")) == INTERNAL
    # the assembly's My Number work still falls under 番号法
    quiet = create(client, headers, organization="toride-gikai", network_segments=["mynumber"],
                   **pd(persons=1, my_number=True))
    assert set(due(quiet)) == {"mynumber_preliminary", "mynumber_final"}
    # and the city next door keeps the PPC reports
    ageo = create(client, factory.headers(factory.user({"ageo": ["csirt"]})), **pd(persons=150, malicious=True))
    assert set(due(ageo)) == {"ppc_preliminary", "ppc_final"}


def test_preliminary_days_of_the_body_change_the_preliminary_due(client, factory, reporting_options):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    reporting_options("ageo", preliminary_days=5)
    incident = create(client, headers, **pd(persons=150))
    assert due(incident) == {"ppc_preliminary": "2026-11-25T01:00:00Z", "ppc_final": "2026-12-20T01:00:00Z"}
    saga = create(client, factory.headers(factory.user({"saga": ["csirt"]})), organization="saga",
                  **pd(persons=150))
    assert due(saga)["ppc_preliminary"] == "2026-11-23T01:00:00Z"


@pytest.mark.parametrize(("option", "expected"), [(False, set()), (True, {"ppc_preliminary", "ppc_final"})])
def test_ordinance_sensitive_counts_only_where_the_profile_says_so(client, factory, reporting_options, option,
                                                                   expected):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    reporting_options("ageo", ordinance_sensitive=option)
    incident = create(client, headers, **pd(persons=5, ordinance_sensitive=True))
    assert set(due(incident)) == expected
    assert ("ordinance_sensitive" in incident["personal_data"]) is option


def test_no_seed_body_sets_reporting_options_and_the_fixture_restores_them(app):
    from app.organizations.services import get_profile
    for code in ("ageo", "saga", "toride-gikai", "kumamoto-gikai", "mog-gesui"):
        assert get_profile(code).reporting.preliminary_days is None
        assert get_profile(code).reporting.ordinance_sensitive is False
    assert get_profile("toride-gikai").reporting.rules == get_profile("kumamoto-gikai").reporting.rules == "assembly"
    assert get_profile("ageo").reporting.rules == "national"


# --- the dashboard ----------------------------------------------------------------------------

def test_dashboard_lists_open_deadlines_of_my_bodies_soonest_first(client, factory):
    me = factory.user({"ageo": ["csirt"], "saga": ["csirt"]})
    headers = factory.headers(me)
    ageo = create(client, headers, detected_at="2026-11-19T10:00:00+09:00", **pd(persons=150))
    saga = create(client, headers, organization="saga", **pd(sensitive=True))
    other = create(client, factory.headers(factory.user({"mog-gesui": ["csirt"]})), organization="mog-gesui",
                   detected_at="2026-11-01T10:00:00+09:00", **pd(persons=150))
    met = by_kind(saga)["ppc_preliminary"]
    assert file(client, headers, saga["id"], met["id"], reference="S-1").status_code == 200
    notice = client.post(f"{API}/{ageo['id']}/deadlines", headers=headers,
                         json={"kind": "mic_report", "due_at": "2026-11-22T12:00:00+09:00"})
    assert notice.status_code == 201

    response = client.get("/api/v1/deadlines", headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    items = body["items"]
    assert body["page"] == 1 and body["per_page"] == 50 and body["total"] == len(items) == 4 + 2 + 1 + 4 + 1
    assert [i["due_at"] for i in items] == sorted(i["due_at"] for i in items)
    assert other["id"] not in {i["incident"]["id"] for i in items}
    assert met["id"] not in {i["id"] for i in items} and all(i["met_at"] is None for i in items)
    regulatory = [(i["incident"]["reference"], i["kind"], i["due_at"]) for i in items if i["category"] != "internal"]
    assert regulatory == [
        (ageo["reference"], "ppc_preliminary", "2026-11-22T01:00:00Z"),
        (ageo["reference"], "mic_report", "2026-11-22T03:00:00Z"),
        (ageo["reference"], "ppc_final", "2026-12-19T01:00:00Z"),
        (saga["reference"], "ppc_final", "2026-12-20T01:00:00Z"),
    ]
    first = items[0]
    assert first["incident"] == {"id": ageo["id"], "reference": ageo["reference"], "title": ageo["title"],
                                 "organization": "ageo", "stage": "triage"}
    assert first["kind"] == "internal_manager_report" and first["due_at"] == "2026-11-19T02:00:00Z"


def test_dashboard_filters_by_body_and_pages(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"], "saga": ["csirt"]}))
    create(client, headers, **pd(persons=150))
    saga = create(client, headers, organization="saga", detected_at="2026-11-21T10:00:00+09:00")
    only_saga = client.get("/api/v1/deadlines?organization=saga", headers=headers).json
    assert only_saga["total"] == 4 and {i["incident"]["id"] for i in only_saga["items"]} == {saga["id"]}
    page2 = client.get("/api/v1/deadlines?page=2&per_page=4", headers=headers).json
    assert page2["total"] == 10 and page2["page"] == 2 and page2["per_page"] == 4 and len(page2["items"]) == 4
    page1 = client.get("/api/v1/deadlines?page=1&per_page=4", headers=headers).json
    assert page1["items"][-1]["due_at"] <= page2["items"][0]["due_at"]
    assert_error(client.get("/api/v1/deadlines?organization=mog-gesui", headers=headers), 404)
    assert_error(client.get("/api/v1/deadlines?per_page=201", headers=headers), 422)
    assert_error(client.get("/api/v1/deadlines?page=0", headers=headers), 422)
    assert client.get("/api/v1/deadlines").status_code == 401


def test_a_reporter_sees_only_deadlines_of_incidents_they_reported(client, factory):
    reporter = factory.user({"ageo": ["reporter"]})
    mine = create(client, factory.headers(reporter), **pd(persons=150))
    create(client, factory.headers(factory.user({"ageo": ["csirt"]})), **pd(persons=150))
    items = client.get("/api/v1/deadlines", headers=factory.headers(reporter)).json["items"]
    assert len(items) == 6 and {i["incident"]["id"] for i in items} == {mine["id"]}


@pytest.mark.parametrize(("facts", "severity", "ciso_due"), [
    ({"network_segments": ["mynumber"], "impacts": ["outage"]}, "critical", "2026-11-20T02:00:00Z"),  # 1 h
    (pd(sensitive=True, persons=3), "high", "2026-11-20T05:00:00Z"),                              # 4 h
    (pd(persons=3), "medium", "2026-11-21T01:00:00Z"),                                            # 1 d
])
def test_the_ciso_report_is_due_sooner_the_more_serious_the_incident(client, factory, facts, severity, ciso_due):
    """Issue 17, item 5: CSIRT reports to the CISO 「速やかに」; the target time follows the severity."""
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, **facts)
    assert incident["severity"] == severity
    assert due(incident, "internal_deadlines")["ciso_report"] == ciso_due


def test_raising_the_severity_brings_the_ciso_report_forward(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, **pd(persons=3))
    assert due(incident, "internal_deadlines")["ciso_report"] == "2026-11-21T01:00:00Z"
    raised = patch(client, headers, incident, personal_data={"involved": True, "persons": 3, "sensitive": True})
    assert raised["severity"] == "high" and due(raised, "internal_deadlines")["ciso_report"] == "2026-11-20T05:00:00Z"
