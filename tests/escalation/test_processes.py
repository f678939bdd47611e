"""Exactly once across real processes: `flask --app wsgi ticker` ×2/×4 on one database.

The tickers are separate OS processes (tests/escalation/procs.py) on the test database (SQLite
file or PostgreSQL, `engine_name`), ticking every second and mailing an aiosmtpd server running
in this process. Data is seeded here through the services; to make later levels due without
waiting minutes, the escalations' started_at/next_at are moved into the past with an UPDATE.

Every email row in the outbox must reach the inbox exactly once, counted by X-Event-Id.
"""
from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from app.audit.services import verify
from app.core.db import db
from app.core.timeutil import now_utc
from app.escalation.models import Escalation, EscalationState
from app.notifications.delivery import SENDING_TIMEOUT
from app.notifications.models import Notification, NotificationStatus
from tests.conftest import share_audit_keys
from tests.escalation.conftest import Inbox, free_port
from tests.escalation.procs import TICK_SECONDS, Tickers

INCIDENTS = 30
STEPS = 5  # critical: level 1 (0 s), level 2 (10 min), level 3 (30 min) and its 2 repeats
DRAIN_TIMEOUT = 60


@pytest.fixture
def inbox():
    box = Inbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def tickers(app, database_url, inbox, tmp_path):
    share_audit_keys(tmp_path / "instance")  # every process signs the audit log with the same keys
    procs = Tickers(tmp_path, database_url, inbox.port)
    try:
        yield procs
    finally:  # before the `app` fixture empties the tables
        procs.close()


def seed(factory, count: int = INCIDENTS, overdue: dt.timedelta | None = None) -> list[int]:
    """Critical incidents in ageo (level 1 due at once); with `overdue`, the escalations started that long ago."""
    csirt = factory.user({"ageo": ["csirt"]})
    factory.user({"ageo": ["chief_officer"]})
    factory.user({"ageo": ["ciso"]})
    incidents = [factory.incident(csirt, title=f"マイナンバー系の不正アクセス {n}", network_segments=["mynumber"],
                                 impacts=["tampering"])
                 for n in range(count)]
    assert {i.severity for i in incidents} == {"critical"}
    if overdue:
        past = now_utc() - overdue
        db.session.execute(update(Escalation).values(started_at=past, next_at=past))
        db.session.commit()
    return [i.id for i in incidents]


def counts() -> dict[str, int]:
    """Active escalations and notifications by status, read on a fresh connection (another snapshot)."""
    with db.engine.connect() as conn:
        active = conn.scalar(select(func.count()).select_from(Escalation)
                             .where(Escalation.state == EscalationState.ACTIVE.value))
        statuses = dict(conn.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
    return {"active": active, **{s.value: statuses.get(s.value, 0) for s in NotificationStatus}}


def drained() -> bool:
    c = counts()
    return c["active"] == c["pending"] == c["sending"] == 0


def wait_drained(tickers: Tickers, inbox: Inbox) -> float:
    waited = tickers.wait_for(drained, DRAIN_TIMEOUT, "the outbox to drain")
    settled = len(inbox.messages)
    time.sleep(1.5 * TICK_SECONDS)  # a late duplicate would arrive within a tick
    assert len(inbox.messages) == settled and drained()
    return waited


def assert_exactly_once(inbox: Inbox, incident_ids: list[int], steps: int, in_flight: frozenset = frozenset()) -> None:
    with db.engine.connect() as conn:
        rows = conn.execute(select(Notification.event_id, Notification.incident_id, Notification.step,
                                   Notification.recipient, Notification.channel, Notification.status)).all()
        escalations = conn.execute(select(Escalation.incident_id, Escalation.state, Escalation.next_step)).all()
    assert sorted(e.incident_id for e in escalations) == sorted(incident_ids)
    assert {(e.state, e.next_step) for e in escalations} == {(EscalationState.EXHAUSTED.value, steps)}
    assert Counter(r.status for r in rows) == Counter({"sent": len(rows)})
    emails = {r.event_id: r for r in rows if r.channel == "email"}
    assert len(emails) == len(incident_ids) * steps  # one recipient per level in this seed
    assert Counter((r.incident_id, r.step) for r in emails.values()) == \
        Counter({(i, s): 1 for i in incident_ids for s in range(steps)})
    received = Counter(m["X-Event-Id"] for m in inbox.messages)
    doubled = {event: n for event, n in received.items() if n > 1}
    missing = set(emails) - set(received)
    unknown = set(received) - set(emails)
    described = [(emails[e].incident_id, emails[e].step, n) for e, n in doubled.items()]
    assert set(doubled) <= in_flight, f"delivered more than once: {described}"
    assert not missing, f"never delivered: {[(emails[e].incident_id, emails[e].step) for e in missing]}"
    assert not unknown, f"mails with no outbox row: {unknown}"
    assert all(m["To"] == emails[m["X-Event-Id"]].recipient for m in inbox.messages)
    assert verify().ok  # the audit chain stayed one chain under concurrent appends
    if doubled:  # reported, not passed: see test_kill_9_mid_run_and_restart
        pytest.xfail(f"at-least-once window: the killed process had handed {described} (incident, step, copies) to "
                     "SMTP but died before its 'sent' UPDATE; the re-queued row was sent again")


@pytest.mark.parametrize("processes", [2, 4])
def test_every_message_exactly_once(engine_name, processes, app, factory, inbox, tickers):
    if engine_name == "sqlite" and processes == 4:
        pytest.skip("the issue asks for two processes on one SQLite file")
    incident_ids = seed(factory, overdue=dt.timedelta(hours=2))  # all five steps (levels and repeats) overdue
    started = time.monotonic()
    tickers.start(processes, wait=False)  # all at once, so they race for the same due rows
    wait_drained(tickers, inbox)
    print(f"\n{engine_name} ×{processes}: {len(inbox.messages)} mails, drained {time.monotonic() - started:.1f} s after start")
    assert_exactly_once(inbox, incident_ids, STEPS)


def test_kill_9_mid_run_and_restart(engine_name, app, factory, inbox, tickers):
    incident_ids = seed(factory, overdue=dt.timedelta(hours=2))
    victim, _other = tickers.start(2)
    tickers.wait_for(lambda: len(inbox.messages) >= 40, DRAIN_TIMEOUT, "some mails")
    victim.kill9()
    killed_at, received_at_kill = now_utc(), len(inbox.messages)
    tickers.start(1)
    # A row the dead process had claimed stays `sending` until recover_stale() re-queues it after
    # SENDING_TIMEOUT (2 min). To keep the test fast, once everything else has drained, rows still
    # `sending` that were claimed before the kill are aged past that timeout by an UPDATE; a live
    # ticker then re-queues and sends them at its next tick.
    tickers.wait_for(lambda: (c := counts())["active"] == c["pending"] == 0, DRAIN_TIMEOUT, "all but stuck rows")
    time.sleep(1.5 * TICK_SECONDS)  # the live tickers finish what they hold
    stuck = (Notification.status == NotificationStatus.SENDING.value) & (Notification.claimed_at <= killed_at)
    with db.engine.begin() as conn:
        in_flight = conn.execute(select(Notification.event_id, Notification.channel).where(stuck)).all()
        conn.execute(update(Notification).where(stuck).values(claimed_at=killed_at - SENDING_TIMEOUT - dt.timedelta(minutes=1)))
    wait_drained(tickers, inbox)
    print(f"\n{engine_name}: killed after {received_at_kill} mails; in flight at the kill: {in_flight}; "
          f"{len(inbox.messages)} mails in all")
    # Only the row the killed process held may have been doubled: if it had already handed that mail
    # to SMTP when it died, before its 'sent' UPDATE, the re-queued row is sent again (at-least-once
    # between SMTP acceptance and that UPDATE; receivers can dedupe by X-Event-Id). That outcome is
    # reported as xfail with the message named, never as a pass; any other duplicate or loss fails.
    assert_exactly_once(inbox, incident_ids, STEPS, in_flight=frozenset(e for e, _ in in_flight))


def test_all_down_past_due_time_sent_at_first_tick(engine_name, app, factory, inbox, tickers):
    # Opened while no ticker ran; level 1 (0 s) and level 2 (10 min) fell due meanwhile, level 3 (30 min) not yet.
    incident_ids = seed(factory, count=5, overdue=dt.timedelta(minutes=15))
    time.sleep(1.5 * TICK_SECONDS)
    assert counts() == {"active": 5} | {s.value: 0 for s in NotificationStatus} and not inbox.messages
    tickers.start(1)  # returns once the banner is printed, right before the first tick
    ready_at = now_utc()

    def levels_1_and_2_sent():
        with db.engine.connect() as conn:
            steps = conn.scalars(select(Escalation.next_step)).all()
        return steps == [2] * len(incident_ids) and counts()["sent"] == 20  # 5 incidents × 2 levels × (email, in-app)
    tickers.wait_for(levels_1_and_2_sent, 15, "levels 1 and 2")
    with db.engine.connect() as conn:
        rows = conn.execute(select(Notification.level, Notification.status, Notification.attempts,
                                   Notification.created_at, Notification.sent_at)).all()
    assert Counter((n.level, n.status, n.attempts) for n in rows) == {(1, "sent", 1): 10, (2, "sent", 1): 10}
    (fired_at,) = {n.created_at for n in rows}  # one tick fired every overdue level of every incident…
    assert fired_at < ready_at + dt.timedelta(seconds=0.9 * TICK_SECONDS), "…the first one"
    # …and delivered them within it: the next tick cannot start before fired_at + TICK_SECONDS.
    assert max(n.sent_at for n in rows) < fired_at + dt.timedelta(seconds=TICK_SECONDS)
    received = Counter(m["X-Event-Id"] for m in inbox.messages)
    assert len(received) == 10 and set(received.values()) == {1}
