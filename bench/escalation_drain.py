"""How long does the ticker take to deliver 10,000 first-level escalations?

    python -m bench.escalation_drain [--n 10000] [--postgresql] [--processes N] [--profile]

Seeds a fresh database (bench/seed.py: migrations, organizations, incidents in bulk with SQLAlchemy
core), opens every incident (triage, unacknowledged) and gives each an active escalation whose
first level is due now: the `policy` snapshot is what app.escalation.policy.expand makes of the
body's chain for the incident's severity, as start_escalation() stores it. Each body has one
csirt (the first level of every severity reaches csirt; nobody holds security_manager), so each
incident yields one e-mail and one in-app message. A local aiosmtpd (in its own process, so it
does not compete with the ticker for the GIL) receives the mail and records each X-Event-Id.

  (a) default (SQLite; or --postgresql --processes 0): app.jobs.ticker.tick() in this
      process, back to back, until every first level fired and the outbox is empty. Prints the
      time to drain, the ticks, and per tick the time of fire_due_steps and of deliver_due, the
      latter split into claiming (the due SELECT, each pending→sending UPDATE and its commit) and
      building + sending (channels); the rest is loading rows and the `sent` UPDATE and commit. --profile adds a cProfile.
  (b) --postgresql: the same with --processes (default 2) `flask --app wsgi ticker` processes
      (TICK_SECONDS from --tick-seconds, default 1); figures from the outbox rows.

Afterwards, every e-mail row must have reached the SMTP server exactly once.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event, func, insert, select

from app.auth.models import Membership, User
from app.auth.services import hash_password
from app.config import REPO_ROOT
from app.core.db import db
from app.escalation.models import Escalation, EscalationState
from app.escalation.policy import expand, levels_for
from app.incidents.models import Incident
from app.jobs import ticker
from app.notifications import delivery
from app.notifications.models import Notification, NotificationStatus
from app.organizations.models import Organization
from bench import seed

TARGET_S = 60.0


# --- the SMTP server, in its own process --------------------------------------------------------

class _Recorder:
    def __init__(self, path: str):
        self.out = open(path, "a", encoding="ascii")  # noqa: SIM115 - open for the server's lifetime

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        for line in envelope.content.split(b"\r\n"):
            if not line:
                break
            if line.lower().startswith(b"x-event-id:"):
                self.out.write(line.split(b":", 1)[1].strip().decode() + "\n")
                self.out.flush()
        return "250 OK"


def _serve_smtp(port: int, path: str) -> None:
    from aiosmtpd.controller import Controller
    controller = Controller(_Recorder(path), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM})
    controller.stop()


def start_smtp(tmp: Path) -> tuple[subprocess.Popen, int, Path]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    received = tmp / "received.txt"
    received.touch()
    code = f"import signal; signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGTERM}}); " \
           f"from bench.escalation_drain import _serve_smtp; _serve_smtp({port}, {str(received)!r})"
    server = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port, received
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise SystemExit("the SMTP server did not start") from None
            time.sleep(0.05)


# --- seeding -------------------------------------------------------------------------------------

def create_people() -> dict[str, dict]:
    """One csirt per body (reached by the first level of every severity); the `all` reporter of
    bench/seed.py is a chief_officer of all five bodies, whom a first level does not reach."""
    orgs = {o.code: o.id for o in db.session.scalars(select(Organization).where(Organization.code.in_(seed.BODIES)))}
    password_hash = hash_password(seed.PASSWORD)
    people = {}
    for key, codes, role in [*((c, [c], "csirt") for c in seed.BODIES), ("all", list(seed.BODIES), "chief_officer")]:
        user = User(email=f"{role}-{key}@bench.example.jp", name=f"ベンチ {role} {key}", password_hash=password_hash,
                    available=True)
        db.session.add(user)
        db.session.flush()
        db.session.add_all(Membership(user_id=user.id, organization_id=orgs[c], role=role, active=True) for c in codes)
        people[key] = {"id": user.id, "email": user.email}
    db.session.commit()
    return people


def seed_due(app, n: int) -> int:
    """N open incidents, each with an escalation whose first level is due now; returns the e-mails expected."""
    people = create_people()
    rows, counters = seed.incident_rows(app, n, people)
    for row in rows:  # open and unacknowledged, so that escalating them makes sense
        row.update(stage="triage", acknowledged_at=None, closed_at=None, closed_reason=None, not_incident=False)
    seed.bulk_insert(rows, counters)
    del rows
    now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    policies: dict[tuple[int, str], list[dict]] = {}
    escalations = []
    for incident_id, organization_id, severity in db.session.execute(
            select(Incident.id, Incident.organization_id, Incident.severity).order_by(Incident.id)):
        key = (organization_id, severity)
        if key not in policies:
            policies[key] = expand(levels_for(organization_id, severity)[0])
        steps = policies[key]
        escalations.append({"incident_id": incident_id, "cycle": 1, "severity": severity, "policy": steps,
                            "started_at": now, "next_step": 0, "next_at": now + dt.timedelta(seconds=steps[0]["offset_s"]),
                            "state": EscalationState.ACTIVE.value, "updated_at": now})
    db.session.rollback()
    late = [e for e in escalations if e["next_at"] > now]
    if late:
        raise SystemExit(f"{len(late)} escalations have a first level that is not due at once")
    with db.engine.begin() as conn:
        for start in range(0, len(escalations), seed.BATCH):
            conn.execute(insert(Escalation), escalations[start:start + seed.BATCH])
    return len(escalations)


# --- measuring -----------------------------------------------------------------------------------

def outstanding() -> tuple[int, int]:
    """(first levels not yet fired, notifications pending or sending)."""
    with db.engine.connect() as conn:
        unfired = conn.scalar(select(func.count()).select_from(Escalation).where(
            Escalation.state == EscalationState.ACTIVE.value, Escalation.next_step == 0))
        busy = conn.scalar(select(func.count()).select_from(Notification).where(
            Notification.status.in_((NotificationStatus.PENDING.value, NotificationStatus.SENDING.value))))
    return unfired, busy


class Timers:
    """Wraps module functions in this process only, where their callers look them up by global
    name: the jobs in app.jobs.ticker, a message's delivery in app.notifications.delivery."""

    def __init__(self):
        self.totals: Counter[str] = Counter()
        self.saved = {}

    def wrap(self, module, name: str) -> None:
        original = getattr(module, name)
        self.saved[(module, name)] = original

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[name] += time.perf_counter() - started
        setattr(module, name, timed)

    def restore(self) -> None:
        for (module, name), original in self.saved.items():
            setattr(module, name, original)


def _is_claim(statement: str) -> bool:
    sql = " ".join(statement.split()).lower()
    return (sql.startswith("select notifications.id") and "status" in sql) or \
        (sql.startswith("update notifications set status") and "claimed_at" in sql)


class SqlProbe:
    """Counts statements and commits on the engine; claiming = the due SELECT and each
    pending→sending UPDATE, with the commit that follows it."""

    def __init__(self, engine):
        self.engine, self.dialect = engine, engine.dialect
        self.totals: Counter[str] = Counter()
        self._started: dict[int, float] = {}
        self._claim_open = False
        self._do_commit = self.dialect.do_commit

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.totals["statements"] += 1
        if _is_claim(statement):
            self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if id(cursor) in self._started:
            self.totals["claim_s"] += time.perf_counter() - self._started.pop(id(cursor))
            self._claim_open = statement.lstrip().lower().startswith("update")

    def _commit(self, dbapi_connection):
        started = time.perf_counter()
        try:
            return self._do_commit(dbapi_connection)
        finally:
            spent = time.perf_counter() - started
            self.totals["commits"] += 1
            self.totals["commit_s"] += spent
            if self._claim_open:
                self.totals["claim_s"] += spent
                self._claim_open = False

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        self.dialect.do_commit = self._commit  # on this engine's dialect object, in this process only
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        del self.dialect.do_commit


def drain_in_process(app, profile: bool) -> dict:
    timers = Timers()
    for module, name in ((ticker, "fire_due_steps"), (ticker, "deliver_due"), (delivery, "_deliver")):
        timers.wrap(module, name)
    profiler = cProfile.Profile() if profile else None
    ticks = []
    started = time.perf_counter()
    try:
        with SqlProbe(app.extensions["db_engine"]) as sql:
            while True:
                before_totals, sql_before = Counter(timers.totals), Counter(sql.totals)
                tick_started = time.perf_counter()
                with app.app_context():  # as scheduler.run_tick does: a fresh session per tick
                    if profiler:
                        profiler.enable()
                    result = ticker.tick()
                    if profiler:
                        profiler.disable()
                elapsed = time.perf_counter() - tick_started
                spent, sql_spent = timers.totals - before_totals, sql.totals - sql_before
                ticks.append({"s": elapsed, "steps": result["steps"], "sent": result["sent"], "failed": result["failed"],
                              "fire_s": spent["fire_due_steps"], "deliver_s": spent["deliver_due"],
                              "send_s": spent["_deliver"], "claim_s": sql_spent["claim_s"],
                              "commit_s": sql_spent["commit_s"], "commits": sql_spent["commits"],
                              "statements": sql_spent["statements"]})
                if result["steps"] == 0 and result["sent"] == 0 and result["failed"] == 0:
                    with app.app_context():
                        if outstanding() == (0, 0):
                            break
                    if len(ticks) > 10_000:
                        raise SystemExit(f"not drained after {len(ticks)} ticks")
    finally:
        timers.restore()
    return {"drain_s": time.perf_counter() - started, "ticks": ticks, "profiler": profiler}


def drain_with_processes(tmp: Path, url: str, smtp_port: int, processes: int, tick_seconds: int) -> dict:
    env = os.environ | {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "instance"), "SMTP_HOST": "127.0.0.1",
                        "SMTP_PORT": str(smtp_port), "TICK_SECONDS": str(tick_seconds), "SCHEDULER_ENABLED": "0",
                        "SECRET_KEY": "bench-escalation-drain"}
    flask = Path(sys.executable).with_name("flask")
    procs, logs = [], []
    started = time.perf_counter()
    try:
        for number in range(processes):
            log = (tmp / f"ticker-{number}.log").open("wb")
            logs.append(log)
            procs.append(subprocess.Popen([str(flask), "--app", "wsgi", "ticker"], cwd=REPO_ROOT, env=env,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        while outstanding() != (0, 0):
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                raise SystemExit(f"a ticker exited with {dead[0].returncode}: see {tmp}/ticker-*.log")
            if time.perf_counter() - started > 1800:
                raise SystemExit(f"not drained after 30 minutes: {outstanding()}")
            time.sleep(0.2)
        return {"drain_s": time.perf_counter() - started}
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in logs:
            log.close()


def outbox_figures() -> dict:
    """What the rows say: how many ticks fired steps (one `now` per tick), and the time spans."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(Notification.channel, Notification.status, Notification.attempts,
                                   Notification.created_at, Notification.sent_at, Notification.event_id)).all()
    return {
        "rows": len(rows), "statuses": Counter(r.status for r in rows), "retried": sum(r.attempts > 1 for r in rows),
        "firing_ticks": len({r.created_at for r in rows}),
        "first_fired": min(r.created_at for r in rows), "last_fired": max(r.created_at for r in rows),
        "last_sent": max(r.sent_at for r in rows if r.sent_at),
        "emails": {r.event_id for r in rows if r.channel == "email"},
    }


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"median {statistics.median(values) * 1000:8.1f}  max {max(values) * 1000:8.1f}"


def report(engine: str, n: int, seeding_s: float, mode: str, result: dict, figures: dict, received: Counter,
           tick_seconds: int) -> None:
    doubled = sum(1 for c in received.values() if c > 1)
    missing = len(figures["emails"] - received.keys())
    print(f"\nengine: {engine}   incidents: {n}   seeding: {seeding_s:.1f} s   mode: {mode}   "
          f"load average before/after: {result['load'][0]:.2f}/{os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    print(f"outbox rows: {figures['rows']} {dict(figures['statuses'])}   retried: {figures['retried']}   "
          f"e-mails received: {sum(received.values())} (doubled {doubled}, missing {missing})")
    print(f"time to drain: {result['drain_s']:.1f} s (target {TARGET_S:.0f} s: "
          f"{'met' if result['drain_s'] <= TARGET_S else 'MISSED'})   ticks that fired steps: {figures['firing_ticks']}   "
          f"first→last firing: {(figures['last_fired'] - figures['first_fired']).total_seconds():.1f} s   "
          f"first firing→last sent: {(figures['last_sent'] - figures['first_fired']).total_seconds():.1f} s")
    ticks = result.get("ticks")
    if not ticks:
        return
    firing = [t for t in ticks if t["steps"]]
    print(f"ticks: {len(ticks)} ({len(firing)} fired steps; a tick handles up to 50 batches of 200 steps, then of 200 messages)")
    print(f"per tick                      {_ms([t['s'] for t in ticks])}  ms")
    print(f"  fire_due_steps              {_ms([t['fire_s'] for t in firing])}  ms"
          f"   ({sum(t['fire_s'] for t in ticks) / max(1, sum(t['steps'] for t in ticks)) * 1000:.2f} ms per step)")
    sent = max(1, sum(t["sent"] for t in ticks))
    print(f"  deliver_due                 {_ms([t['deliver_s'] for t in ticks])}  ms"
          f"   ({sum(t['deliver_s'] for t in ticks) / sent * 1000:.2f} ms per message)")
    print(f"    claiming (incl. commit)   {_ms([t['claim_s'] for t in ticks])}  ms"
          f"   ({sum(t['claim_s'] for t in ticks) / sent * 1000:.2f} ms per message)")
    print(f"    building + SMTP           {_ms([t['send_s'] for t in ticks])}  ms"
          f"   ({sum(t['send_s'] for t in ticks) / sent * 1000:.2f} ms per message)")
    statements, commits = sum(t["statements"] for t in ticks), sum(t["commits"] for t in ticks)
    print(f"SQL: {statements} statements, {commits} commits ({sum(t['commit_s'] for t in ticks):.1f} s in commit), "
          f"per incident {statements / n:.1f} statements and {commits / n:.1f} commits")
    paced = sum(max(tick_seconds, t["s"]) for t in ticks)
    print(f"paced like `flask ticker` with TICK_SECONDS={tick_seconds}: about {paced:.0f} s to drain")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.escalation_drain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="incidents to seed (default 10000)")
    parser.add_argument("--postgresql", action="store_true", help="a new PostgreSQL database at 127.0.0.1:5432")
    parser.add_argument("--processes", type=int, default=None,
                        help="`flask ticker` processes (default: 0 = in this process on SQLite, 2 on PostgreSQL)")
    parser.add_argument("--tick-seconds", type=int, default=None,
                        help="TICK_SECONDS of the ticker processes (default 1); in-process, the pacing of the estimate (default 10)")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process ticks")
    args = parser.parse_args(argv)
    processes = args.processes if args.processes is not None else (2 if args.postgresql else 0)
    if processes and not args.postgresql:
        parser.error("ticker processes need --postgresql (SQLite runs in this process)")
    tick_seconds = args.tick_seconds or (1 if processes else 10)
    engine = "postgresql" if args.postgresql else "sqlite"
    with tempfile.TemporaryDirectory(prefix="csirt-bench-") as tmp, seed.fresh_database(Path(tmp), args.postgresql) as url:
        tmp = Path(tmp)
        started = time.perf_counter()
        app = seed.build_app(tmp, url)
        with app.app_context():
            expected = seed_due(app, args.n)
            if args.postgresql:
                seed.vacuum_analyze()
        seeding_s = time.perf_counter() - started
        print(f"seeded {args.n} incidents with due escalations into a fresh {engine} database in {seeding_s:.1f} s",
              flush=True)
        smtp, port, received_file = start_smtp(tmp)
        load = os.getloadavg()
        try:
            if processes:
                mode = f"{processes} × `flask --app wsgi ticker` (TICK_SECONDS={tick_seconds})"
                with app.app_context():
                    result = drain_with_processes(tmp, url, port, processes, tick_seconds)
            else:
                mode = "tick() in this process, back to back"
                app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
                result = drain_in_process(app, args.profile)
        finally:
            smtp.terminate()
            smtp.wait(timeout=10)
        result["load"] = load
        received = Counter(received_file.read_text().split())
        with app.app_context():
            figures = outbox_figures()
            app.extensions["db_engine"].dispose()
        if len(figures["emails"]) != expected:
            print(f"warning: {len(figures['emails'])} e-mail rows for {expected} escalations")
        report(engine, args.n, seeding_s, mode, result, figures, received, tick_seconds)
        if result.get("profiler"):
            out = io.StringIO()
            stats = pstats.Stats(result["profiler"], stream=out)
            stats.sort_stats("cumulative").print_stats(35)
            stats.sort_stats("tottime").print_stats(20)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
