"""Listing and creating incidents under concurrent load, on real gunicorn servers: throughput and latency.

    python -m bench.load [--engines postgresql,sqlite] [--sizes 10000,1000000] [--duration 60]
                         [--rounds 6] [--clients 16] [--workers 2] [--threads 4] [--create-share 0.2]
                         [--warmup 5] [--explain] [--compare REV]

For each engine, one fresh database per size (bench/seed.py: migrations, the five bodies, a csirt of
each with an API token, N incidents in bulk, streamed; VACUUM ANALYZE on PostgreSQL, as autovacuum
leaves a settled table), each served by real gunicorn processes as `make serve` starts them
(gunicorn.conf.py, gthread, SCHEDULER_ENABLED=0, one SECRET_KEY, an INSTANCE_PATH each, a shared
EVIDENCE_PATH): two instances on different ports sharing the PostgreSQL database, or one instance
on the SQLite file (a SQLite file belongs to one server). --clients threads, each with its own
keep-alive HTTP/1.1 connection (http.client) to one instance (round-robin, so both instances get
half) and the Bearer token of one body's csirt, send requests back to back (closed loop, no think
time):

  list    GET /api/v1/incidents?organization=<body>&<filter>&page=<1-5>, the filter alternating
          between threat_category (one of the body's categories) and stage;
  create  POST /api/v1/incidents with a valid body for that body (category, subcategory and
          segments from GET /api/v1/organizations; detected an hour ago), a --create-share of all.

After --warmup seconds on each database (not counted), the sizes take turns: --rounds slices of
--duration/--rounds seconds each, in ABBA order (10k, 1M, 1M, 10k, …), so that the other load of a
shared machine falls on both sizes alike. Per engine, size and operation: requests, throughput
(completed per second of --duration), p50 and p99 latency (ms, client side, request written to
response read) and errors (any non-2xx or broken connection; must be 0). Then per engine and
operation the ratio p50(largest size) / p50(smallest size) against the target: latency at 1M
incidents within 20 % (1.2×) of latency at 10k. --compare REV instead seeds the largest size twice, once
with the code of git revision REV (a temporary worktree: its migrations, its seeding, its servers) and
once with the working tree, loads both in the same alternating rounds, and prints new against old:
throughput and p50 per operation. --explain EXPLAINs the SQL of one list request on
each database (ANALYZE, BUFFERS on PostgreSQL, with the visibility map's coverage).

Read the figures as a saturated closed loop: with 16 clients on a 2-core machine the CPU (servers,
database and the client threads alike) is the queue, so latency ≈ clients / throughput and the
ratio compares the work a request costs at both sizes.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine, event, func, select

from app.config import REPO_ROOT
from app.incidents.models import Incident, Stage
from bench import seed

GUNICORN = Path(sys.executable).with_name("gunicorn")
STAGES = [s.value for s in Stage]
TARGET_RATIO = 1.2
OPS = ("list", "create")


# --- servers --------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_servers(tmp: Path, url: str, count: int, workers: int, threads: int,
                  code: Path = REPO_ROOT) -> list[tuple[subprocess.Popen, int]]:
    """`count` gunicorn instances on `url` running the checkout `code`, each in its own process group; waits for /healthz."""
    shared = {"DATABASE_URL": url, "SECRET_KEY": "bench-load-secret", "AUDIT_KEY": "bench-load-audit-key",
              "EVIDENCE_PATH": str(tmp / "evidence"),
              "SCHEDULER_ENABLED": "0", "WEB_CONCURRENCY": str(workers), "WEB_THREADS": str(threads),
              "PYTHONUNBUFFERED": "1"}
    servers = []
    for number in range(1, count + 1):
        port = _free_port()
        env = os.environ | shared | {"PORT": str(port), "INSTANCE_PATH": str(tmp / f"instance-{number}"),
                                     "PYTHONPATH": str(code)}
        with (tmp / f"server-{number}.log").open("wb") as log:
            servers.append((subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=code,
                                             env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True), port))
    for number, (proc, port) in enumerate(servers, start=1):
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    stop_servers(servers)
                    raise SystemExit(f"server {number} did not start:\n{(tmp / f'server-{number}.log').read_text()[-3000:]}") from None
                time.sleep(0.2)
    return servers


def stop_servers(servers: list[tuple[subprocess.Popen, int]]) -> None:
    for proc, _port in servers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc, _port in servers:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- clients ----------------------------------------------------------------------------------------

def _organization(port: int, token: str, code: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/organizations",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return next(o for o in json.load(response)["items"] if o["code"] == code)


class Client(threading.Thread):
    """One closed-loop client: one keep-alive connection, one body's token, requests back to back."""

    def __init__(self, number: int, port: int, code: str, token: str, org: dict, create_share: float,
                 start: float, stop: float):
        super().__init__(daemon=True)
        self.number, self.port, self.code, self.create_share = number, port, code, create_share
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.categories = [(c["code"], [s["code"] for s in c["subcategories"]]) for c in org["threat_categories"]]
        self.segments = [s["code"] for s in org["network_segments"]]
        self.start_at, self.stop_at = start, stop
        self.rng = random.Random(number)
        self.samples: dict[str, list[float]] = {op: [] for op in OPS}
        self.errors: dict[str, int] = dict.fromkeys(OPS, 0)
        self.first_error: str | None = None

    def _request(self) -> tuple[str, str, str, bytes | None]:
        if self.rng.random() < self.create_share:
            category, subs = self.rng.choice(self.categories)
            detected = (dt.datetime.now(seed.JST) - dt.timedelta(hours=1)).isoformat(timespec="seconds")
            body = {"organization": self.code, "title": f"負荷試験の登録 {self.number}-{self.rng.getrandbits(32):08x}",
                    "threat_category": category, "detected_at": detected,
                    "description": "bench.load が登録したインシデント",
                    "network_segments": self.rng.sample(self.segments, k=min(1, len(self.segments)))}
            if subs:
                body["subcategory"] = self.rng.choice(subs)
            return "create", "POST", "/api/v1/incidents", json.dumps(body, ensure_ascii=False).encode()
        flt = (f"threat_category={self.rng.choice(self.categories)[0]}" if self.rng.random() < 0.5
               else f"stage={self.rng.choice(STAGES)}")
        return "list", "GET", f"/api/v1/incidents?organization={self.code}&{flt}&page={self.rng.randint(1, 5)}", None

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        while True:
            op, method, path, body = self._request()
            began = time.perf_counter()
            if began >= self.stop_at:
                break
            try:
                conn.request(method, path, body=body, headers=self.headers)
                response = conn.getresponse()
                payload = response.read()
                ok = 200 <= response.status < 300
                problem = None if ok else f"{response.status} {method} {path}: {payload[:300].decode(errors='replace')}"
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                ok, problem = False, f"{type(exc).__name__} {method} {path}: {exc}"
            ended = time.perf_counter()
            if began < self.start_at or ended > self.stop_at:
                continue  # warm-up, or finished after the window
            if ok:
                self.samples[op].append((ended - began) * 1000)
            else:
                self.errors[op] += 1
                self.first_error = self.first_error or problem
        conn.close()


def run_slice(ports: list[int], users: dict, orgs: dict, args, warmup: float, seconds: float, number: int) -> dict:
    """--clients clients against `ports` for `warmup` (not counted) then `seconds`; their raw samples."""
    codes = [seed.BODIES[i % len(seed.BODIES)] for i in range(args.clients)]
    start = time.perf_counter() + 0.2 + warmup
    threads = [Client(1000 * number + i, ports[i % len(ports)], code, users[code]["token"], orgs[code],
                      args.create_share, start, start + seconds) for i, code in enumerate(codes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"samples": {op: [ms for t in threads for ms in t.samples[op]] for op in OPS},
            "errors": {op: sum(t.errors[op] for t in threads) for op in OPS},
            "first_error": next((t.first_error for t in threads if t.first_error), None)}


def summarize(slices: list[dict], seconds: float) -> dict:
    result: dict = {"first_error": next((s["first_error"] for s in slices if s["first_error"]), None)}
    for op in OPS:
        times = [ms for s in slices for ms in s["samples"][op]]
        q = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
        result[op] = {"requests": len(times), "rate": len(times) / seconds, "p50": q[49] if times else float("nan"),
                      "p99": q[98] if times else float("nan"), "errors": sum(s["errors"][op] for s in slices)}
    return result


# --- one engine ---------------------------------------------------------------------------------------

def explain_listing(app, token: str, code: str) -> None:
    """The SQL of one list request as the clients send it, EXPLAINed on the seeded database."""
    sent = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "FROM incidents" in statement:
            sent.append((statement, parameters))

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", capture)
    try:
        category = "intentional"
        response = app.test_client().get(f"/api/v1/incidents?organization={code}&threat_category={category}&page=3",
                                         headers={"Authorization": f"Bearer {token}"})
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    print(f"EXPLAIN of GET /api/v1/incidents?organization={code}&threat_category={category}&page=3 "
          f"({response.status_code}, total {response.get_json().get('total')}):")
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # index-only scans need the visibility map
            pages, visible = conn.exec_driver_sql(
                "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'incidents'").one()
            print(f"  incidents: {pages} pages, {visible} all-visible")
        for statement, parameters in sent:
            print("  " + " ".join(statement.split())[:200])
            for row in conn.exec_driver_sql(prefix + statement, parameters):
                print("    " + " | ".join(str(v) for v in row))


SEED_SCRIPT = """
import json, sys
from pathlib import Path
from bench import seed
url, tmp, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
app = seed.build_app(tmp, url)
with app.app_context():
    users = seed.create_users()
    seed.seed_incidents(app, n, users)
    if url.startswith("postgresql"):
        seed.vacuum_analyze()
app.extensions["db_engine"].dispose()
print("USERS " + json.dumps(users))
"""


def seed_with(code: Path, tmp: Path, url: str, n: int) -> dict:
    """Seeds `url` with the code of the checkout `code` (its migrations and its bench/seed.py), in a process of its own."""
    done = subprocess.run([sys.executable, "-c", SEED_SCRIPT, url, str(tmp), str(n)], cwd=code, capture_output=True,
                          text=True, env=os.environ | {"PYTHONPATH": str(code)})
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("USERS ")), None)
    if done.returncode or line is None:
        raise SystemExit(f"seeding with {code} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return json.loads(line[len("USERS "):])


def old_checkout(stack: ExitStack, revision: str) -> Path:
    """A detached worktree of `revision` (removed at the end), for --compare."""
    where = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="csirt-bench-old-"))) / "code"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(where), revision], cwd=REPO_ROOT, check=True)
    stack.callback(subprocess.run, ["git", "worktree", "remove", "--force", str(where)], cwd=REPO_ROOT, check=False)
    return where


def run_engine(engine: str, sizes: list[int], args) -> list[dict]:
    """Seeds one database per variant (each size, or with --compare the largest size under both checkouts),
    starts its servers, then loads them in turn (ABBA rounds)."""
    postgresql = engine == "postgresql"
    instances = 2 if postgresql else 1
    setups = []
    with ExitStack() as stack:
        if args.compare:
            variants = [(args.compare, old_checkout(stack, args.compare), sizes[-1]), ("HEAD", REPO_ROOT, sizes[-1])]
        else:
            variants = [("", REPO_ROOT, n) for n in sizes]
        for code_label, code, n in variants:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="csirt-bench-load-")))
            url = stack.enter_context(seed.fresh_database(tmp, postgresql))
            started = time.perf_counter()
            users = seed_with(code, tmp, url, n)
            setup = {"engine": engine, "n": n, "code": code_label, "code_root": code, "instances": instances, "tmp": tmp,
                     "url": url, "users": users, "seeding_s": time.perf_counter() - started, "slices": []}
            print(f"seeded {n} incidents into a fresh {engine} database in {setup['seeding_s']:.1f} s"
                  + (f" with {code_label}" if code_label else ""), flush=True)
            if args.explain and code == REPO_ROOT:
                app = seed.build_app(tmp, url)
                with app.app_context():
                    explain_listing(app, users["ageo"]["token"], "ageo")
                app.extensions["db_engine"].dispose()
            setups.append(setup)
        for setup in setups:
            servers = start_servers(setup["tmp"], setup["url"], instances, args.workers, args.threads, setup["code_root"])
            stack.callback(stop_servers, servers)
            setup["ports"] = [port for _proc, port in servers]
            setup["orgs"] = {code: _organization(setup["ports"][0], setup["users"][code]["token"], code)
                             for code in seed.BODIES}
        print(f"{engine}: {instances} gunicorn instance(s) per database × {args.workers} workers × {args.threads} "
              f"threads; {args.clients} clients; {args.warmup:g} s warm-up, then {args.rounds} rounds of "
              f"{args.duration / args.rounds:g} s per setup …", flush=True)
        for setup in setups:
            run_slice(setup["ports"], setup["users"], setup["orgs"], args, args.warmup, 0, 0)
        for number in range(args.rounds):  # A, B, B, A, …: both see the machine's other load alike
            for setup in (setups if number % 2 == 0 else setups[::-1]):
                setup["slices"].append(run_slice(setup["ports"], setup["users"], setup["orgs"], args, 0,
                                                 args.duration / args.rounds, number + 1))
        results = []
        for setup in setups:
            result = summarize(setup.pop("slices"), args.duration)
            if result["first_error"]:  # the servers' side of the story
                print(f"first error ({engine}, {setup['n']}): {result['first_error']}")
                for log in sorted(setup["tmp"].glob("server-*.log")):
                    print(f"--- {log.name} (last lines) ---\n" + "\n".join(log.read_text().splitlines()[-40:]))
            counting = create_engine(setup["url"])
            with counting.connect() as conn:
                result["final"] = conn.scalar(select(func.count()).select_from(Incident.__table__))
            counting.dispose()
            results.append(result | {k: setup[k] for k in ("engine", "n", "code", "instances", "seeding_s")})
    print_results(results)
    return results


# --- report -----------------------------------------------------------------------------------------

def print_results(results: list[dict]) -> None:
    print(f"{'engine':<11} {'code':<8} {'inst':>4} {'incidents':>10} {'at end':>8} {'seed s':>7} {'op':<7} {'requests':>8} "
          f"{'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for r in results:
        for op in (op for op in OPS if r[op]["requests"] or r[op]["errors"]):
            m = r[op]
            print(f"{r['engine']:<11} {r['code'][:8] or '-':<8} {r['instances']:>4} {r['n']:>10} {r['final']:>8} "
                  f"{r['seeding_s']:>7.1f} {op:<7} {m['requests']:>8} {m['rate']:>7.1f} {m['p50']:>8.1f} {m['p99']:>8.1f} "
                  f"{m['errors']:>6}")


def print_comparison(results: list[dict]) -> None:
    """--compare: the working tree against the old revision, per engine and operation, in the same run."""
    print(f"\n{'engine':<11} {'op':<7} {'req/s old→new':>17} {'throughput':>10} {'p50 ms old→new':>17} {'p50 ratio':>9}")
    for engine in dict.fromkeys(r["engine"] for r in results):
        old, new = (r for r in results if r["engine"] == engine)
        for op in OPS:
            if old[op]["requests"] and new[op]["requests"]:
                print(f"{engine:<11} {op:<7} {old[op]['rate']:>7.1f}→{new[op]['rate']:<9.1f} "
                      f"{new[op]['rate'] / old[op]['rate']:>9.2f}× {old[op]['p50']:>7.1f}→{new[op]['p50']:<9.1f} "
                      f"{new[op]['p50'] / old[op]['p50']:>8.2f}×")


def print_ratios(results: list[dict]) -> bool:
    """p50 (and p99) at the largest size over the smallest, per engine and operation; True if all within 1.2×."""
    ok = True
    print(f"\n{'engine':<11} {'op':<7} {'sizes':>17} {'p50 ms':>15} {'p50 ratio':>9} {'p99 ratio':>9}  within {TARGET_RATIO}×")
    for engine in dict.fromkeys(r["engine"] for r in results):
        runs = sorted((r for r in results if r["engine"] == engine), key=lambda r: r["n"])
        if len(runs) < 2:
            continue
        small, large = runs[0], runs[-1]
        for op in OPS:
            if not (small[op]["requests"] and large[op]["requests"]):
                continue  # e.g. --create-share 1: no lists
            ratio = large[op]["p50"] / small[op]["p50"]
            within = ratio <= TARGET_RATIO
            ok &= within
            sizes = f"{small['n']}→{large['n']}"
            p50s = f"{small[op]['p50']:.1f}→{large[op]['p50']:.1f}"
            print(f"{engine:<11} {op:<7} {sizes:>17} {p50s:>15} {ratio:>8.2f}× {large[op]['p99'] / small[op]['p99']:>8.2f}×"
                  f"  {'yes' if within else 'NO'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="postgresql,sqlite", help="comma-separated (default postgresql,sqlite)")
    parser.add_argument("--sizes", "--n", default="10000,1000000",
                        help="incidents to seed, comma-separated (default 10000,1000000)")
    parser.add_argument("--duration", type=float, default=60, help="measured seconds per setup (default 60)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load before measuring (default 5)")
    parser.add_argument("--rounds", type=int, default=6,
                        help="slices per size, alternating between the sizes (default 6: 10 s each of 60 s)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--create-share", type=float, default=0.2, help="share of requests that create (default 0.2)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN one list request's SQL on each database")
    parser.add_argument("--compare", metavar="REV", help="the largest size under the code of git revision REV and under "
                        "the working tree, in alternating rounds (old against new in one run)")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    try:
        sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    except ValueError:
        parser.error("--sizes takes integers, e.g. 10000,1000000")
    if not engines or set(engines) - {"postgresql", "sqlite"}:
        parser.error("--engines takes postgresql and/or sqlite")
    if not sizes or sizes[0] < 500 or args.clients < 1 or args.duration <= 0 or args.rounds < 1 or not 0 <= args.create_share <= 1:
        parser.error("sizes of at least 500, --clients, --rounds ≥ 1, --duration > 0, --create-share in [0, 1]")
    results = [result for engine in engines for result in run_engine(engine, sizes, args)]
    print(f"\n=== bench.load: {args.clients} clients, {args.duration:g} s per setup, {args.create_share:.0%} creates, "
          f"gunicorn {args.workers} workers × {args.threads} threads per instance, {os.cpu_count()} CPUs ===")
    print_results(results)
    if args.compare:
        print_comparison(results)
        within = True
    else:
        within = print_ratios(results)
    errors = sum(r[op]["errors"] for r in results for op in OPS)
    if errors:
        print(f"ERRORS: {errors} failed requests (must be 0)")
    if not within:
        print(f"latency target missed: p50 at {sizes[-1]} is more than {TARGET_RATIO}× p50 at {sizes[0]}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
