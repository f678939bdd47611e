"""Helpers for the backup tests: data made through the real API, everything the API answers about
it, a second app on a restored database, and new empty databases of either engine."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import inspect

from app import create_app
from app.config import Config
from app.core.db import db, make_engine
from app.jobs.ticker import tick
from tests.conftest import IsolatedClient, create_database, drop_database, share_audit_keys
from tests.records.helpers import BODY, acknowledge, at_prevent, saved
from tests.risks.support import dismissed_report
from tests.workflow.helpers import API, create, finish_required, tasks

FIXED_NOW = dt.datetime(2026, 11, 22, 6, 0, tzinfo=dt.UTC)  # `time_left` is relative to now
OTHER = {"sqlite": "postgresql", "postgresql": "sqlite"}


def ok(response, status: int = 200):
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


class Databases:
    """New, empty databases for restores (SQLite files under tmp_path; PostgreSQL databases
    dropped at the end of the test)."""

    def __init__(self, tmp_path: Path):
        self.tmp_path, self.created = tmp_path, []

    def new(self, engine: str) -> str:
        url = create_database(engine, self.tmp_path, f"restore_{len(self.created) + 1}")
        self.created.append(url)
        return url

    def drop_all(self) -> None:
        for url in self.created:
            drop_database(url)


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@contextmanager
def app_on(url: str, instance: Path):
    """A second app, configured like the fixture's, on another database and instance folder."""
    share_audit_keys(instance)
    application = create_app(Config(INSTANCE_PATH=instance, DATABASE_URL=url, TESTING=True, SCHEDULER_ENABLED=False,
                                    EVIDENCE_PATH=str(instance / "evidence")))
    application.test_client_class = IsolatedClient
    try:
        yield application
    finally:
        with application.app_context():
            db.engine.dispose()


def upload(client, headers, incident_id: int, content: bytes, filename: str, description: str = "") -> dict:
    return ok(client.post(f"{API}/{incident_id}/evidence", headers=headers, content_type="multipart/form-data",
                          data={"file": (io.BytesIO(content), filename), "description": description}), 201)


def populate(client, factory, tag: str = "") -> dict:
    """Incidents of two bodies with deadlines, done tasks, notes, an acknowledged escalation, a
    filed deadline and an added notice, an approved post-incident record with recommendations,
    and evidence (one file uploaded twice) with a logged download — all through the API."""
    csirt = factory.user({"ageo": ["csirt"], "saga": ["csirt"]}, email=f"csirt{tag}@backup.example.jp", name="保全 花子")
    chief = factory.user({"ageo": ["chief_officer"]}, email=f"chief{tag}@backup.example.jp", name="統括 一郎")
    h, chief_h = factory.headers(csirt), factory.headers(chief)
    leak = create(client, h, title="住民情報の漏えい", threat_category="intentional",
                  personal_data={"involved": True, "persons": 150, "sensitive": True},
                  description="**委託先**からの報告。\n\n- 150人分")
    acknowledge(client, h, leak["id"])
    finish_required(client, h, leak["id"], "triage")
    for body in ("初報を受領。", "委託先に**ログの保全**を依頼した。\n\n1. プロキシ\n2. メール"):
        ok(client.post(f"{API}/{leak['id']}/notes", headers=h, json={"body": body}), 201)
    deadlines = {d["kind"]: d for d in ok(client.get(f"{API}/{leak['id']}/deadlines", headers=h))["items"]}
    ok(client.post(f"{API}/{leak['id']}/deadlines/{deadlines['ppc_preliminary']['id']}/met", headers=h,
                   json={"reference": "PPC-2026-000777", "met_at": "2026-11-21T09:15:00+09:00", "note": "電子申請"}))
    ok(client.post(f"{API}/{leak['id']}/deadlines", headers=h, json={"kind": "police_report"}), 201)
    log = b"2026-11-20 10:00:01 DENY 203.0.113.5\n\x00\xff binary " + os.urandom(64)
    image = os.urandom(3000)
    evidence = [upload(client, h, leak["id"], log, "proxy.log", "プロキシのログ"),
                upload(client, h, leak["id"], log, "proxy-copy.log", "同じファイルを再提出"),
                upload(client, h, leak["id"], image, "画面.png")]
    ok(client.get(evidence[0]["url"], headers=h))  # a download: chain of custody on the timeline

    mynumber = create(client, h, title="マイナンバー系の端末で不審な通信", network_segments=["mynumber"],
                      personal_data={"involved": True, "persons": 3, "my_number": True})
    acknowledge(client, h, mynumber["id"])

    closed = at_prevent(client, h, title="標的型メールによる感染")
    saved(client, h, closed)
    ok(client.post(f"{API}/{closed}/post-incident-record/approve", headers=chief_h))
    record = ok(client.get(f"{API}/{closed}/post-incident-record", headers=h))
    ok(client.patch(f"{API}/{closed}/post-incident-record/recommendations/{record['recommendations'][0]['id']}",
                    headers=h, json={"status": "done"}))
    evidence.append(upload(client, h, closed, b"From: attacker@example.com\r\n\r\n", "mail.eml"))

    saga = create(client, h, organization="saga", title="佐賀市 Webサイト改ざん")
    plain = create(client, h, title="未確認の事象", threat_category="intentional")
    ids = [leak["id"], mynumber["id"], closed, saga["id"], plain["id"]]
    # the risk register: a row assessed twice (its history), a finding, a change, a near miss
    current = [r["id"] for r in ok(client.get("/api/v1/risks/ageo", headers=h))["rows"] if r["segment"] == "lgwan"]
    first = ok(client.post("/api/v1/risks/ageo/assessments", headers=h, json={
        "threat_category": "intentional", "segment": "lgwan", "likelihood": 2, "loss": 3, "reason": f"初回{tag}",
        "supersedes": current[0] if current else None}), 201)  # populated again after a restore: assessed again
    ok(client.post("/api/v1/risks/ageo/assessments", headers=h, json={
        "threat_category": "intentional", "segment": "lgwan", "likelihood": 3, "loss": 3, "reason": "再評価",
        "supersedes": first["id"]}), 201)
    ok(client.post("/api/v1/risks/ageo/findings", headers=h, json={
        "source": "audit", "clause": "8-5", "rating": "minor", "text": "研修の未受講者", "found_on": "2026-10-01",
        "due_on": "2026-12-01"}), 201)
    ok(client.post("/api/v1/risks/ageo/circumstances", headers=h, json={
        "noted_on": "2026-10-01", "kind": "guideline", "text": "ガイドライン改定"}), 201)
    ok(client.post("/api/v1/risks/ageo/near-misses", headers=h, json={
        "report": dismissed_report(csirt).id, "threat_category": "intentional"}), 201)
    assert tick()["steps"] >= 2  # the unacknowledged ones reach their first level: the outbox fills
    assert ok(client.get(f"{API}/{plain['id']}/notifications", headers=h))["total"] >= 1
    assert len(BODY["recommendations"]) == len(record["recommendations"])
    assert any(t["done"] for t in tasks(client, h, leak["id"]))
    return {"headers": h, "ids": ids, "evidence": evidence,
            "contents": {hashlib.sha256(c).hexdigest(): c for c in (log, image, b"From: attacker@example.com\r\n\r\n")}}


def api_state(client, headers, ids: list[int]) -> dict:
    """Everything the API answers about the incidents (reads only: no download)."""
    def get(path: str):
        return ok(client.get(path, headers=headers))

    state = {"list": get(f"{API}?per_page=100"), "deadlines": get("/api/v1/deadlines?per_page=100")}
    for incident_id in ids:
        base = f"{API}/{incident_id}"
        state[incident_id] = {
            "incident": get(base), "timeline": get(f"{base}/timeline"), "tasks": get(f"{base}/tasks"),
            "deadlines": get(f"{base}/deadlines"), "evidence": get(f"{base}/evidence"),
            "record": get(f"{base}/post-incident-record"), "notifications": get(f"{base}/notifications"),
        }
    return state


def read_table(root: Path, table: str) -> list[dict]:
    with (root / "tables" / f"{table}.jsonl").open(encoding="utf-8") as rows:
        return [json.loads(line) for line in rows]
