"""How fast is the incident listing, against a bare Flask + SQLAlchemy app running the same SQL?

    python -m bench.listing [--n 100000] [--repeat 50] [--postgresql]

Seeds a fresh database (SQLite in a temporary directory, or with --postgresql a new PostgreSQL
database that is dropped at the end; see bench/seed.py), then measures, through Flask test
clients, the median of --repeat runs of:

  (a) GET /api/v1/incidents?organization=ageo&severity=high&page=2&per_page=50 on the real app,
      with a Bearer token of a csirt of all five bodies;
  (b) POST /api/v1/incidents on the real app (one incident each time);
  (c) the same listing in a bare Flask app: one route, the same count and page query (same
      filters, same visibility condition, same order) in SQLAlchemy core, rows jsonified.

(a) and (c) alternate, so both see the same caches; (b) runs last, so the listing data is the
same for both. Before timing, (c) is checked to answer exactly what (a) answers.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask, jsonify, request
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    create_engine,
    event,
    false,
    func,
    or_,
    select,
)

from app.core.permissions import ROLE_PERMISSIONS, Permission
from bench import seed

LISTING = "/api/v1/incidents?organization=ageo&severity=high&page=2&per_page=50"

# --- the bare app: its own table definitions, no app code -----------------------------------

_meta = MetaData()
organizations = Table("organizations", _meta, Column("id", Integer, primary_key=True), Column("code", String))
memberships = Table("memberships", _meta, Column("user_id", Integer), Column("organization_id", Integer),
                    Column("role", String), Column("active", Boolean))
incidents = Table(
    "incidents", _meta, Column("id", Integer, primary_key=True), Column("organization_id", Integer),
    Column("reference", String), Column("title", String), Column("threat_category", String),
    Column("subcategory", String), Column("severity", String), Column("stage", String), Column("source", String),
    Column("reporter_id", Integer), Column("detected_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True)), Column("updated_at", DateTime(timezone=True)),
    Column("acknowledged_at", DateTime(timezone=True)), Column("version", Integer),
)
people = Table("incident_people", _meta, Column("incident_id", Integer), Column("user_id", Integer),
               Column("role", String))  # the owner (主担当) the list shows
users = Table("users", _meta, Column("id", Integer, primary_key=True), Column("email", String))
# Which roles read all of a body's incidents: taken once from the app's role table, the only app import here.
READ_ALL_ROLES = {role.value for role, granted in ROLE_PERMISSIONS.items() if Permission.INCIDENT_READ_ALL in granted}


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite keeps no zone; the app stores UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def bare_app(url: str, user_id: int) -> Flask:
    """A minimal Flask app: GET /incidents runs the listing for one user with SQLAlchemy core."""
    engine = create_engine(url)
    with engine.connect() as conn:  # the user's bodies, split as the app splits them
        org_ids = dict(conn.execute(select(organizations.c.code, organizations.c.id)).all())
        roles = conn.execute(select(memberships.c.organization_id, memberships.c.role)
                             .where(memberships.c.user_id == user_id, memberships.c.active)).all()
    full = sorted({org for org, role in roles if role in READ_ALL_ROLES})
    own = sorted({org for org, _role in roles} - set(full))
    clauses = [incidents.c.organization_id.in_(full)] if full else []
    if own:
        clauses.append(and_(incidents.c.organization_id.in_(own), incidents.c.reporter_id == user_id))
    visible = or_(*clauses) if clauses else false()
    app = Flask("bare")

    @app.get("/incidents")
    def listing():
        args = request.args
        page, per_page = int(args.get("page", 1)), int(args.get("per_page", 50))
        conditions = [visible]
        if args.get("organization"):
            conditions.append(incidents.c.organization_id == org_ids[args["organization"]])
        for name in ("threat_category", "stage", "severity"):
            if args.get(name):
                conditions.append(incidents.c[name] == args[name])
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(incidents).where(*conditions)).scalar_one()
            rows = conn.execute(
                select(incidents, organizations.c.code.label("organization"), users.c.email.label("owner"))
                .join(organizations, organizations.c.id == incidents.c.organization_id)
                .outerjoin(people, and_(people.c.incident_id == incidents.c.id, people.c.role == "owner"))
                .outerjoin(users, users.c.id == people.c.user_id)
                .where(*conditions)
                .order_by(incidents.c.detected_at.desc(), incidents.c.id.desc())
                .limit(per_page).offset((page - 1) * per_page)
            ).mappings().all()
        items = [{
            "id": r["id"], "reference": r["reference"], "organization": r["organization"], "title": r["title"],
            "threat_category": r["threat_category"], "subcategory": r["subcategory"], "severity": r["severity"],
            "stage": r["stage"], "source": r["source"], "detected_at": _iso(r["detected_at"]),
            "created_at": _iso(r["created_at"]), "updated_at": _iso(r["updated_at"]),
            "acknowledged_at": _iso(r["acknowledged_at"]), "version": r["version"], "owner": r["owner"],
        } for r in rows]
        return jsonify({"items": items, "total": total, "page": page, "per_page": per_page})

    app.extensions["bench_engine"] = engine
    return app


# --- measuring --------------------------------------------------------------------------------

def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def _expect(response, status: int):
    if response.status_code != status:
        raise SystemExit(f"unexpected {response.status_code} from {response.request.path}: {response.get_data(as_text=True)[:500]}")
    return response


def _statements(engine, call) -> int:
    """How many SQL statements one call sends."""
    count = 0

    def on_execute(*_args):
        nonlocal count
        count += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return count


def measure(app, bare: Flask, token: str, repeat: int) -> dict:
    client, bare_client = app.test_client(), bare.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    bare_path = "/incidents?" + LISTING.split("?", 1)[1]

    def app_listing():
        return _expect(client.get(LISTING, headers=headers), 200)

    def bare_listing():
        return _expect(bare_client.get(bare_path), 200)

    expected, got = app_listing().get_json(), bare_listing().get_json()
    if expected != got:
        raise SystemExit(f"the bare listing differs from the app's: total {got['total']} vs {expected['total']}, "
                         f"ids {[i['id'] for i in got['items']][:5]}… vs {[i['id'] for i in expected['items']][:5]}…")
    if len(expected["items"]) != 50:
        raise SystemExit(f"page 2 has {len(expected['items'])} items (total {expected['total']}); seed more incidents")
    for _ in range(3):  # warm up both
        app_listing()
        bare_listing()
    app_engine, bare_engine = app.extensions["db_engine"], bare.extensions["bench_engine"]
    statements = {"app_listing": _statements(app_engine, app_listing), "bare_listing": _statements(bare_engine, bare_listing)}
    times: dict[str, list[float]] = {"app_listing": [], "app_create": [], "bare_listing": []}
    for _ in range(repeat):
        times["app_listing"].append(_timed(app_listing))
        times["bare_listing"].append(_timed(bare_listing))
    detected = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    body = {"organization": "ageo", "title": "ベンチマークの登録", "threat_category": "intentional",
            "subcategory": "malware", "detected_at": detected, "network_segments": ["lgwan"], "impacts": ["leak"],
            "asset_classes": {"confidentiality": "2"}, "description": "ベンチマークで登録したインシデント"}

    def create():
        return _expect(client.post("/api/v1/incidents", headers=headers, json=body), 201)

    for _ in range(repeat):
        times["app_create"].append(_timed(create))
    statements["app_create"] = _statements(app_engine, create)
    return {"times": times, "statements": statements, "total": expected["total"]}


def report(engine: str, n: int, repeat: int, seeding_s: float, result: dict) -> None:
    times, statements = result["times"], result["statements"]

    def row(label: str, key: str) -> str:
        values = times[key]
        q = statistics.quantiles(values, n=10) if len(values) > 1 else values * 9
        return f"{label:<50} {statistics.median(values):>9.2f} {min(values):>8.2f} {q[-1]:>8.2f} {statements[key]:>5}"

    print(f"\nengine: {engine}   incidents: {n}   repetitions: {repeat}   seeding: {seeding_s:.1f} s"
          f"   matching rows (ageo, high): {result['total']}")
    print(f"{'measure':<50} {'median ms':>9} {'min ms':>8} {'p90 ms':>8} {'SQL':>5}")
    print(row("(a) app  GET /api/v1/incidents (page 2 of 50)", "app_listing"))
    print(row("(b) app  POST /api/v1/incidents", "app_create"))
    print(row("(c) bare Flask + SQLAlchemy core, same listing", "bare_listing"))
    ratio = statistics.median(times["app_listing"]) / statistics.median(times["bare_listing"])
    print(f"listing ratio app/bare (medians): {ratio:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.listing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="incidents to seed (default 100000)")
    parser.add_argument("--repeat", type=int, default=50, help="repetitions of each measure (default 50)")
    parser.add_argument("--postgresql", action="store_true", help="a new PostgreSQL database at 127.0.0.1:5432 instead of SQLite")
    args = parser.parse_args(argv)
    if args.n < 500 or args.repeat < 1:
        parser.error("--n must be at least 500 (page 2 needs 50 high-severity ageo incidents), --repeat at least 1")
    engine = "postgresql" if args.postgresql else "sqlite"
    with tempfile.TemporaryDirectory(prefix="csirt-bench-") as tmp, seed.fresh_database(Path(tmp), args.postgresql) as url:
        started = time.perf_counter()
        app = seed.build_app(Path(tmp), url)
        with app.app_context():
            users = seed.create_users()
            rows, counters = seed.incident_rows(app, args.n, users)
            seed.bulk_insert(rows, counters)
            if args.postgresql:
                seed.vacuum_analyze()
            del rows
        seeding_s = time.perf_counter() - started
        print(f"seeded {args.n} incidents into a fresh {engine} database in {seeding_s:.1f} s", flush=True)
        bare = bare_app(url, users["all"]["id"])
        try:
            result = measure(app, bare, users["all"]["token"], args.repeat)
        finally:
            bare.extensions["bench_engine"].dispose()
            with app.app_context():
                app.extensions["db_engine"].dispose()
        report(engine, args.n, args.repeat, seeding_s, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
