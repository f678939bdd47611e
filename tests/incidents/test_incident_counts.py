"""incident_counts: kept by the database's triggers, it answers a list's `total` without counting
the incidents, and must always equal a GROUP BY of them (issue 7, list latency at 1M)."""
from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import text

from app.core.db import db
from tests.concurrency import run_in_threads
from tests.workflow.helpers import API, create, move


def grouped() -> list[tuple]:
    return [tuple(row) for row in db.session.execute(text(
        "SELECT organization_id, threat_category, stage, severity, count(*) FROM incidents "
        "GROUP BY organization_id, threat_category, stage, severity ORDER BY 1, 2, 3, 4"))]


def counted() -> list[tuple]:
    return [tuple(row) for row in db.session.execute(text(
        "SELECT organization_id, threat_category, stage, severity, n FROM incident_counts ORDER BY 1, 2, 3, 4"))]


def created(client, headers, org: str = "ageo", category: str = "intentional", title: str = "不審な通信") -> dict:
    return create(client, headers, organization=org, threat_category=category, subcategory=None, title=title)


def moved(client, headers, incident_id: int, to: str) -> None:
    response = move(client, headers, incident_id, to, override=True, reason="テストのため")
    assert response.status_code == 200, response.get_data(as_text=True)


def patched(client, headers, incident_id: int, **fields) -> None:
    version = client.get(f"{API}/{incident_id}", headers=headers).json["version"]
    response = client.patch(f"{API}/{incident_id}", headers=headers, json={"version": version} | fields)
    assert response.status_code == 200, response.get_data(as_text=True)


def test_the_counts_follow_every_change_of_a_counted_column(app, client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt", "ciso"], "saga": ["csirt", "ciso"]}))
    first = created(client, headers)
    second = created(client, headers, category="unintentional")
    third = created(client, headers, org="saga", category="other")
    db.session.commit()
    rows = counted()
    assert rows == grouped() and sum(row[4] for row in rows) == 3
    assert {(category, stage) for _org, category, stage, _sev, _n in rows} == {
        ("intentional", "triage"), ("unintentional", "triage"), ("other", "triage")}

    moved(client, headers, first["id"], "report")  # forward
    moved(client, headers, second["id"], "report")
    moved(client, headers, second["id"], "triage")  # and back
    patched(client, headers, third["id"], severity="critical", severity_reason="住民情報を含む")
    patched(client, headers, second["id"], threat_category="intentional", subcategory=None)
    db.session.commit()
    assert counted() == grouped()
    assert {(category, stage, severity) for _o, category, stage, severity, _n in counted()} == {
        ("intentional", "report", first["severity"]), ("intentional", "triage", second["severity"]),
        ("other", "triage", "critical")}  # unintentional, left empty by `second`, has no row

    db.session.execute(text("UPDATE incidents SET title = 'タイトルのみ変更'"))  # not a counted column
    db.session.commit()
    assert counted() == grouped()


@pytest.mark.parametrize("roles", [
    {"ageo": ["csirt"], "saga": ["csirt"]},  # reads every incident of both bodies: the counts answer
    {"ageo": ["csirt"], "saga": ["reporter"]},  # reads only their own in 佐賀市: counted by a query
    {"ageo": ["auditor"]},
])
def test_every_list_total_is_the_number_of_incidents_listed(app, client, factory, roles):
    writer = factory.headers(factory.user({"ageo": ["csirt", "ciso"], "saga": ["csirt", "ciso"]}))
    reader = factory.user(roles)
    reader_headers = factory.headers(reader)
    ids = []
    for org, category in itertools.product(("ageo", "saga"), ("intentional", "unintentional", "disaster")):
        ids.append(created(client, writer, org=org, category=category, title=f"{org}の{category}")["id"])
    if "saga" in roles and roles["saga"] == ["reporter"]:
        created(client, reader_headers, org="saga", category="other", title="自分で届け出た件")
    moved(client, writer, ids[0], "report")
    moved(client, writer, ids[4], "report")
    patched(client, writer, ids[1], severity="high", severity_reason="影響が大きい")

    queries = [{}, {"organization": "ageo"}, {"organization": "saga"}, {"threat_category": "disaster"},
               {"organization": "ageo", "stage": "report"}, {"stage": "triage", "severity": "high"},
               {"organization": "saga", "threat_category": "intentional", "stage": "report"},
               {"severity": "low"}, {"q": "ageo"}, {"detected_from": "2026-11-20"},
               {"organization": "saga", "q": "自分"}, {"threat_category": "pandemic"}]
    totals = {}
    for query in queries:
        if query.get("organization") not in (None, *roles):
            continue
        response = client.get(API, headers=reader_headers, query_string=query | {"per_page": 200})
        assert response.status_code == 200, (query, response.get_data(as_text=True))
        assert response.json["total"] == len(response.json["items"]), query
        totals[str(query)] = response.json["total"]
    if roles == {"ageo": ["csirt"], "saga": ["csirt"]}:
        assert totals["{}"] == 6 and totals["{'threat_category': 'disaster'}"] == 2
        assert totals["{'stage': 'triage', 'severity': 'high'}"] == 1  # ids[1]; the others are low
    elif roles == {"ageo": ["csirt"], "saga": ["reporter"]}:
        assert totals["{}"] == 4 and totals["{'organization': 'saga'}"] == 1  # 上尾市's three and their own
    else:
        assert totals["{}"] == 3 and totals["{'organization': 'ageo', 'stage': 'report'}"] == 1


def test_concurrent_creates_and_moves_keep_the_counts_exact(app, factory):
    """Several writers at once on one body: every request succeeds (no deadlock on PostgreSQL, where
    the triggers run at commit) and the counts equal the incidents afterwards."""
    headers = factory.headers(factory.user({"ageo": ["csirt", "ciso"]}))
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        with app.app_context():
            client = app.test_client()
            barrier.wait(timeout=30)
            for i in range(3):
                incident = created(client, headers, category=("intentional", "unintentional")[(n + i) % 2],
                                   title=f"同時 {n}-{i}")
                moved(client, headers, incident["id"], "report")
                moved(client, headers, incident["id"], ("triage", "preserve")[n % 2])

    assert run_in_threads(worker, 6) == []
    db.session.commit()
    assert counted() == grouped()
    assert sum(n for *_key, n in counted()) == 18
    assert {stage for _o, _c, stage, _s, _n in counted()} == {"triage", "preserve"}


def test_the_triggers_exist_at_head(app):
    """A later migration that rebuilds the incidents table (SQLite's batch mode copies it) drops its
    triggers: it must create them again, or the counts stop following."""
    if db.engine.dialect.name == "sqlite":
        names = db.session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                        "AND tbl_name = 'incidents' ORDER BY name")).all()
        assert names == ["incident_counts_delete", "incident_counts_insert", "incident_counts_update"]
    else:
        names = db.session.scalars(text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'incidents'::regclass "
                                        "AND NOT tgisinternal ORDER BY tgname")).all()
        assert names == ["incident_counts_insert_delete", "incident_counts_update"]


def test_which_lists_read_their_total_from_the_counts(app, client, factory):
    """Proven by a counts table made wrong on purpose: only the lists it may answer show it."""
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    created(client, headers)
    created(client, headers, category="unintentional")
    reporter = factory.user({"ageo": ["reporter"]})
    created(client, factory.headers(reporter))
    db.session.execute(text("UPDATE incident_counts SET n = n + 100"))
    db.session.commit()

    def total(query: dict, who=headers) -> int:
        return client.get(API, headers=who, query_string=query).json["total"]

    assert counted()[0][4] + counted()[1][4] == 203  # two groups: intentional (two incidents), unintentional
    assert total({}) == 203 and total({"organization": "ageo", "threat_category": "unintentional"}) == 101
    assert total({"stage": "closed"}) == 0
    assert total({"q": "不審"}) == 3  # a text search is counted by a query
    assert total({"detected_to": "2026-11-30"}) == 3
    assert total({}, factory.headers(reporter)) == 1  # their own incidents: counted by a query
