"""The ticker: fires due escalation steps and delivers the outbox, exactly once.

Every app process may tick. The database decides: a step fires only for the process whose
compare-and-set UPDATE moves `next_step` on (PostgreSQL also skips rows another process holds,
FOR UPDATE SKIP LOCKED), and a message is sent only by the process whose UPDATE moved it from
`pending` to `sending`. What fell due while every process was down is simply due at the next tick.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.auth.models import Membership, User
from app.core.db import db
from app.core.timeutil import now_utc
from app.escalation import channels
from app.escalation.models import Channel, Escalation, EscalationState, Notification, NotificationStatus
from app.escalation.oncall import is_office_hours, reach
from app.incidents import timeline
from app.incidents.models import Incident, Task

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
SENDING_TIMEOUT = dt.timedelta(minutes=2)  # longer than any one delivery (SMTP 10 s, webhook 5 s)


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def _due(query, limit: int):
    query = query.limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


def tick(now: dt.datetime | None = None, limit: int = 200, rounds: int = 50) -> dict:
    """Fires what is due and drains the outbox; a full batch means more is waiting, so it goes on
    (up to `rounds` batches) rather than leaving a backlog for the next period."""
    now = now or now_utc()
    fired = sent = failed = 0
    for _ in range(rounds):
        count = fire_due_steps(now, limit)
        fired += count
        if count < limit:
            break
    recovered = recover_stale(now_utc())  # by the wall clock, whatever `now` a caller passes
    for _ in range(rounds):
        ok, bad = deliver_due(now, limit)
        sent, failed = sent + ok, failed + bad
        if ok + bad < limit:
            break
    return {"steps": fired, "sent": sent, "failed": failed, "recovered": recovered}


# --- escalation steps ---------------------------------------------------------------------

def fire_due_steps(now: dt.datetime, limit: int) -> int:
    fired = 0
    ids = db.session.scalars(_due(select(Escalation.id).where(
        Escalation.state == EscalationState.ACTIVE.value, Escalation.next_at <= now).order_by(Escalation.next_at), limit)).all()
    for escalation_id in ids:
        while True:  # every step that fell due fires (after downtime, several); nobody reached → the next at once
            escalation = db.session.get(Escalation, escalation_id, populate_existing=True)
            if escalation.state != EscalationState.ACTIVE.value or escalation.next_at is None or escalation.next_at > now:
                break
            step_index = escalation.next_step
            steps = escalation.policy
            following = step_index + 1
            next_at = escalation.started_at + dt.timedelta(seconds=steps[following]["offset_s"]) if following < len(steps) else None
            claimed = db.session.execute(
                update(Escalation).where(Escalation.id == escalation.id, Escalation.next_step == step_index,
                                         Escalation.state == EscalationState.ACTIVE.value)
                .values(next_step=following, next_at=next_at, updated_at=now,
                        state=EscalationState.ACTIVE.value if next_at else EscalationState.EXHAUSTED.value)
            ).rowcount
            if claimed != 1:
                db.session.rollback()
                break
            reached = _fire_step(escalation, steps[step_index], step_index, now)
            fired += 1
            if not reached and next_at is not None:
                db.session.execute(update(Escalation).where(Escalation.id == escalation.id).values(next_at=now))
            db.session.commit()
            if next_at is None:
                break
    db.session.commit()
    return fired


def _what_to_do(incident: Incident) -> list[str]:
    tasks = db.session.scalars(select(Task.title).where(Task.incident_id == incident.id, Task.stage == incident.stage,
                                                        Task.required.is_(True), Task.done.is_(False)).limit(5))
    return list(tasks)


def _fire_step(escalation: Escalation, step: dict, index: int, now: dt.datetime) -> bool:
    incident = db.session.get(Incident, escalation.incident_id)
    label = f"第{step['level']}段階" + (f"（{step['repeat']}回目の再通知）" if step["repeat"] else "")
    if step.get("only") and (step["only"] == "office_hours") != is_office_hours(now):
        timeline.record(incident, None, "escalation_skipped", f"{label}は{'勤務時間内' if step['only'] == 'office_hours' else '勤務時間外'}のみのため省略",
                        {"cycle": escalation.cycle, "step": index})
        return True
    result = reach(incident.organization_id, step["notify"], now)
    allowed = set(step.get("channels") or [c.value for c in Channel])
    rows = []
    for person, role in result.people:
        for channel in _channels_for(person, allowed):
            rows.append(_row(incident, escalation, index, step, person, role, channel, "escalation", now))
    _insert_once(rows)
    names = "、".join(p.name for p, _ in result.people) or "なし"
    timeline.record(incident, None, "escalated", f"{label}: {names} へ連絡" + (f"（{'; '.join(result.notes)}）" if result.notes else ""),
                    {"cycle": escalation.cycle, "step": index, "level": step["level"],
                     "recipients": [p.email for p, _ in result.people], "notes": result.notes})
    if not result.people:
        _warn_admins(incident, escalation, index, step, result.notes, now)
    return bool(result.people)


def _row(incident, escalation, index, step, person: User, role: str, channel: str, event: str, now) -> dict:
    """One outbox row. An in-app message is delivered by being written, so it is born `sent`."""
    in_app = channel == Channel.IN_APP.value
    return {"event_id": str(uuid.uuid4()), "incident_id": incident.id, "escalation_id": escalation.id,
            "cycle": escalation.cycle, "step": index, "level": step["level"], "event": event,
            "recipient_id": person.id, "recipient": person.email, "role": role, "channel": channel,
            "status": NotificationStatus.SENT.value if in_app else NotificationStatus.PENDING.value,
            "attempts": 1 if in_app else 0, "sent_at": now if in_app else None,
            "next_attempt_at": None if in_app else now, "created_at": now}


def _channels_for(person: User, allowed: set[str]) -> list[str]:
    chosen = []
    if Channel.EMAIL.value in allowed and current_app.config.get("SMTP_HOST"):
        chosen.append(Channel.EMAIL.value)
    if Channel.WEBHOOK.value in allowed and person.webhook:
        chosen.append(Channel.WEBHOOK.value)
    if Channel.IN_APP.value in allowed:
        chosen.append(Channel.IN_APP.value)
    return chosen


def _insert_once(rows: list[dict]) -> None:
    """The unique constraint (incident, cycle, step, recipient, channel) makes a repeat a no-op."""
    if not rows:
        return
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.session.execute(insert(Notification).on_conflict_do_nothing(), rows)


def _warn_admins(incident: Incident, escalation: Escalation, index: int, step: dict, notes: list[str], now) -> None:
    admins = db.session.scalars(select(User).join(Membership).where(
        Membership.organization_id == incident.organization_id, Membership.role == "admin",
        Membership.active.is_(True))).unique().all()
    rows = [_row(incident, escalation, index, step, admin, "admin", channel, "nobody_reachable", now)
            for admin in admins for channel in _channels_for(admin, {c.value for c in Channel})]
    _insert_once(rows)
    timeline.record(incident, None, "nobody_reachable",
                    f"第{step['level']}段階で連絡できる人がいないため次の段階へ進めました（管理者 {len(admins)} 名へ警告）",
                    {"cycle": escalation.cycle, "step": index, "notes": notes, "admins": [a.email for a in admins]})


# --- the outbox ---------------------------------------------------------------------------

def recover_stale(now: dt.datetime) -> int:
    """A message left `sending` by a process that died goes back to the queue."""
    count = db.session.execute(
        update(Notification).where(Notification.status == NotificationStatus.SENDING.value,
                                   Notification.claimed_at < now - SENDING_TIMEOUT)
        .values(status=NotificationStatus.PENDING.value, next_attempt_at=now)
    ).rowcount
    db.session.commit()
    return count


def deliver_due(now: dt.datetime, limit: int) -> tuple[int, int]:
    """Claims a batch in one compare-and-set UPDATE (rows another process holds are skipped on
    PostgreSQL, so processes share the work), then sends each and records its outcome at once."""
    query = _due(select(Notification.id).where(
        Notification.status == NotificationStatus.PENDING.value, Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id), limit)
    ids = db.session.scalars(query).all()
    if not ids:
        db.session.commit()
        return 0, 0
    claimed = db.session.scalars(
        update(Notification).where(Notification.id.in_(ids), Notification.status == NotificationStatus.PENDING.value)
        .values(status=NotificationStatus.SENDING.value, claimed_at=now_utc(), attempts=Notification.attempts + 1)
        .returning(Notification.id)
    ).all()
    db.session.commit()
    sent = failed = 0
    rows = db.session.scalars(select(Notification).where(Notification.id.in_(claimed)).order_by(Notification.id)).all()
    incidents = {i.id: i for i in db.session.scalars(select(Incident).where(Incident.id.in_({n.incident_id for n in rows})))}
    todo: dict[int, list[str]] = {}
    with channels.Mailer() as mailer:
        for notification in rows:
            incident = incidents[notification.incident_id]
            try:
                if notification.channel == Channel.EMAIL.value and incident.id not in todo:
                    todo[incident.id] = _what_to_do(incident)
                _deliver(notification, incident, mailer, todo.get(incident.id, []))
            except channels.DeliveryError as exc:
                failed += 1
                give_up = notification.attempts >= MAX_ATTEMPTS
                values = {"status": NotificationStatus.FAILED.value if give_up else NotificationStatus.PENDING.value,
                          "last_error": str(exc)[:1000],
                          "next_attempt_at": None if give_up else now_utc() + backoff(notification.attempts)}
                log.warning("notification %s to %s failed (attempt %s): %s", notification.id, notification.recipient,
                            notification.attempts, exc)
            else:
                sent += 1
                values = {"status": NotificationStatus.SENT.value, "sent_at": now_utc(), "last_error": None}
            db.session.execute(update(Notification).where(Notification.id == notification.id).values(**values))
            db.session.commit()  # per message: a crash re-sends at most the one in flight
    return sent, failed


def _deliver(notification: Notification, incident: Incident, mailer: channels.Mailer, what_to_do: list[str]) -> None:
    if notification.channel == Channel.EMAIL.value:
        mailer.send(channels.email_message(notification, incident, what_to_do))
    elif notification.channel == Channel.WEBHOOK.value:
        if not notification.user.webhook:
            raise channels.DeliveryError("the person has no webhook any more")
        channels.send_webhook(notification.user.webhook, channels.payload(notification, incident))
    # in_app: the row itself is the message; marking it sent is the delivery
