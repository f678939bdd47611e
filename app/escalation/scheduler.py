"""APScheduler in each serving process only ticks; `flask ticker` runs the same loop alone."""
from __future__ import annotations

import logging
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app

from app.escalation.ticker import tick

log = logging.getLogger(__name__)
_started = threading.Lock()


def run_tick(app: Flask) -> dict:
    """The escalation tick, then the jobs other packages hang on it (app.extensions["tick_jobs"],
    e.g. the mail intake), each on its own: one failing does not stop the others."""
    with app.app_context():
        try:
            result = tick()
        except Exception:  # noqa: BLE001 - a failed tick must not stop the next one
            log.exception("tick failed")
            result = {}
        for name, job in app.extensions.get("tick_jobs", {}).items():
            try:
                result[name] = job()
            except Exception:  # noqa: BLE001
                log.exception("tick job %s failed", name)
        return result


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
