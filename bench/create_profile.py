"""Where one incident create spends its time: queries, time in the database, and the app's own phases.

    python -m bench.create_profile [--postgresql] [--n 10000] [--creates 200] [--top 25]

Seeds a fresh database (bench/seed.py) with --n incidents, then creates --creates incidents through the
real app (the API, as a body's CSIRT, in-process, one after another) and prints per create:
the statements by kind (SELECT/INSERT/UPDATE/DELETE) and the tables they touch, the time spent
waiting on the database's answers, and the cumulative time of the app's functions (cProfile; the
COMMIT, where PostgreSQL runs the deferred count triggers, shows as the session's commit), so that
the audit log, deadlines, escalation start and triggers can be told apart. No concurrency: this is the cost of one create, not the queue.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import pstats
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event

from app.core.db import db
from bench import seed

TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?(\w+)", re.I)


def _body(org_code: str, number: int) -> bytes:
    detected = (dt.datetime.now(seed.JST) - dt.timedelta(hours=1)).isoformat(timespec="seconds")
    return json.dumps({"organization": org_code, "title": f"プロファイル {number}", "threat_category": "intentional",
                       "subcategory": "malware", "detected_at": detected, "description": "bench.create_profile",
                       "network_segments": ["lgwan"],
                       "personal_data": {"involved": True, "persons": 150}}, ensure_ascii=False).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.create_profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgresql", action="store_true", help="PostgreSQL at 127.0.0.1:5432 (default SQLite)")
    parser.add_argument("--n", type=int, default=10_000, help="incidents seeded first (default 10000)")
    parser.add_argument("--creates", type=int, default=200, help="incidents created and measured (default 200)")
    parser.add_argument("--top", type=int, default=25, help="app functions listed (default 25)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, seed.fresh_database(Path(tmp), args.postgresql) as url:
        app = seed.build_app(Path(tmp), url)
        with app.app_context():
            users = seed.create_users()
            seed.seed_incidents(app, args.n, users)
            if args.postgresql:
                seed.vacuum_analyze()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {users['ageo']['token']}", "Content-Type": "application/json"}
        statements: Counter[str] = Counter()
        tables: Counter[str] = Counter()
        timing = {"db": 0.0}
        started: dict[int, float] = {}

        with app.app_context():
            engine = db.engine

        @event.listens_for(engine, "before_cursor_execute")
        def _before(_conn, cursor, statement, _params, _context, _many):
            started[id(cursor)] = time.perf_counter()
            statements[statement.split(None, 1)[0].upper()] += 1
            for name in TABLE.findall(statement):
                tables[name] += 1

        @event.listens_for(engine, "after_cursor_execute")
        def _after(_conn, cursor, _statement, _params, _context, _many):
            timing["db"] += time.perf_counter() - started.pop(id(cursor), time.perf_counter())

        for number in range(5):  # warm-up: caches, prepared plans, the first connection
            assert client.post("/api/v1/incidents", data=_body("ageo", number), headers=headers).status_code == 201
        statements.clear(), tables.clear()
        timing.update(db=0.0)
        latencies = []
        profile = cProfile.Profile()
        for number in range(args.creates):
            began = time.perf_counter()
            profile.enable()
            response = client.post("/api/v1/incidents", data=_body("ageo", 100 + number), headers=headers)
            profile.disable()
            latencies.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 201, response.get_data(as_text=True)
    n = args.creates
    print(f"engine {'postgresql' if args.postgresql else 'sqlite'}, {args.n} incidents seeded, {n} creates")
    print(f"latency ms: p50 {statistics.median(latencies):.1f}, mean {statistics.fmean(latencies):.1f}, "
          f"max {max(latencies):.1f}")
    print(f"per create: {sum(statements.values()) / n:.1f} statements "
          + ", ".join(f"{k} {v / n:.1f}" for k, v in statements.most_common())
          + f"; waiting on the database {timing['db'] * 1000 / n:.2f} ms")
    print("tables touched per create: " + ", ".join(f"{k} {v / n:.1f}" for k, v in tables.most_common(20)))
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/app/", args.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
