"""Exactly once in-process: ticking twice at the same moment, and several threads ticking at once,
never create or send a message twice (counted per event id and per recipient and step)."""
from __future__ import annotations

import collections
import datetime as dt
import threading

import pytest

from app.jobs.ticker import tick
from app.notifications import channels
from tests.escalation.support import CRITICAL, escalation, headers, load_roster, notifications, open_incident, person, started

M = dt.timedelta(minutes=1)
CSIRT, MANAGER = "csirt@ageo.example.jp", "manager@ageo.example.jp"
CHIEF, CISO = "chief@ageo.example.jp", "ciso@ageo.example.jp"
INCIDENTS = 6
# The default critical chain: csirt + security_manager at 0, chief_officer at 10m, ciso at 30m (+2 repeats)
MOMENTS = [(dt.timedelta(seconds=1), {CSIRT, MANAGER}), (10 * M, {CHIEF}), (30 * M, {CISO}), (60 * M, {CISO})]


@pytest.fixture
def incidents(app, client, factory, tmp_path, smtp_server, webhook_receiver):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"]), person(MANAGER, "田中 一郎", ["security_manager"]),
                           person(CHIEF, "伊藤 次郎", ["chief_officer"]),
                           person(CISO, "加藤 三郎", ["ciso"], webhook=webhook_receiver.url)])
    hdrs = headers(factory, CSIRT)
    opened = [open_incident(client, hdrs, CRITICAL, title=f"不審な通信 {i}") for i in range(INCIDENTS)]
    assert {i["severity"] for i in opened} == {"critical"}
    return opened


def _check_once(incidents, smtp_server, webhook_receiver, reached: dict[str, set[str]]):
    """Every e-mail/webhook row went out exactly once; each person got one message per step."""
    mail_ids = collections.Counter(m["X-Event-Id"] for m in smtp_server.messages)
    hook_ids = collections.Counter(r["headers"]["X-Event-Id"] for r in webhook_receiver.requests)
    assert [eid for eid, n in mail_ids.items() if n > 1] == [], "an e-mail was sent twice"
    assert [eid for eid, n in hook_ids.items() if n > 1] == [], "a webhook was posted twice"
    for incident in incidents:
        rows = notifications(incident["id"])
        keys = collections.Counter((n.step, n.recipient, n.channel) for n in rows)
        assert max(keys.values()) == 1
        assert {n.status for n in rows} == {"sent"}
        emails = [n for n in rows if n.channel == "email"]
        assert all(mail_ids[n.event_id] == 1 for n in emails)
        assert all(hook_ids[n.event_id] == 1 for n in rows if n.channel == "webhook")
        per_step = collections.Counter((n.step, n.recipient) for n in emails)
        assert set(per_step.values()) == {1}
        for recipient, steps in reached.items():
            inbox = [m for m in smtp_server.messages if m["To"] == recipient and incident["reference"] in m["Subject"]]
            assert len(inbox) == len(steps), (recipient, incident["reference"])
    assert len(mail_ids) == sum(len(steps) for steps in reached.values()) * len(incidents)


def _expected(upto: int) -> dict[str, set[int]]:
    reached: dict[str, set[int]] = collections.defaultdict(set)
    for index, (_, people) in enumerate(MOMENTS[:upto]):
        for who in people:
            reached[who].add(index)
    return reached


def test_ticking_twice_at_the_same_moment_sends_nothing_twice(app, incidents, smtp_server, webhook_receiver):
    base = max(started(i["id"]) for i in incidents)
    for done, (offset, _) in enumerate(MOMENTS, start=1):
        first = tick(base + offset)
        count = sum(len(notifications(i["id"])) for i in incidents)
        second = tick(base + offset)
        assert first["steps"] == INCIDENTS and second["steps"] == 0 and second["sent"] == 0
        assert sum(len(notifications(i["id"])) for i in incidents) == count
        _check_once(incidents, smtp_server, webhook_receiver, _expected(done))
    assert len(webhook_receiver.requests) == 2 * INCIDENTS  # the CISO's webhook: level 3 and its first repeat
    assert {escalation(i["id"]).next_step for i in incidents} == {4}


def _race(app, now: dt.datetime, threads: int) -> list[BaseException]:
    errors: list[BaseException] = []
    gate = threading.Barrier(threads)

    def run():
        with app.app_context():
            try:
                gate.wait(timeout=10)
                tick(now)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(w.is_alive() for w in workers), "a ticking thread hung"
    return errors


@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_ticks_in_threads_send_each_message_once(app, incidents, smtp_server, webhook_receiver, threads):
    base = max(started(i["id"]) for i in incidents)
    errors = []
    for done, (offset, _) in enumerate(MOMENTS, start=1):
        errors += _race(app, base + offset, threads)
        tick(base + offset)  # a calm tick afterwards picks up whatever a failed racer left: nothing lost
        tick(base + offset)
        _check_once(incidents, smtp_server, webhook_receiver, _expected(done))
    assert len(webhook_receiver.requests) == 2 * INCIDENTS
    assert errors == [], f"ticks raised under concurrency: {errors!r}"


def test_a_message_being_sent_is_not_taken_back_by_a_concurrent_tick(app, incidents, smtp_server, webhook_receiver,
                                                                    monkeypatch):
    """While one ticker is in the middle of an SMTP conversation, another ticker at the same `now`
    must neither re-queue the row (as if its sender had died) nor send it again."""
    base = max(started(i["id"]) for i in incidents)
    tick(base + MOMENTS[0][0])  # level 1 out of the way
    real_send, nested, started_nested = channels.Mailer.send, [], threading.Event()

    def send_while_another_ticks(mailer, message):
        if not started_nested.is_set():
            started_nested.set()
            nested.append(_race(app, base + 10 * M, 1))  # a second ticker runs to completion meanwhile
        real_send(mailer, message)

    monkeypatch.setattr(channels.Mailer, "send", send_while_another_ticks)
    tick(base + 10 * M)
    assert nested == [[]]
    _check_once(incidents, smtp_server, webhook_receiver, _expected(2))


@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_ticks_on_the_wall_clock_send_level_one_once(app, incidents, smtp_server, webhook_receiver,
                                                               threads):
    errors = _race(app, None, threads)  # tick() without `now`, as the scheduler calls it
    tick()
    _check_once(incidents, smtp_server, webhook_receiver, _expected(1))
    assert errors == [], f"ticks raised under concurrency: {errors!r}"
