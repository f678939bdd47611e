"""JSON API v1, incidents: the contract of API.md (create, list, get, patch, errors, roles, severity)."""
from __future__ import annotations

import datetime as dt
import json
import threading
from zoneinfo import ZoneInfo

import pytest

from app.core.db import db
from tests.concurrency import run_in_threads

API = "/api/v1/incidents"
JST = ZoneInfo("Asia/Tokyo")


def year() -> int:
    return dt.datetime.now(JST).year


def body(**overrides) -> dict:
    return {"organization": "ageo", "title": "標的型メール", "threat_category": "intentional",
            "detected_at": "2026-11-20T10:00:00+09:00"} | overrides


def jst(y, mo, d, h=9, mi=0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=JST)


def assert_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    assert set(error) == {"code", "message", "fields"}
    assert isinstance(error["message"], str) and error["message"] and isinstance(error["fields"], dict)
    assert code is None or error["code"] == code, error
    assert field is None or field in error["fields"], error["fields"]
    return error


def refs(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["reference"] for item in response.json["items"]]


# --- create, get, list ------------------------------------------------------------------------

def test_create_answers_the_full_incident_with_sanitized_html(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    description = ("**太字** の説明\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>"
                   "\n\n[link](javascript:alert(2))")
    response = client.post(API, headers=headers, json=body(description=description, source="external",
                                                           subcategory="malware"))
    assert response.status_code == 201, response.json
    got = response.json
    assert isinstance(got["id"], int) and got["reference"] == f"AGEO-{year()}-0001"
    assert got["organization"] == "ageo" and got["title"] == "標的型メール"
    assert got["threat_category"] == "intentional" and got["subcategory"] == "malware"
    assert got["source"] == "external" and got["stage"] == "triage" and got["version"] == 1
    assert got["severity"] == "low" and got["computed_severity"] == "low"
    assert got["severity_basis"] is None and got["severity_override"] is None
    assert got["detected_at"] == "2026-11-20T01:00:00Z" and got["created_at"].endswith("Z")
    assert got["acknowledged_at"] is None and got["network_segments"] == [] and got["impacts"] == []
    assert got["personal_data"] == {"involved": False, "persons": 0, "sensitive": False, "my_number": False,
                                    "financial_damage": False, "malicious": False, "held_in": [], "encrypted": False,
                                    "public_exposure": False}
    assert got["recognized_at"] is None and got["organ"] is None and got["reporting_rules"] == "national"
    assert got["excluded_deadlines"] == []
    assert got["deadlines"] == [] and got["reporter_id"] == user.id and got["description"] == description
    html = got["description_html"]
    assert "<strong>太字</strong>" in html
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    again = client.get(f"{API}/{got['id']}", headers=headers)
    assert again.status_code == 200 and again.json == got


def test_unknown_incident_is_404(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    assert_error(client.get(f"{API}/999999", headers=headers), 404, "not_found")
    assert_error(client.patch(f"{API}/999999", headers=headers, json={"version": 1}), 404, "not_found")


def test_list_pages_newest_detected_first(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    for day, title in ((3, "三日"), (5, "五日"), (1, "一日")):
        factory.incident(user, title=title, detected_at=jst(2026, 11, day))
    first = client.get(API, headers=headers, query_string={"per_page": 2}).json
    assert (first["total"], first["page"], [i["title"] for i in first["items"]]) == (3, 1, ["五日", "三日"])
    second = client.get(API, headers=headers, query_string={"per_page": 2, "page": 2}).json
    assert (second["total"], second["page"], [i["title"] for i in second["items"]]) == (3, 2, ["一日"])
    assert [i["title"] for i in client.get(API, headers=headers).json["items"]] == ["五日", "三日", "一日"]
    assert client.get(API, headers=headers, query_string={"per_page": 200}).json["total"] == 3


def test_list_filters(client, factory):
    user = factory.user({"ageo": ["csirt"], "saga": ["csirt"]})
    headers = factory.headers(user)
    a = factory.incident(user, title="100%の端末が感染", detected_at=jst(2026, 11, 1, 0, 30))
    b = factory.incident(user, title="市民課で USB メモリ紛失", threat_category="unintentional",
                         description="住民票の写しを含む", detected_at=jst(2026, 11, 1, 23, 30))
    c = factory.incident(user, title="1000台の端末", network_segments=["mynumber"], impacts=["outage"],
                         detected_at=jst(2026, 11, 2))
    s = factory.incident(user, organization="saga", title="佐賀の事案", detected_at=jst(2026, 11, 3))
    ageo = sorted([a.reference, b.reference, c.reference])

    def q(**params):
        return sorted(refs(client.get(API, headers=headers, query_string=params)))

    assert q() == sorted(ageo + [s.reference])
    assert q(organization="saga") == [s.reference] and q(organization="ageo") == ageo
    assert q(threat_category="unintentional") == [b.reference]
    assert q(severity="critical") == [c.reference]
    assert q(stage="triage", organization="ageo") == ageo and q(stage="closed") == []
    assert q(q="100%") == [a.reference]             # % is literal, not a wildcard
    assert q(q="100") == sorted([a.reference, c.reference])
    assert q(q="_") == []                             # _ is literal too
    assert q(q="市民課") == [b.reference] and q(q="住民票") == [b.reference]  # title and description
    assert q(q="usb") == [b.reference] and q(q=s.reference) == [s.reference]
    # plain dates are Asia/Tokyo days: 00:30 JST on 11-01 is still 2026-10-31 in UTC
    assert q(detected_from="2026-11-01", detected_to="2026-11-01") == sorted([a.reference, b.reference])
    assert q(detected_to="2026-10-31") == []
    assert q(detected_from="2026-11-02", organization="ageo") == [c.reference]
    assert q(detected_from="2026-11-01T23:00:00+09:00", organization="ageo") == sorted([b.reference, c.reference])
    assert q(detected_to="2026-11-01T23:30:00+09:00") == sorted([a.reference, b.reference])  # inclusive
    assert q(detected_from="2026-10-31T15:30:00Z", detected_to="2026-10-31T15:30:00Z") == [a.reference]


def test_q_folds_case_the_same_on_every_engine(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    incident = factory.incident(user, title="ＵＳＢメモリ紛失")
    found = client.get(API, headers=factory.headers(user), query_string={"q": "ｕｓｂ"})
    assert refs(found) == [incident.reference]   # ASCII is case-insensitive; full-width Latin should be too


@pytest.mark.parametrize("name, value", [
    ("detected_from", "2026-11-01T10:00:00"), ("detected_to", "2026-11-01T10:00:00"),
    ("detected_from", "2026-11-01T00:00:00"), ("detected_to", "2026-11-01T00:00:00"),
])
def test_query_time_without_offset_is_422(client, factory, name, value):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    error = assert_error(client.get(API, headers=headers, query_string={name: value}), 422, "invalid")
    assert name in error["fields"], error["fields"]   # fields are named by the parameter (API.md)


@pytest.mark.parametrize("method, url, payload, params, status", [
    ("post", API, {"detected_at": "0001-01-01T00:00:00+09:00"}, None, (201, 422)),
    ("get", API, None, {"detected_from": "0001-01-01T00:00:00+09:00"}, (200, 422)),
    ("get", API, None, {"detected_to": "9999-12-31"}, (200, 422)),
    ("get", f"{API}/99999999999999999999", None, None, (404,)),
    ("patch", f"{API}/99999999999999999999", {"version": 1}, None, (404,)),
])
def test_extreme_input_is_never_500(app, client, factory, monkeypatch, method, url, payload, params, status):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # answer 500 instead of raising
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    kwargs = {"json": body(**payload) if method == "post" else payload} if payload is not None else {}
    response = getattr(client, method)(url, headers=headers, query_string=params, **kwargs)
    assert response.status_code in status, (response.status_code, response.get_data(as_text=True))


# --- patch, override, conflicts ---------------------------------------------------------------

def test_patch_changes_fields_and_increments_version(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    incident = factory.incident(user)
    response = client.patch(f"{API}/{incident.id}", headers=headers, json={
        "version": 1, "title": "更新後の件名", "impacts": ["leak"], "source": "agency"})
    assert response.status_code == 200, response.json
    got = response.json
    assert (got["title"], got["impacts"], got["source"], got["version"]) == ("更新後の件名", ["leak"], "agency", 2)
    assert got["severity"] == "medium" and got["computed_severity"] == "medium"
    assert got["severity_basis"] == "情報資産に被害がある事案"
    stale = client.patch(f"{API}/{incident.id}", headers=headers, json={"version": 1, "title": "古い版"})
    assert_error(stale, 409, "conflict")
    current = client.get(f"{API}/{incident.id}", headers=headers).json
    assert current["title"] == "更新後の件名" and current["version"] == 2


def test_severity_override_needs_reason_and_can_be_cleared(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    incident = factory.incident(user)
    url = f"{API}/{incident.id}"
    for extra in ({}, {"severity_reason": "  "}):
        assert_error(client.patch(url, headers=headers, json={"version": 1, "severity": "critical"} | extra),
                     422, "invalid", "severity_reason")
    response = client.patch(url, headers=headers, json={"version": 1, "severity": "critical",
                                                        "severity_reason": "住民への影響が大きい"})
    assert response.status_code == 200, response.json
    got = response.json
    assert (got["severity"], got["computed_severity"], got["version"]) == ("critical", "low", 2)
    assert got["severity_override"]["reason"] == "住民への影響が大きい"
    assert got["severity_override"]["by"] == user.id and got["severity_override"]["at"].endswith("Z")
    assert refs(client.get(API, headers=headers, query_string={"severity": "critical"})) == [incident.reference]
    facts = client.patch(url, headers=headers, json={"version": 2, "personal_data": {"persons": 101}})
    assert facts.json["severity"] == "critical" and facts.json["computed_severity"] == "high"  # override holds
    cleared = client.patch(url, headers=headers, json={"version": 3, "severity": None})
    assert cleared.status_code == 200, cleared.json
    assert (cleared.json["severity"], cleared.json["computed_severity"], cleared.json["version"]) == ("high", "high", 4)
    assert cleared.json["severity_override"] is None


# --- bad input --------------------------------------------------------------------------------

def test_unreadable_bodies(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    post = lambda data, ctype: client.post(API, headers=headers, data=data, content_type=ctype)  # noqa: E731
    assert_error(post("{not json", "application/json"), 400, "bad_request")
    assert_error(post(json.dumps(body()), "text/plain"), 415, "unsupported_media_type")
    assert_error(post("title=x", "application/x-www-form-urlencoded"), 415, "unsupported_media_type")
    big = json.dumps(body(description="あ" * (400 * 1024)))  # 3 bytes each: about 1.2 MiB
    assert len(big.encode()) > 1024 * 1024
    assert_error(post(big, "application/json"), 413, "too_large")
    assert_error(client.post(API, headers=headers, json=[body()]), 422, "invalid", "body")


def test_authentication(client, factory):
    assert_error(client.get(API), 401, "unauthorized")
    assert_error(client.get(API, headers={"Authorization": "Bearer csirt_not-a-real-token"}), 401, "unauthorized")
    assert_error(client.get(API, headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401, "unauthorized")
    user = factory.user({"ageo": ["csirt", "reporter"], "saga": ["csirt"]})
    headers = factory.headers(user)
    assert client.get(API, headers=headers).status_code == 200
    for membership in user.memberships:
        membership.active = False
    db.session.commit()
    assert_error(client.get(API, headers=headers), 401, "unauthorized")
    assert_error(client.post(API, headers=headers, json=body()), 401, "unauthorized")


FUTURE = "FUTURE"


@pytest.mark.parametrize("overrides, field", [
    ({"color": "red"}, "color"), ({"title": 123}, "title"), ({"title": ""}, "title"),
    ({"title": "長" * 201}, "title"), ({"title": "abc\u0000def"}, "title"),
    ({"description": "本文\u0000"}, "description"),
    ({"personal_data": {"persons": "12"}}, "personal_data.persons"),
    ({"personal_data": {"my_number": "yes"}}, "personal_data.my_number"),
    ({"personal_data": {"victims": 3}}, "personal_data.victims"),
    ({"network_segments": "internet"}, "network_segments"), ({"impacts": ["explosion"]}, "impacts.0"),
    ({"source": "press"}, "source"), ({"threat_category": "cyber"}, "threat_category"),
    ({"subcategory": "earthquake"}, "subcategory"), ({"detected_at": "2026-11-20T10:00:00"}, "detected_at"),
    ({"detected_at": "2026-11-20"}, "detected_at"), ({"detected_at": FUTURE}, "detected_at"),
    ({"organization": 5}, "organization"),
])
def test_invalid_create_is_422(client, factory, overrides, field):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    if overrides.get("detected_at") == FUTURE:
        overrides = {"detected_at": (dt.datetime.now(JST) + dt.timedelta(hours=1)).isoformat()}
    error = assert_error(client.post(API, headers=headers, json=body(**overrides)), 422, "invalid", field)
    assert field != "color" or error["fields"]["color"] == "unknown field"
    assert client.get(API, headers=headers).json["total"] == 0


@pytest.mark.parametrize("params, field", [
    ({"per_page": 201}, "per_page"), ({"per_page": 0}, "per_page"), ({"page": 0}, "page"),
    ({"page": "two"}, "page"), ({"severity": "urgent"}, "severity"), ({"stage": "done"}, "stage"),
    ({"q": "a\u0000b"}, "q"),
])
def test_invalid_query_is_422(client, factory, params, field):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    assert_error(client.get(API, headers=headers, query_string=params), 422, "invalid", field)


# --- organizations' policies ------------------------------------------------------------------

def test_threat_categories_and_segments_follow_the_body(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"], "saga": ["csirt"], "mog-gesui": ["csirt"]}))
    post = lambda **fields: client.post(API, headers=headers, json=body(**fields))  # noqa: E731
    saga = post(organization="saga", threat_category="other")
    assert saga.status_code == 201, saga.json
    assert saga.json["reference"] == f"SAGA-{year()}-0001" and saga.json["threat_category"] == "other"
    assert_error(post(threat_category="other"), 422, "invalid", "threat_category")
    assert_error(post(organization="mog-gesui", network_segments=["mynumber"]), 422, "invalid", "network_segments")
    mog = post(organization="mog-gesui", network_segments=["internet"])
    assert mog.status_code == 201 and mog.json["reference"] == f"MOG-GESUI-{year()}-0001"
    ageo = post(network_segments=["mynumber"])
    assert ageo.status_code == 201 and ageo.json["network_segments"] == ["mynumber"]
    assert_error(post(subcategory="loss"), 422, "invalid", "subcategory")
    ok = post(threat_category="unintentional", subcategory="loss")
    assert ok.status_code == 201 and ok.json["subcategory"] == "loss"
    patched = client.patch(f"{API}/{ok.json['id']}", headers=headers, json={"version": 1, "subcategory": "malware"})
    assert_error(patched, 422, "invalid", "subcategory")


def test_organization_not_belonging(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    for code in ("saga", "nowhere"):
        assert_error(client.post(API, headers=headers, json=body(organization=code)), 422, "invalid", "organization")
        assert_error(client.get(API, headers=headers, query_string={"organization": code}), 404, "not_found")


def test_other_bodies_incidents_are_invisible_both_ways(client, factory):
    ageo_user, saga_user = factory.user({"ageo": ["csirt"]}), factory.user({"saga": ["csirt"]})
    ageo_incident = factory.incident(ageo_user)
    saga_incident = factory.incident(saga_user, organization="saga")
    for user, foreign, own in ((ageo_user, saga_incident, ageo_incident), (saga_user, ageo_incident, saga_incident)):
        headers = factory.headers(user)
        assert_error(client.get(f"{API}/{foreign.id}", headers=headers), 404, "not_found")
        assert_error(client.patch(f"{API}/{foreign.id}", headers=headers, json={"version": 1, "title": "x"}),
                     404, "not_found")
        assert refs(client.get(API, headers=headers)) == [own.reference]
        assert refs(client.get(API, headers=headers, query_string={"q": foreign.reference})) == []
        assert client.get(f"{API}/{own.id}", headers=headers).json["title"] == "テストインシデント"


# --- roles ------------------------------------------------------------------------------------

def test_reporters_see_only_their_own(client, factory):
    alice_h, bob_h = (factory.headers(factory.user({"ageo": ["reporter"]})) for _ in range(2))
    csirt_h = factory.headers(factory.user({"ageo": ["csirt"]}))
    alices = client.post(API, headers=alice_h, json=body(title="職員の届出"))
    bobs = client.post(API, headers=bob_h, json=body(title="別の職員の届出"))
    assert alices.status_code == 201 and bobs.status_code == 201, (alices.json, bobs.json)
    alice_url = f"{API}/{alices.json['id']}"
    assert client.get(alice_url, headers=alice_h).status_code == 200
    assert_error(client.get(alice_url, headers=bob_h), 404, "not_found")
    assert refs(client.get(API, headers=alice_h)) == [alices.json["reference"]]
    assert refs(client.get(API, headers=bob_h)) == [bobs.json["reference"]]
    assert sorted(refs(client.get(API, headers=csirt_h))) == sorted([alices.json["reference"], bobs.json["reference"]])
    assert_error(client.patch(alice_url, headers=alice_h, json={"version": 1, "title": "x"}), 403, "forbidden")


def test_auditor_reads_everything_and_changes_nothing(client, factory):
    incident = factory.incident(factory.user({"ageo": ["csirt"]}))
    auditor_h = factory.headers(factory.user({"ageo": ["auditor"]}))
    url = f"{API}/{incident.id}"
    assert client.get(url, headers=auditor_h).status_code == 200
    assert refs(client.get(API, headers=auditor_h)) == [incident.reference]
    assert_error(client.patch(url, headers=auditor_h, json={"version": 1, "title": "x"}), 403, "forbidden")
    assert_error(client.post(API, headers=auditor_h, json=body()), 403, "forbidden")
    # 422 (invalid) comes before 403 (not allowed), and 403 before 409 (stale version)
    assert_error(client.post(API, headers=auditor_h, json=body(threat_category="cyber")), 422, "invalid")
    assert_error(client.post(API, headers=auditor_h, json=body(color="red")), 422, "invalid", "color")
    assert_error(client.patch(url, headers=auditor_h, json={"version": 1, "title": 5}), 422, "invalid", "title")
    assert_error(client.patch(url, headers=auditor_h, json={"version": 9, "title": "x"}), 403, "forbidden")
    assert client.get(url, headers=auditor_h).json["version"] == 1


def test_security_manager_reads_but_cannot_patch(client, factory):
    incident = factory.incident(factory.user({"ageo": ["csirt"]}))
    manager_h = factory.headers(factory.user({"ageo": ["security_manager"]}))
    url = f"{API}/{incident.id}"
    assert client.get(url, headers=manager_h).status_code == 200
    assert_error(client.patch(url, headers=manager_h, json={"version": 1, "title": "x"}), 403, "forbidden")
    assert_error(client.patch(url, headers=manager_h, json={"version": 1, "severity": "high"}),
                 422, "invalid", "severity_reason")


def test_csirt_in_two_bodies_sees_both(client, factory):
    user = factory.user({"ageo": ["csirt"], "saga": ["csirt"]})
    a, s = factory.incident(user), factory.incident(user, organization="saga")
    factory.incident(factory.user({"kumamoto-gikai": ["csirt"]}), organization="kumamoto-gikai")
    listed = client.get(API, headers=factory.headers(user))
    assert sorted(refs(listed)) == sorted([a.reference, s.reference]) and listed.json["total"] == 2
    assert {i["organization"] for i in listed.json["items"]} == {"ageo", "saga"}


# --- text and severity ------------------------------------------------------------------------

def test_japanese_text_round_trips_exactly(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    title = "市民課　ＵＳＢメモリ紛失（個人情報１２件）🙇‍♂️"
    description = "全角英数ＡＢＣ１２３、半角ｶﾀｶﾅ、旧字「髙﨑」、絵文字🔥👨‍👩‍👧\n\n２行目　全角スペース"
    created = client.post(API, headers=headers, json=body(title=title, description=description))
    assert created.status_code == 201, created.json
    got = client.get(f"{API}/{created.json['id']}", headers=headers).json
    assert got["title"] == title and got["description"] == description
    assert "髙﨑" in got["description_html"] and "👨‍👩‍👧" in got["description_html"]
    assert [i["title"] for i in client.get(API, headers=headers, query_string={"q": "ＵＳＢ"}).json["items"]] == [title]


@pytest.mark.parametrize("org, fields, severity, basis", [
    ("ageo", {"network_segments": ["mynumber"], "impacts": ["outage"]}, "critical", "マイナンバー利用事務系に被害がある事案"),
    # issue 17, item 7: a printer fault in the マイナンバー利用事務系 with no impact is not critical
    ("ageo", {"network_segments": ["mynumber"]}, "low", None),
    ("ageo", {"personal_data": {"my_number": True}}, "critical", "特定個人情報（マイナンバー）に関わる事案"),
    ("ageo", {"impacts": ["leak"], "asset_classes": {"confidentiality": "3A"}}, "critical",
     "機密性3の情報の漏えい（又はそのおそれ）"),
    ("ageo", {"personal_data": {"persons": 101}}, "high", "100人を超える個人情報に関わる事案"),
    ("ageo", {"personal_data": {"persons": 100}}, "medium", "個人情報に関わる事案"),
    ("saga", {"impacts": ["leak"], "asset_classes": {"importance": "I"}}, "critical",
     "機密性3の情報の漏えい（又はそのおそれ）"),
    ("ageo", {}, "low", None),
])
def test_derived_severity(client, factory, org, fields, severity, basis):
    headers = factory.headers(factory.user({org: ["csirt"]}))
    response = client.post(API, headers=headers, json=body(organization=org, **fields))
    assert response.status_code == 201, response.json
    assert (response.json["severity"], response.json["computed_severity"]) == (severity, severity)
    assert response.json["severity_basis"] == basis
    assert basis is None or (isinstance(response.json["severity_basis"], str) and response.json["severity_basis"])


# --- concurrency ------------------------------------------------------------------------------

def test_concurrent_creation_gives_gapless_references(app, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    barrier, lock = threading.Barrier(8), threading.Lock()
    results: list[tuple[int, str | None]] = []

    def worker(n: int) -> None:
        with app.app_context():
            client = app.test_client()
            barrier.wait(timeout=30)
            for i in range(5):
                response = client.post(API, headers=headers, json=body(title=f"同時登録 {n}-{i}"))
                with lock:
                    results.append((response.status_code, (response.json or {}).get("reference")))

    assert run_in_threads(worker, 8, timeout=120) == []
    assert [status for status, _ in results] == [201] * 40
    expected = [f"AGEO-{year()}-{n:04d}" for n in range(1, 41)]
    assert sorted(ref for _, ref in results) == expected
    listed = app.test_client().get(API, headers=headers, query_string={"per_page": 200})
    assert listed.json["total"] == 40 and sorted(refs(listed)) == expected
