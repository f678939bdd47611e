"""Issue 17, items 4 and 6, through the API on both engines: an assembly's checklist never tells it
to report to the 個人情報保護委員会; a city chooses the 議会's rules for an incident of that 機関;
本人への通知 is on the checklist of every reportable leak, whatever its category."""
from __future__ import annotations

from tests.deadlines.support import create, due, patch, pd
from tests.workflow.helpers import API, assert_error, by_code, tasks, timeline

COUNCIL = {"council_preliminary", "council_final"}
PPC = {"ppc_preliminary", "ppc_final"}


def _headers(factory, code: str):
    return factory.headers(factory.user({code: ["csirt"]}))


# --- item 4: assemblies are not 行政機関等 ----------------------------------------------------

def test_kumamoto_gikai_has_its_own_council_item_and_no_ppc_item(client, factory):
    """Before: no checklist of its own, so the default's required item told it to report to the PPC."""
    headers = _headers(factory, "kumamoto-gikai")
    incident = create(client, headers, organization="kumamoto-gikai", **pd(persons=3, sensitive=True))
    items = by_code(tasks(client, headers, incident["id"]))
    assert "report-ppc-assess" not in items
    council = items["report-council-assess"]
    assert council["title"] == "熊本市議会の個人情報保護条例による漏えい等の報告・本人通知の要否を判断する"
    assert (council["required"], council["stage"], council["role"]) == (True, "report", "csirt")
    assert "kumamoto-gikai-report-city" in items
    assert not [t for t in items.values() if t["required"] and "個人情報保護委員会" in t["title"]]
    assert set(due(incident)) == COUNCIL and incident["reporting_rules"] == "assembly"


def test_a_city_applies_the_assemblys_rules_to_an_incident_of_its_assembly(client, factory):
    """上尾市 第5条(10) lists the 議会 in scope: its incidents follow the assembly's rules."""
    headers = _headers(factory, "ageo")
    incident = create(client, headers, organ="gikai", **pd(persons=3, sensitive=True))
    assert (incident["organ"], incident["reporting_rules"]) == ("gikai", "assembly")
    assert set(due(incident)) == COUNCIL
    items = by_code(tasks(client, headers, incident["id"]))
    assert "report-council-assess" in items and "report-ppc-assess" not in items
    # the city's own 機関 again: the PPC's reports and item, the council's withdrawn
    city = patch(client, headers, incident, organ=None)
    assert (city["organ"], city["reporting_rules"]) == (None, "national") and set(due(city)) == PPC
    items = by_code(tasks(client, headers, incident["id"]))
    assert "report-ppc-assess" in items and "report-council-assess" not in items
    assert [e["summary"] for e in timeline(client, headers, incident["id"]) if e["kind"] == "tasks_changed"] == [
        "報告の要否・報告先の変更によりタスクを 1 件追加、未完了の 1 件を除外"]


def test_saga_chooses_the_assemblys_rules_for_its_gikai_jimukyoku(client, factory):
    headers = _headers(factory, "saga")
    incident = create(client, headers, organization="saga", organ="gikai", **pd(persons=101))
    assert set(due(incident)) == COUNCIL and incident["reporting_rules"] == "assembly"


def test_an_organ_not_in_the_profile_is_refused(client, factory):
    body = {"organization": "ageo", "title": "x", "threat_category": "intentional",
            "detected_at": "2026-11-20T10:00:00+09:00"}
    assert_error(client.post(API, headers=_headers(factory, "ageo"), json=body | {"organ": "kyoiku"}),
                 422, field="organ")
    # an assembly has no 機関 to choose
    assert_error(client.post(API, headers=_headers(factory, "toride-gikai"),
                             json=body | {"organization": "toride-gikai", "organ": "gikai"}), 422, field="organ")


# --- item 6: 本人への通知 for every reportable leak ------------------------------------------------

def test_every_reportable_leak_gets_the_notice_to_the_persons(client, factory):
    """Before: only `unintentional` incidents had it, reportable or not."""
    headers = _headers(factory, "ageo")
    attack = create(client, headers, threat_category="intentional", **pd(persons=3, sensitive=True))
    notice = by_code(tasks(client, headers, attack["id"]))["report-notify-persons"]
    assert (notice["stage"], notice["source"], notice["title"]) == ("report", "common", "影響を受けた本人へ通知する")
    # not reportable: no such task, for an unintentional incident either
    lost = create(client, headers, threat_category="unintentional", **pd(persons=3))
    assert "report-notify-persons" not in by_code(tasks(client, headers, lost["id"]))
    assert "unintentional-report-notify-persons" not in by_code(tasks(client, headers, lost["id"]))
    # it becomes reportable: the task comes, said on the timeline; and goes again while open
    patch(client, headers, lost, **pd(persons=101))
    assert "report-notify-persons" in by_code(tasks(client, headers, lost["id"]))
    changed = [e for e in timeline(client, headers, lost["id"]) if e["kind"] == "tasks_changed"]
    assert [e["summary"] for e in changed] == ["報告の要否・報告先の変更によりタスクを 1 件追加、未完了の 0 件を除外"]
    assert changed[0]["data"]["added"] == ["report-notify-persons"]
    patch(client, headers, lost, **pd(persons=3))
    assert "report-notify-persons" not in by_code(tasks(client, headers, lost["id"]))


def test_the_assemblys_reportable_leak_gets_it_too(client, factory):
    headers = _headers(factory, "toride-gikai")
    incident = create(client, headers, organization="toride-gikai", **pd(persons=101))
    assert "report-notify-persons" in by_code(tasks(client, headers, incident["id"]))
