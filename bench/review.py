"""How fast is the quarterly review of one body over a large history, and does its memory stay flat?

    python -m bench.review [--n 1000000] [--postgresql] [--repeat 5] [--memory-check]

Seeds a fresh database (bench/seed.py: migrations, organizations, one csirt per body with an API
token) with N incidents whose detection is spread uniformly over fiscal years 2022–2026
(2022-04-01 to 2027-03-31, Asia/Tokyo) across the five bodies of seed.BODIES, with stage times
(acknowledged / contained / recovered / closed) consistent with the stage, some 非該当, personal
data, segments and impacts as bench/seed.py makes them; plus regulatory deadlines (a few % of the
incidents), post-incident records with recommendations (about 0.5 %) and escalation messages of
levels 1–3 (a few %); and each body's risk register (bench/review.py register_rows: every threat
category × segment × a few asset classes, three versions each, with near misses kept from reports
closed as 非該当, findings and changes of circumstance). All with SQLAlchemy core inserts in
batches, explicit ids.

Then, for one body-quarter (ageo, FY2025 Q3; --org / --fy / --quarter), after one warm-up, the
median and max of --repeat runs of:

  (a) app.reviews.report.build_review alone (target 1 s), and of the whole fiscal year (--fy, the
      register's disagreement scan over the year's incidents included; target 1 s);
  (b) GET /api/v1/reviews/ageo/2025/q3 (JSON with the first page of 50 incidents) through the
      Flask test client with the body csirt's Bearer token (target 1 s), and the last page of 200;
  (c) the same with format=csv (streamed, read chunk by chunk), format=xlsx and format=md;

with the SQL statements of one build_review (and the slowest three), and the peak Python
allocation (tracemalloc) of one build_review, of the JSON request and of the CSV download. With
--memory-check a second fresh database of N/10 incidents is measured the same way afterwards:
the peaks of build_review, JSON and CSV should not move with the database or the quarter.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import defaultdict
from pathlib import Path

from sqlalchemy import event, func, select

from app.auth.models import User
from app.core.db import db
from app.core.playbooks import playbooks
from app.deadlines.models import Deadline
from app.deadlines.services import rules_for
from app.incidents.models import Incident, ReferenceCounter, Severity, Source, Stage
from app.incidents.services import normalize_for_search
from app.intake.models import Report
from app.notifications.models import Notification
from app.organizations.models import Organization
from app.organizations.services import get_profile
from app.records.models import PostIncidentRecord, Recommendation
from app.reviews.periods import Period
from app.reviews.report import build_review
from app.risks.models import CircumstanceChange, Finding, NearMiss, RiskAssessment
from app.risks.rows import asset_class_choices
from bench import seed

TARGET_S = 1.0
FIRST = dt.datetime(2022, 4, 1, tzinfo=seed.JST).astimezone(dt.UTC)  # FY2022 …
LAST = dt.datetime(2027, 4, 1, tzinfo=seed.JST).astimezone(dt.UTC)   # … to FY2026, exclusive
CHUNK = 50_000
STAGES = [s.value for s in Stage]  # in workflow order
REC_TEXTS = ["標的型メール訓練を年2回に増やす", "USBメモリの持出し手順を見直す", "誤送信防止機能を導入する",
             "委託先の監査項目に廃棄手順を加える", "バックアップの復元訓練を行う", "外部公開設定の二重確認を定める"]


# --- seeding -----------------------------------------------------------------------------------

def _stage_times(rng: random.Random, created: dt.datetime, now: dt.datetime) -> dict:
    """A stage, the moments it implies (each after the previous), and 非該当 for a few closed ones."""
    rng = random.Random(rng.getrandbits(64))  # one draw of the main stream whatever `now` decides: same data each run
    old = (now - created).days > 60
    stage = (Stage.CLOSED.value if old and rng.random() < 0.92
             else rng.choices(STAGES, weights=(20, 10, 8, 15, 15, 12, 20))[0])
    step = STAGES.index(stage)
    not_incident = stage == Stage.CLOSED.value and rng.random() < 0.05
    cap = max(now, created)  # nothing after now, unless detected in the (seeded) future
    ack = min(created + dt.timedelta(minutes=rng.uniform(5, 240)), cap) if step > 0 else None
    contained = recovered = None
    if step > STAGES.index("contain") and not not_incident:
        contained = min(ack + dt.timedelta(hours=rng.lognormvariate(2.5, 1.2)), cap)
    if step > STAGES.index("recover") and not not_incident:
        recovered = min(contained + dt.timedelta(hours=rng.lognormvariate(3.5, 1.2)), cap)
    closed = None
    if stage == Stage.CLOSED.value:
        closed = min((recovered or ack) + dt.timedelta(days=rng.uniform(0.1, 30)), cap)
    return {"stage": stage, "not_incident": not_incident, "acknowledged_at": ack, "contained_at": contained,
            "recovered_at": recovered, "closed_at": closed, "step": step}


def incident_chunks(app, n: int, users: dict, rng: random.Random):
    """Yields lists of incident rows (explicit ids 1…n, in order of registration), then the counter rows."""
    rules = playbooks(app).severity_rules
    orgs = {o.code: o for o in db.session.scalars(select(Organization).where(Organization.code.in_(seed.BODIES)))}
    profiles = {code: get_profile(code) for code in seed.BODIES}
    now = dt.datetime.now(dt.UTC)
    span = (LAST - FIRST).total_seconds()
    drafts = []
    for _ in range(n):
        code = rng.choices(seed.BODIES, weights=(30, 30, 10, 10, 20))[0]
        detected = FIRST + dt.timedelta(seconds=rng.uniform(0, span))
        drafts.append((detected + dt.timedelta(minutes=rng.uniform(5, 72 * 60)), detected, code))
    drafts.sort()
    counters: dict[tuple[int, int], int] = defaultdict(int)
    rows = []
    for number_id, (created, detected, code) in enumerate(drafts, start=1):
        org, profile = orgs[code], profiles[code]
        year = created.astimezone(seed.JST).year
        counters[(org.id, year)] += 1
        row = seed._incident_facts(rng, profile)
        computed, reason = seed._severity(rules, profile, row)
        times = _stage_times(rng, created, now)
        override = rng.random() < 0.02
        severity = rng.choice([s.value for s in Severity if s.value != computed]) if override else computed
        updated = max(t for t in (created, times["acknowledged_at"], times["contained_at"], times["recovered_at"],
                                  times["closed_at"]) if t)
        reference = f"{org.reference_prefix}-{year}-{counters[(org.id, year)]:04d}"
        description = f"## 概要\n\n{row['title']}。{reason or '被害は確認されていない。'}\n\n- 報告: {code}\n"
        step, closed = times.pop("step"), times["closed_at"]
        row |= times | {
            "id": number_id, "organization_id": org.id, "reference": reference, "ref_year": year,
            "ref_number": counters[(org.id, year)], "description": description,
            "search_text": normalize_for_search("\n".join((reference, row["title"], description))),
            "closed_reason": ("非該当（誤検知）" if times["not_incident"] else "対応完了") if closed else None,
            "detected_at": detected, "source": rng.choice([s.value for s in Source]),
            "severity": severity, "computed_severity": computed,
            "severity_reason": "担当課の聞き取りにより手動で設定" if override else None,
            "severity_overridden_by_id": users["all"]["id"] if override else None,
            "severity_overridden_at": updated if override else None,
            "reporter_id": users[code]["id"] if rng.random() < 0.8 else users["all"]["id"],
            "acknowledged_by_id": users[code]["id"] if times["acknowledged_at"] else None,
            "created_at": created, "updated_at": updated, "version": 1 + step + override,
        }
        rows.append(row)
        if len(rows) == CHUNK:
            yield rows
            rows = []
    if rows:
        yield rows
    yield [{"organization_id": o, "year": y, "last_number": last} for (o, y), last in sorted(counters.items())]


def related_rows(main: random.Random, incidents: list[dict], users: dict, codes: dict[int, str], ids: dict) -> dict:
    """Deadlines, post-incident records with recommendations and escalation messages of these incidents."""
    out = {"deadlines": [], "records": [], "recommendations": [], "notifications": []}
    for inc in incidents:
        rng = random.Random(main.getrandbits(64))  # as for _stage_times
        code, detected, closed = codes[inc["organization_id"]], inc["detected_at"], inc["closed_at"]
        user = users[code]
        if inc["pd_involved"] and rng.random() < 0.12:  # a regulatory report (速報 + 確報)
            for rule, days in zip(ids["regulatory"][code], (3, 30), strict=False):
                due = detected + dt.timedelta(days=days)
                met = None if closed is None and rng.random() < 0.6 else due + dt.timedelta(days=rng.uniform(-days, 3))
                ids["deadline"] += 1
                out["deadlines"].append({
                    "id": ids["deadline"], "incident_id": inc["id"], "organization_id": inc["organization_id"],
                    "kind": rule.kind, "category": "regulatory", "origin": "rule", "label": rule.label,
                    "authority": rule.authority, "source": rule.source, "due_at": due, "met_at": met,
                    "met_by_id": user["id"] if met else None,
                    "withdrawn_at": inc["closed_at"] if inc["not_incident"] and met is None else None,
                    "created_at": inc["created_at"], "updated_at": met or inc["created_at"]})
        if closed and not inc["not_incident"] and rng.random() < 0.005:  # 事後報告 with 1–3 recommendations
            ids["record"] += 1
            out["records"].append({
                "id": ids["record"], "incident_id": inc["id"], "cause": "手順の不備", "impact": "限定的",
                "measures": "初動対応を実施", "prevention": "手順を改訂", "policy_clauses": [],
                "times": {"detected": detected.isoformat()}, "saved_at": closed, "saved_by_id": user["id"],
                "approved_at": closed, "approved_by_id": user["id"], "version": 1})
            clauses = ids["clauses"][code]
            for position in range(rng.choice((1, 1, 2, 3))):
                ids["recommendation"] += 1
                out["recommendations"].append({
                    "id": ids["recommendation"], "record_id": ids["record"], "incident_id": inc["id"],
                    "organization_id": inc["organization_id"], "position": position, "text": rng.choice(REC_TEXTS),
                    "clause": rng.choice(clauses) if clauses and rng.random() < 0.8 else None,
                    "status": rng.choice(("proposed", "adopted", "rejected", "done")), "updated_at": closed})
        if rng.random() < 0.04:  # escalated: levels 1…reached, an e-mail and an in-app message each
            for level in range(1, rng.choices((1, 2, 3), weights=(60, 30, 10))[0] + 1):
                sent = detected + dt.timedelta(minutes=15 * level)
                for channel in ("email", "in_app"):
                    ids["notification"] += 1
                    out["notifications"].append({
                        "id": ids["notification"], "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                        "incident_id": inc["id"], "cycle": 1, "step": level - 1, "level": level, "event": "escalation",
                        "recipient_id": user["id"], "recipient": user["email"], "role": "csirt", "channel": channel,
                        "status": "sent", "attempts": 1, "sent_at": sent, "created_at": sent})
    return out


def register_rows(rng: random.Random, users: dict, orgs: dict[int, str]) -> dict[str, list[dict]]:
    """Each body's risk register: every category × (each segment and none) × (none and two asset
    classes), three versions each (the last current); 400 reports closed as 非該当 kept as near
    misses, 60 findings and 20 changes of circumstance, spread over FY2022–2026."""
    out: dict[str, list[dict]] = {"assessments": [], "reports": [], "near_misses": [], "findings": [], "changes": []}
    span = (LAST - FIRST).total_seconds()
    for org_id, code in sorted(orgs.items()):
        profile, user = get_profile(code), users[code]["id"]
        classes = [""] + list(asset_class_choices(profile))[:2]
        segments = [""] + list(profile.segment_codes())
        clauses = list(profile.clause_codes())
        for category in profile.threat_categories:
            for segment in segments:
                for asset_class in classes:
                    previous = None
                    for version in (1, 2, 3):
                        at = FIRST + dt.timedelta(days=365 * (version - 1) + rng.uniform(0, 300))
                        row = {"id": len(out["assessments"]) + 1, "organization_id": org_id, "threat_category": category.code,
                               "subcategory": "", "asset_class": asset_class, "segment": segment,
                               "likelihood": rng.randint(1, 5), "loss": rng.randint(1, 5), "reason": "ベンチ用の評価",
                               "version": version, "assessed_by_id": user, "assessed_at": at,
                               "supersedes_id": previous["id"] if previous else None, "superseded_at": None}
                        if previous:
                            previous["superseded_at"] = at
                        out["assessments"].append(row)
                        previous = row
        for _ in range(400):
            received = FIRST + dt.timedelta(seconds=rng.uniform(0, span))
            report_id = len(out["reports"]) + 1
            out["reports"].append({"id": report_id, "organization_id": org_id, "receipt": f"R-BENCH-{report_id:07d}",
                                   "channel": "api", "source": "internal", "state": "dismissed", "title": "誤検知の報告",
                                   "body": "ベンチ", "received_at": received, "flagged": False, "decided_by_id": user,
                                   "decided_at": received, "decision_reason": "非該当"})
            category = rng.choice(profile.threat_categories)
            out["near_misses"].append({"id": report_id, "organization_id": org_id, "report_id": report_id,
                                       "threat_category": category.code, "subcategory": None,
                                       "segment": rng.choice(segments) or None, "note": "", "occurred_at": received,
                                       "marked_by_id": user, "marked_at": received})
        for _ in range(60):
            found = (FIRST + dt.timedelta(seconds=rng.uniform(0, span))).date()
            out["findings"].append({
                "id": len(out["findings"]) + 1, "organization_id": org_id, "source": "self_inspection",
                "clause": rng.choice(clauses), "rating": rng.choice(("major", "minor", "observation")), "text": "ベンチ用の指摘",
                "threat_category": rng.choice(profile.threat_categories).code, "found_on": found,
                "due_on": found + dt.timedelta(days=90),
                "resolved_on": found + dt.timedelta(days=rng.randint(10, 120)) if rng.random() < 0.7 else None,
                "created_by_id": user, "created_at": FIRST})
        for _ in range(20):
            out["changes"].append({"id": len(out["changes"]) + 1, "organization_id": org_id, "kind": "law",
                                   "noted_on": (FIRST + dt.timedelta(seconds=rng.uniform(0, span))).date(),
                                   "text": "ベンチ用の状況の変化", "threat_category": None, "created_by_id": user,
                                   "created_at": FIRST})
    return out


def seed_database(app, n: int) -> dict:
    """Users, N incidents and their related rows; returns the users and the row counts."""
    rng = random.Random(20261122)
    with app.app_context():
        users = seed.create_users()
        orgs = {o.id: o.code for o in db.session.scalars(select(Organization).where(Organization.code.in_(seed.BODIES)))}
        ids = defaultdict(int) | {
            "regulatory": {c: [r for r in rules_for(c)[0].deadlines if r.category == "regulatory"][:2] for c in seed.BODIES},
            "clauses": {c: list(get_profile(c).clause_codes()) for c in seed.BODIES}}
        tables = {"deadlines": Deadline.__table__, "records": PostIncidentRecord.__table__,
                  "recommendations": Recommendation.__table__, "notifications": Notification.__table__}
        counts = defaultdict(int)
        with db.engine.begin() as conn:
            for chunk in incident_chunks(app, n, users, rng):
                if "last_number" in chunk[0]:
                    seed._insert(conn, ReferenceCounter.__table__, chunk)
                    break
                seed._insert(conn, Incident.__table__, chunk)
                counts["incidents"] += len(chunk)
                for name, rows in related_rows(rng, chunk, users, orgs, ids).items():
                    if rows:
                        seed._insert(conn, tables[name], rows)
                        counts[name] += len(rows)
            register = register_rows(rng, users, orgs)
            register_tables = {"assessments": RiskAssessment.__table__, "reports": Report.__table__,
                               "near_misses": NearMiss.__table__, "findings": Finding.__table__,
                               "changes": CircumstanceChange.__table__}
            for name, table in register_tables.items():
                seed._insert(conn, table, register[name])
                counts[f"register {name}"] = len(register[name])
            tables |= register_tables
            if conn.dialect.name == "postgresql":  # explicit ids: move the sequences past them
                for table in ("incidents", *(t.name for t in tables.values())):
                    conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                         f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
        if db.engine.dialect.name == "postgresql":
            seed.vacuum_analyze()
    return {"users": users, "counts": dict(counts)}


# --- measuring ---------------------------------------------------------------------------------

def _statements(engine, call) -> list[tuple[float, str]]:
    """(ms, SQL) of each statement one call sends."""
    out, started = [], {}

    def before(conn, cursor, statement, *_args):
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, *_args):
        out.append(((time.perf_counter() - started.pop(id(cursor), time.perf_counter())) * 1000, statement))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return out


def _drain(response) -> int:
    """Reads a (possibly streamed) response chunk by chunk without keeping it; returns its bytes."""
    if response.status_code != 200:
        raise SystemExit(f"unexpected {response.status_code}: {response.get_data(as_text=True)[:500]}")
    size = sum(len(chunk) for chunk in response.iter_encoded())
    response.close()
    return size


def _peak_kib(call) -> float:
    """Peak Python allocation (KiB) above what was allocated before the call."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        call()
        return (tracemalloc.get_traced_memory()[1] - base) / 1024
    finally:
        tracemalloc.stop()


def measure(app, users: dict, org: str, period: Period, repeat: int) -> dict:
    user_id, token = users[org]["id"], users[org]["token"]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/reviews/{org}/{period.fiscal_year}/q{period.quarter}"
    engine = app.extensions["db_engine"]

    def review():
        with app.test_request_context():
            return build_review(db.session.get(User, user_id), org, period)

    def year_review():
        with app.test_request_context():
            return build_review(db.session.get(User, user_id), org, Period(period.fiscal_year))

    def request(fmt: str):
        return lambda: _drain(client.get(f"{path}?format={fmt}", headers=headers))

    year_path = f"/api/v1/reviews/{org}/{period.fiscal_year}"
    calls = {"review": review, "year_review": year_review,
             "year_json": lambda: _drain(client.get(year_path, headers=headers)),
             **{fmt: request(fmt) for fmt in ("json", "csv", "xlsx", "md")}}
    with app.app_context():  # the body-quarter's incidents, counted independently of the review
        org_id = db.session.scalar(select(Organization.id).where(Organization.code == org))
        expected = db.session.scalar(select(func.count()).select_from(Incident).where(
            Incident.organization_id == org_id, Incident.detected_at >= period.starts_at,
            Incident.detected_at < period.ends_at))
    first = review()
    last_page = -(-expected // 200)
    calls["json_last"] = lambda: _drain(client.get(f"{path}?page={last_page}&per_page=200", headers=headers))
    body = client.get(f"{path}?format=json", headers=headers).get_json()
    tail = client.get(f"{path}?page={last_page}&per_page=200", headers=headers).get_json()
    if first.current.total != expected or body["total"] != expected or len(body["incidents"]) != min(50, expected) \
            or len(tail["incidents"]) != expected - (last_page - 1) * 200:
        raise SystemExit(f"review total {first.current.total}, JSON total {body['total']}, first page {len(body['incidents'])}, "
                         f"last page {len(tail['incidents'])}, expected {expected}")
    for call in calls.values():  # warm-up
        call()
    statements = _statements(engine, review)
    times: dict[str, list[float]] = {name: [] for name in calls}
    sizes = {}
    for _ in range(repeat):
        for name, call in calls.items():
            started = time.perf_counter()
            result = call()
            times[name].append((time.perf_counter() - started) * 1000)
            sizes[name] = result if isinstance(result, int) else None
    memory = {"review": _peak_kib(review), "json": _peak_kib(calls["json"]), "csv": _peak_kib(calls["csv"])}
    return {"times": times, "sizes": sizes, "statements": statements, "incidents": expected,
            "json_statements": len(_statements(engine, calls["json"])), "memory": memory,
            "figures": {k: getattr(first.current, k) for k in ("total", "not_incident", "escalation_levels")}
            | {"deadlines_due": first.current.deadlines["total"]["due"],
               "recommendations": sum(len(g["items"]) for g in first.recommendations),
               "register rows": len(first.register.rows), "disagreements": len(first.register.disagreements)}}


def report(engine: str, n: int, counts: dict, seeding_s: float, label: str, repeat: int, result: dict) -> None:
    times = result["times"]
    print(f"\nengine: {engine}   incidents: {n}   seeding: {seeding_s:.1f} s   repetitions: {repeat} (after 1 warm-up)")
    print("seeded rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"body-quarter {label}: {result['incidents']} incidents   review figures: {result['figures']}")
    print(f"{'measure':<44} {'median ms':>9} {'max ms':>9} {'target':>7}  result  {'bytes':>10}")
    rows = (("(a) build_review", "review", True), ("(a) build_review of the fiscal year", "year_review", True),
            ("(b) GET … (JSON, first 50 incidents)", "json", True),
            ("(b) GET /reviews/{org}/{fy} (the fiscal year, JSON)", "year_json", True),
            ("(b) GET …?page=last&per_page=200", "json_last", True),
            ("(c) GET …?format=csv (streamed)", "csv", False), ("(c) GET …?format=xlsx", "xlsx", False),
            ("(c) GET …?format=md", "md", False))
    for title, key, targeted in rows:
        median, worst = statistics.median(times[key]), max(times[key])
        verdict = ("met" if median < TARGET_S * 1000 else "MISSED") if targeted else ""
        target = f"{TARGET_S * 1000:.0f}" if targeted else ""
        size = result["sizes"][key]
        print(f"{title:<44} {median:>9.1f} {worst:>9.1f} {target:>7}  {verdict:<6}  {size if size else '':>10}")
    statements = result["statements"]
    print(f"SQL statements: one build_review {len(statements)} ({sum(ms for ms, _ in statements):.1f} ms in the "
          f"database driver), one JSON request {result['json_statements']}")
    for ms, sql in sorted(statements, reverse=True)[:3]:
        print(f"  slowest {ms:8.1f} ms  {' '.join(sql.split())[:150]}")
    memory = result["memory"]
    print(f"tracemalloc peak: build_review {memory['review']:.0f} KiB, JSON request {memory['json']:.0f} KiB, "
          f"CSV download {memory['csv']:.0f} KiB")


def run(n: int, postgresql: bool, org: str, period: Period, repeat: int) -> dict:
    engine = "postgresql" if postgresql else "sqlite"
    with tempfile.TemporaryDirectory(prefix="csirt-bench-") as tmp, seed.fresh_database(Path(tmp), postgresql) as url:
        started = time.perf_counter()
        app = seed.build_app(Path(tmp), url)
        seeded = seed_database(app, n)
        seeding_s = time.perf_counter() - started
        print(f"seeded {n} incidents into a fresh {engine} database in {seeding_s:.1f} s", flush=True)
        try:
            result = measure(app, seeded["users"], org, period, repeat)
        finally:
            app.extensions["db_engine"].dispose()
        report(engine, n, seeded["counts"], seeding_s, f"{org} {period.label}", repeat, result)
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.review", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="incidents to seed (default 1000000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each measure (default 5)")
    parser.add_argument("--postgresql", action="store_true", help="a new PostgreSQL database at 127.0.0.1:5432 instead of SQLite")
    parser.add_argument("--memory-check", action="store_true", help="measure a second database of N/10 incidents too")
    parser.add_argument("--org", default="ageo", choices=seed.BODIES, help="the body (default ageo, the largest)")
    parser.add_argument("--fy", type=int, default=2025, choices=range(2022, 2027), help="fiscal year (default 2025)")
    parser.add_argument("--quarter", type=int, default=3, choices=(1, 2, 3, 4), help="quarter (default 3)")
    args = parser.parse_args(argv)
    if args.n < 1000 or args.repeat < 1:
        parser.error("--n must be at least 1000, --repeat at least 1")
    period = Period(args.fy, args.quarter)
    big = run(args.n, args.postgresql, args.org, period, args.repeat)
    if args.memory_check:
        small = run(args.n // 10, args.postgresql, args.org, period, args.repeat)
        print(f"\nmemory check ({'postgresql' if args.postgresql else 'sqlite'}), tracemalloc peak in KiB:")
        print(f"{'database':>10} {'quarter':>8} {'build_review':>13} {'JSON':>9} {'CSV':>8}")
        for n, res in ((args.n // 10, small), (args.n, big)):
            mem = res["memory"]
            print(f"{n:>10} {res['incidents']:>8} {mem['review']:>13.0f} {mem['json']:>9.0f} {mem['csv']:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
