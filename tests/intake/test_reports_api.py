"""POST/GET /api/v1/reports (API.md): forwarders file reports, a dedup key joins an open report or
incident instead of opening another, and the queue lists what waits, oldest first."""
from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from app.core.db import db
from app.incidents.models import TimelineEvent
from app.intake.models import Report, ReportAddition

API = "/api/v1/reports"


def body(**fields):
    return {"organization": "ageo", "title": "IDS: 外部からの不審な通信", "body": "10.0.0.5 → 203.0.113.9:4444",
            "source": "agency"} | fields


@pytest.fixture
def soc(factory):
    return factory.headers(factory.user({"ageo": ["csirt"]}, email="soc@city.ageo.example.jp"))


def test_a_report_is_filed_with_a_receipt(client, soc):
    response = client.post(API, json=body(occurred_at="2026-11-20T03:15:00+09:00"), headers=soc)
    assert response.status_code == 201, response.json
    report = response.json
    assert re.fullmatch(r"R-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", report["receipt"])
    assert (report["state"], report["channel"], report["source"], report["organization"]) == ("new", "api", "agency", "ageo")
    assert (report["occurred_at"], report["sender"], report["incident"], report["added"]) == \
        ("2026-11-19T18:15:00Z", "soc@city.ageo.example.jp", None, False)
    queue = client.get(API, headers=soc).json
    assert (queue["total"], [r["receipt"] for r in queue["items"]]) == (1, [report["receipt"]])


def test_the_same_dedup_key_adds_to_the_waiting_report(client, soc):
    first = client.post(API, json=body(dedup_key="ids-4444"), headers=soc).json
    again = client.post(API, json=body(dedup_key="ids-4444", body="再度検知 03:20"), headers=soc)
    assert again.status_code == 200
    assert (again.json["id"], again.json["added"], again.json["state"]) == (first["id"], True, "new")
    assert db.session.scalars(select(ReportAddition.body)).all() == ["再度検知 03:20"]
    other = client.post(API, json=body(dedup_key="ids-9999"), headers=soc)
    assert other.status_code == 201
    saga = body(organization="saga", dedup_key="ids-4444")
    assert client.post(API, json=saga, headers=soc).status_code == 422  # not one of this person's bodies
    assert db.session.scalar(select(func.count()).select_from(Report)) == 2


def test_the_same_key_joins_the_open_incident(app, client, factory, soc):
    from app.intake import services
    first = client.post(API, json=body(dedup_key="edr-77"), headers=soc).json
    user = factory.user({"ageo": ["csirt"]})
    incident = factory.incident(user)
    report = db.session.get(Report, first["id"])
    services.opened_as(user, report, incident)
    db.session.commit()
    joined = client.post(API, json=body(dedup_key="edr-77", body="端末 PC-12 でも検知"), headers=soc)
    assert joined.status_code == 200
    assert joined.json["incident"] == {"id": incident.id, "reference": incident.reference}
    event = db.session.scalar(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id,
                                                          TimelineEvent.kind == "report_added"))
    assert event.data["body"] == "端末 PC-12 でも検知" and event.data["receipt"] == first["receipt"]


def test_a_dismissed_reports_key_opens_a_new_report(client, factory, soc):
    from app.intake import services
    first = client.post(API, json=body(dedup_key="fw-1"), headers=soc).json
    services.dismiss(factory.user({"ageo": ["csirt"]}), db.session.get(Report, first["id"]), "誤検知")
    db.session.commit()
    again = client.post(API, json=body(dedup_key="fw-1"), headers=soc)
    assert again.status_code == 201 and again.json["id"] != first["id"]


def test_racing_forwarders_file_one_report(app, soc):
    results = []

    def post(n):
        results.append(app.test_client().post(API, json=body(dedup_key="race", body=f"#{n}"), headers=soc).status_code)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.session.rollback()
    assert sorted(results) == [200] * 5 + [201]
    assert db.session.scalar(select(func.count()).select_from(Report)) == 1
    assert db.session.scalar(select(func.count()).select_from(ReportAddition)) == 5


@pytest.mark.parametrize("payload, field", [
    (body(extra="x"), "extra"), ({"organization": "ageo"}, "title"), (body(title=""), "title"),
    (body(source="somewhere"), "source"), (body(body="a\x00b"), "body"), (body(occurred_at="2026-11-20T03:15:00"), "occurred_at"),
    (body(dedup_key="x" * 201), "dedup_key"),
])
def test_bad_input_is_422_and_files_nothing(client, soc, payload, field):
    response = client.post(API, json=payload, headers=soc)
    assert response.status_code == 422 and field in response.json["error"]["fields"], response.json
    assert db.session.scalar(select(func.count()).select_from(Report)) == 0


def test_who_may_file_and_read(client, factory, soc):
    reporter = factory.headers(factory.user({"ageo": ["reporter"]}))
    auditor = factory.headers(factory.user({"ageo": ["auditor"]}))
    foreign = factory.headers(factory.user({"saga": ["csirt"]}))
    assert client.post(API, json=body(), headers=reporter).status_code == 201
    assert client.post(API, json=body(), headers=auditor).status_code == 403
    assert client.post(API, json=body(), headers=foreign).status_code == 422
    assert client.get(API, query_string={"organization": "ageo"}, headers=reporter).status_code == 403
    assert client.get(API, query_string={"organization": "ageo"}, headers=auditor).json["total"] == 1
    assert client.get(API, query_string={"organization": "ageo"}, headers=foreign).status_code == 404
    assert client.get(API, headers=foreign).json == {"items": [], "total": 0, "page": 1, "per_page": 50}
    assert client.post(API, json=body()).status_code == 401


def test_queue_is_oldest_first_and_filters_by_state(client, soc):
    receipts = [client.post(API, json=body(title=f"#{n}"), headers=soc).json["receipt"] for n in range(3)]
    page = client.get(API, query_string={"per_page": 2}, headers=soc).json
    assert ([r["receipt"] for r in page["items"]], page["total"]) == (receipts[:2], 3)
    second = client.get(API, query_string={"per_page": 2, "page": 2}, headers=soc).json
    assert [r["receipt"] for r in second["items"]] == receipts[2:]
    assert client.get(API, query_string={"state": "dismissed"}, headers=soc).json["total"] == 0
    assert client.get(API, query_string={"state": "closed"}, headers=soc).status_code == 422
