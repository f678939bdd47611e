"""Incidents handled on paper while the system was down, entered afterwards with their real times:
the times are kept, marked as entered after the fact, nobody is paged for an acknowledged one,
and the review's response times use the real times."""
from __future__ import annotations

from tests.factories import csrf_token
from tests.workflow.helpers import login

API = "/api/v1/incidents"
BODY = {"organization": "ageo", "title": "停電中に紙で受け付けた不審メール", "threat_category": "intentional",
        "detected_at": "2026-10-06T09:00:00+09:00"}


def test_paper_times_are_kept_and_nobody_is_paged(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    response = client.post(API, headers=headers, json=BODY | {"reported_at": "2026-10-06T09:20:00+09:00",
                                                             "acknowledged_at": "2026-10-06T10:00:00+09:00"})
    assert response.status_code == 201, response.json
    got = response.json
    assert (got["recorded_late"], got["reported_at"], got["acknowledged_at"]) == (
        True, "2026-10-06T00:20:00Z", "2026-10-06T01:00:00Z")
    assert got["escalation"] is None  # acknowledged on paper: nothing to page now
    manager = next(d for d in got["internal_deadlines"] if d["kind"] == "internal_manager_report")
    assert manager["met_at"] == "2026-10-06T01:00:00Z"
    created = client.get(f"{API}/{got['id']}/timeline", headers=headers).json["items"][0]
    assert "紙の記録から後日登録: 報告 2026-10-06 09:20、受領 2026-10-06 10:00" in created["summary"]
    assert created["data"]["recorded_late"] is True
    record = client.get(f"{API}/{got['id']}/post-incident-record", headers=headers).json
    assert record["times"]["reported_at"] == "2026-10-06T00:20:00Z"
    assert record["times"]["acknowledged_at"] == "2026-10-06T01:00:00Z"
    review = client.get("/api/v1/reviews/ageo/2026/q3", headers=headers).json
    assert review["current"]["response_times"]["acknowledge"] == {"n": 1, "median_s": 3600.0, "p90_s": 3600.0}


def test_an_ordinary_entry_is_not_marked_late(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    got = client.post(API, headers=headers, json=BODY).json
    assert got["recorded_late"] is False and got["reported_at"] == got["created_at"]
    assert got["escalation"]["state"] == "active"


def test_paper_times_out_of_order_or_in_the_future_are_refused(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    cases = [({"reported_at": "2026-10-06T08:59:00+09:00"}, "reported_at"),
             ({"reported_at": "2026-10-06T10:00:00+09:00", "acknowledged_at": "2026-10-06T09:30:00+09:00"},
              "acknowledged_at"),
             ({"acknowledged_at": "2099-01-01T00:00:00+09:00"}, "acknowledged_at"),
             ({"reported_at": "2026-10-06T09:20:00"}, "reported_at")]  # no offset
    for extra, field in cases:
        response = client.post(API, headers=headers, json=BODY | extra)
        assert response.status_code == 422 and field in response.json["error"]["fields"], (extra, response.json)
    assert client.get(API, headers=headers).json["total"] == 0  # nothing half-entered
    created = client.post(API, headers=headers, json=BODY).json
    refused = client.patch(f"{API}/{created['id']}", headers=headers,
                           json={"version": 1, "reported_at": "2026-10-06T09:20:00+09:00"})
    assert refused.status_code == 422 and "reported_at" in refused.json["error"]["fields"]  # not editable afterwards


def test_the_new_incident_form_takes_the_paper_times(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    login(client, csirt)
    page = client.get("/incidents/new?organization=ageo")
    assert "紙で対応した事案を後日登録する" in page.text
    response = client.post("/incidents/new?organization=ageo", data={
        "csrf_token": csrf_token(page.text), "title": "紙で受け付けた事案", "threat_category": "intentional",
        "detected_at": "2026-10-06T09:00", "source": "internal", "reported_at": "2026-10-06T09:20",
        "acknowledged_at": "2026-10-06T08:00"})
    assert response.status_code == 422 and "検知日時・報告日時より前にはできません。" in response.text
    assert 'value="2026-10-06T08:00"' in response.text  # what was typed stays
    response = client.post("/incidents/new?organization=ageo", data={
        "csrf_token": csrf_token(page.text), "title": "紙で受け付けた事案", "threat_category": "intentional",
        "detected_at": "2026-10-06T09:00", "source": "internal", "reported_at": "2026-10-06T09:20",
        "acknowledged_at": "2026-10-06T10:00"})
    assert response.status_code == 302
    headers = factory.headers(csirt)
    [row] = client.get(API, headers=headers).json["items"]
    got = client.get(f"{API}/{row['id']}", headers=headers).json
    assert (got["recorded_late"], got["acknowledged_at"]) == (True, "2026-10-06T01:00:00Z")


MY_NUMBER_LEAK = BODY | {"title": "特定個人情報ファイルの持ち出し", "impacts": ["leak"],
                         "personal_data": {"involved": True, "my_number": True, "persons": 3200}}


def test_a_reporter_cannot_file_a_leak_as_already_acknowledged(client, factory):
    """Issue 15 item 1: a 職員 who may report may not record the paper times (they would stop escalation)."""
    from app.jobs.ticker import tick

    reporter = factory.headers(factory.user({"ageo": ["reporter"]}))
    csirt = factory.headers(factory.user({"ageo": ["csirt"]}))
    for times in ({"acknowledged_at": "2026-10-06T10:00:00+09:00"}, {"reported_at": "2026-10-06T09:20:00+09:00"}):
        refused = client.post(API, headers=reporter, json=MY_NUMBER_LEAK | times)
        assert refused.status_code == 403, refused.json
        assert refused.json["error"]["code"] == "forbidden" and set(refused.json["error"]["fields"]) == set(times)
    assert client.get(API, headers=csirt).json["total"] == 0  # nothing was created
    created = client.post(API, headers=reporter, json=MY_NUMBER_LEAK)
    assert created.status_code == 201, created.json
    got = created.json
    assert (got["severity"], got["acknowledged_at"], got["recorded_late"]) == ("critical", None, False)
    assert got["escalation"]["state"] == "active"
    tick()
    sent = client.get(f"{API}/{got['id']}/notifications", headers=csirt).json
    assert [n["level"] for n in sent["items"] if n["event"] == "escalation"][:1] == [1]  # level 1 paged


def test_the_new_incident_form_offers_and_takes_paper_times_only_from_those_who_may_acknowledge(client, factory):
    reporter = factory.user({"ageo": ["reporter"]})
    login(client, reporter)
    page = client.get("/incidents/new?organization=ageo")
    assert page.status_code == 200 and "紙で対応した事案を後日登録する" not in page.text
    assert 'name="acknowledged_at"' not in page.text
    form = {"csrf_token": csrf_token(page.text), "title": "紙で受け付けた事案", "threat_category": "intentional",
            "detected_at": "2026-10-06T09:00", "source": "internal", "pd_my_number": "y",
            "acknowledged_at": "2026-10-06T10:00"}
    response = client.post("/incidents/new?organization=ageo", data=form)
    assert response.status_code == 403 and "受領（確認）した日時" in response.text
    csirt = factory.headers(factory.user({"ageo": ["csirt"]}))
    assert client.get(API, headers=csirt).json["total"] == 0
    form.pop("acknowledged_at")
    assert client.post("/incidents/new?organization=ageo", data=form).status_code == 302
    [row] = client.get(API, headers=csirt).json["items"]
    assert (row["severity"], row["acknowledged_at"]) == ("critical", None)
