"""The tick: each domain's due work, in this order, each batch claimed exactly once.

1. the escalation fires its due steps (app/escalation/steps.py);
2. the deadlines write their due reminders (app/deadlines/reminders.py);
3. the outbox takes back what a dead process left `sending`, then delivers what is due
   (app/notifications/delivery.py), so the messages of 1 and 2 go out in the same tick.

The jobs with a period of their own (the mail intake, the audit checkpoint) follow, in
app/jobs/scheduler.py. No domain calls another's job; only this runner knows them all.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from app.core.db import database_now
from app.core.timeutil import now_utc
from app.deadlines.reminders import remind_due
from app.escalation.steps import fire_due_steps
from app.notifications.delivery import deliver_due, recover_stale


def _drain(job: Callable[[dt.datetime, int], int], now: dt.datetime, limit: int, rounds: int) -> int:
    """A full batch means more is waiting: go on (up to `rounds` batches) rather than leave a
    backlog for the next period."""
    done = 0
    for _ in range(rounds):
        count = job(now, limit)
        done += count
        if count < limit:
            break
    return done


def tick(now: dt.datetime | None = None, limit: int = 200, rounds: int = 50) -> dict:
    now = now or now_utc()
    fired = _drain(fire_due_steps, now, limit, rounds)
    reminded = _drain(remind_due, now, limit, rounds)
    recovered = recover_stale(database_now())  # by the real clock, whatever `now` a caller passes
    sent = failed = 0
    for _ in range(rounds):
        ok, bad = deliver_due(now, limit)
        sent, failed = sent + ok, failed + bad
        if ok + bad < limit:
            break
    return {"steps": fired, "reminders": reminded, "sent": sent, "failed": failed, "recovered": recovered}
