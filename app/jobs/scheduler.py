"""APScheduler in each serving process only ticks; `flask ticker` runs the same loop alone."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.core.db import database_now, db
from app.core.playbooks import playbooks
from app.jobs.models import TickJob
from app.jobs.ticker import tick

log = logging.getLogger(__name__)
_started = threading.Lock()


def run_tick(app: Flask) -> dict:
    """The tick (app/jobs/ticker.py), then the jobs other packages hang on it (playbooks().tick_jobs, e.g.
    the mail intake), each once per period across every process, and each on its own: one failing
    does not stop the others."""
    with app.app_context():
        try:
            result = tick()
        except Exception:  # noqa: BLE001 - a failed tick must not stop the next one
            log.exception("tick failed")
            result = {}
        for name, (job, period) in playbooks(app).tick_jobs.items():
            try:
                if claim_job(name, dt.timedelta(seconds=app.config[period])):
                    result[name] = job()
            except Exception:  # noqa: BLE001
                db.session.rollback()
                log.exception("tick job %s failed", name)
        return result


def claim_job(name: str, period: dt.timedelta) -> bool:
    """Whether this process runs the job now: the one whose compare-and-set moves `due_at` a
    period on (by the database's clock, which every server shares). Committed at once, so the
    others see it; a process that dies mid-job leaves it to the next period."""
    now = database_now()
    due = db.session.scalar(select(TickJob.due_at).where(TickJob.name == name))
    if due is not None and due > now:  # read only: most ticks of most processes end here
        db.session.rollback()
        return False
    if due is None:
        insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        db.session.execute(insert(TickJob).values(name=name, due_at=now).on_conflict_do_nothing())
    claimed = db.session.execute(update(TickJob).where(TickJob.name == name, TickJob.due_at <= now)
                                 .values(due_at=now + period, started_at=now)).rowcount == 1
    db.session.commit()
    return claimed


def start_scheduler(app: Flask) -> BackgroundScheduler | None:
    """Started on the first request a serving process handles (never by CLI commands)."""
    if not app.config["SCHEDULER_ENABLED"] or "scheduler" in app.extensions:
        return None
    with _started:
        if "scheduler" in app.extensions:
            return None
        scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
        scheduler.add_job(run_tick, "interval", args=[app], seconds=app.config["TICK_SECONDS"],
                          max_instances=1, coalesce=True, id="tick")
        scheduler.start()
        app.extensions["scheduler"] = scheduler
        return scheduler


def start_scheduler_hook() -> None:
    """before_request: the first request a serving process handles starts its ticker."""
    start_scheduler(current_app._get_current_object())


def run_forever(app: Flask, stop: threading.Event | None = None) -> None:
    """The dedicated ticker process: tick, sleep, repeat."""
    stop = stop or threading.Event()
    period = app.config["TICK_SECONDS"]
    while not stop.is_set():
        started = time.monotonic()
        run_tick(app)
        stop.wait(max(0.0, period - (time.monotonic() - started)))
