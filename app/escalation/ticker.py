"""The ticker: fires due escalation steps and delivers the outbox, exactly once.

Every app process may tick. The database decides: a step fires only for the process whose
compare-and-set UPDATE moves `next_step` on (PostgreSQL also skips rows another process holds,
FOR UPDATE SKIP LOCKED), and a message is sent only by the process whose UPDATE moved it from
`pending` to `sending`. What fell due while every process was down is simply due at the next tick.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app.auth.models import Membership, User
from app.core.db import database_now, db
from app.core.timeutil import now_utc
from app.deadlines.reminders import remind_due
from app.escalation import channels, webhooks
from app.escalation.models import Channel, Escalation, EscalationState, Notification, NotificationStatus
from app.escalation.oncall import Reach, is_office_hours, reach
from app.escalation.outbox import channels_for, insert_once, outbox_row
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
    """Fires what is due (escalation steps, then deadline reminders) and drains the outbox; a
    full batch means more is waiting, so it goes on
    (up to `rounds` batches) rather than leaving a backlog for the next period."""
    now = now or now_utc()
    fired = sent = failed = reminded = 0
    for _ in range(rounds):
        count = fire_due_steps(now, limit)
        fired += count
        if count < limit:
            break
    for _ in range(rounds):
        count = remind_due(now, limit)
        reminded += count
        if count < limit:
            break
    recovered = recover_stale(database_now())  # by the real clock, whatever `now` a caller passes
    for _ in range(rounds):
        ok, bad = deliver_due(now, limit)
        sent, failed = sent + ok, failed + bad
        if ok + bad < limit:
            break
    return {"steps": fired, "reminders": reminded, "sent": sent, "failed": failed, "recovered": recovered}


# --- escalation steps ---------------------------------------------------------------------

def fire_due_steps(now: dt.datetime, limit: int) -> int:
    """Fires a batch of due steps in one transaction: each claimed by its own compare-and-set
    UPDATE, their messages, timeline and audit entries written together at the end."""
    due = db.session.execute(_due(select(
        Escalation.id, Escalation.incident_id, Escalation.cycle, Escalation.policy, Escalation.started_at,
        Escalation.next_step, Escalation.next_at,
    ).where(Escalation.state == EscalationState.ACTIVE.value, Escalation.next_at <= now)
        .order_by(Escalation.next_at), limit)).all()
    if not due:
        db.session.commit()
        return 0
    incidents = {i.id: i for i in db.session.scalars(
        select(Incident).options(joinedload(Incident.organization)).where(Incident.id.in_({e.incident_id for e in due}))
        .execution_options(populate_existing=True))}
    batch, fired = _StepBatch(now), 0
    for escalation in due:
        step_index, next_at = escalation.next_step, escalation.next_at
        while next_at is not None and next_at <= now:  # after downtime several steps are due; nobody reached → the next at once
            steps = escalation.policy
            following = step_index + 1
            next_at = escalation.started_at + dt.timedelta(seconds=steps[following]["offset_s"]) if following < len(steps) else None
            if not _claim_step(escalation.id, step_index, following, next_at, now):
                break
            fired += 1
            reached = batch.fire(incidents[escalation.incident_id], escalation, steps[step_index], step_index)
            if not reached and next_at is not None:
                next_at = now
                db.session.execute(update(Escalation).where(Escalation.id == escalation.id).values(next_at=now)
                                   .execution_options(synchronize_session=False))
            step_index = following
    batch.write()
    db.session.commit()
    return fired


def _claim_step(escalation_id: int, step_index: int, following: int, next_at: dt.datetime | None, now) -> bool:
    return db.session.execute(
        update(Escalation).where(Escalation.id == escalation_id, Escalation.next_step == step_index,
                                 Escalation.state == EscalationState.ACTIVE.value)
        .values(next_step=following, next_at=next_at, updated_at=now,
                state=EscalationState.ACTIVE.value if next_at else EscalationState.EXHAUSTED.value)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


class _StepBatch:
    """What a batch of steps writes, collected so that it goes out in a few multi-row INSERTs;
    who a step reaches is looked up once per body and target list (one `now` per batch)."""

    def __init__(self, now: dt.datetime):
        self.now = now
        self.office_hours = is_office_hours(now)
        self.notifications: list[dict] = []
        self.events: list[tuple[Incident, str, str, dict]] = []
        self._reach: dict[tuple[int, tuple[str, ...]], Reach] = {}
        self._admins: dict[int, list[User]] = {}
        self._channels: dict[tuple[int, frozenset[str]], list[str]] = {}

    def fire(self, incident: Incident, escalation, step: dict, index: int) -> bool:
        label = f"第{step['level']}段階" + (f"（{step['repeat']}回目の再通知）" if step["repeat"] else "")
        where = {"cycle": escalation.cycle, "step": index}
        if step.get("only") and (step["only"] == "office_hours") != self.office_hours:
            self.events.append((incident, "escalation_skipped",
                                f"{label}は{'勤務時間内' if step['only'] == 'office_hours' else '勤務時間外'}のみのため省略", where))
            return True
        result = self.reach(incident.organization_id, step["notify"])
        allowed = frozenset(step.get("channels") or [c.value for c in Channel])
        for person, role in result.people:
            for channel in self.channels_for(person, allowed):
                self.notifications.append(outbox_row(incident, person, role, channel, "escalation", self.now,
                                                     escalation.id, escalation.cycle, index, step["level"]))
        names = "、".join(p.name for p, _ in result.people) or "なし"
        self.events.append((incident, "escalated", f"{label}: {names} へ連絡" + (f"（{'; '.join(result.notes)}）" if result.notes else ""),
                            where | {"level": step["level"], "recipients": [p.email for p, _ in result.people],
                                     "notes": result.notes}))
        if not result.people:
            self.warn_admins(incident, escalation, index, step, result.notes)
        return bool(result.people)

    def reach(self, organization_id: int, targets: list[str]) -> Reach:
        key = (organization_id, tuple(targets))
        if key not in self._reach:
            self._reach[key] = reach(organization_id, targets, self.now)
        return self._reach[key]

    def channels_for(self, person: User, allowed: frozenset[str]) -> list[str]:
        key = (person.id, allowed)
        if key not in self._channels:
            self._channels[key] = channels_for(person, allowed)
        return self._channels[key]

    def warn_admins(self, incident: Incident, escalation, index: int, step: dict, notes: list[str]) -> None:
        organization_id = incident.organization_id
        if organization_id not in self._admins:
            self._admins[organization_id] = list(db.session.scalars(select(User).join(Membership).where(
                Membership.organization_id == organization_id, Membership.role == "admin",
                Membership.active.is_(True))).unique())
        admins = self._admins[organization_id]
        everything = frozenset(c.value for c in Channel)
        self.notifications += [outbox_row(incident, admin, "admin", channel, "nobody_reachable", self.now, escalation.id, escalation.cycle, index,
                                          step["level"])
                               for admin in admins for channel in self.channels_for(admin, everything)]
        self.events.append((incident, "nobody_reachable",
                            f"第{step['level']}段階で連絡できる人がいないため次の段階へ進めました（管理者 {len(admins)} 名へ警告）",
                            {"cycle": escalation.cycle, "step": index, "notes": notes, "admins": [a.email for a in admins]}))

    def write(self) -> None:
        insert_once(self.notifications)
        timeline.record_many(self.events)


def _what_to_do(incidents: list[Incident]) -> dict[int, list[str]]:
    """Up to five open required tasks of each incident's current stage, for the e-mails."""
    todo: dict[int, list[str]] = {i.id: [] for i in incidents}
    rows = db.session.execute(
        select(Task.incident_id, Task.title).join(Incident, Incident.id == Task.incident_id)
        .where(Task.incident_id.in_(list(todo)), Task.stage == Incident.stage, Task.required.is_(True),
               Task.done.is_(False)).order_by(Task.incident_id, Task.position, Task.id))
    for incident_id, title in rows:
        if len(todo[incident_id]) < 5:
            todo[incident_id].append(title)
    return todo


# --- the outbox ---------------------------------------------------------------------------

def recover_stale(now: dt.datetime) -> int:
    """A message left `sending` by a process that died goes back to the queue. Claims are stamped
    and judged by the database's clock, so a server whose clock runs ahead cannot take back a
    message another server is still sending."""
    count = db.session.execute(
        update(Notification).where(Notification.status == NotificationStatus.SENDING.value,
                                   Notification.claimed_at < now - SENDING_TIMEOUT)
        .values(status=NotificationStatus.PENDING.value, next_attempt_at=now).execution_options(synchronize_session=False)
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
        .values(status=NotificationStatus.SENDING.value, claimed_at=database_now(), attempts=Notification.attempts + 1)
        .returning(Notification.id).execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    sent = failed = 0
    rows = db.session.scalars(select(Notification)
                              .where(Notification.id.in_(claimed)).order_by(Notification.id)
                              .execution_options(populate_existing=True)).all()
    incidents = {i.id: i for i in db.session.scalars(select(Incident).options(joinedload(Incident.organization))
                                                     .where(Incident.id.in_({n.incident_id for n in rows}))
                                                     .execution_options(populate_existing=True))}
    todo = _what_to_do([incidents[n.incident_id] for n in rows if n.channel == Channel.EMAIL.value])
    with channels.Mailer() as mailer:
        for notification in rows:
            incident = incidents[notification.incident_id]
            try:
                _deliver(notification, incident, mailer, todo.get(incident.id, []))
            except channels.DeliveryError as exc:
                failed += 1
                give_up = notification.attempts >= MAX_ATTEMPTS
                values = {"status": NotificationStatus.FAILED.value if give_up else NotificationStatus.PENDING.value,
                          "last_error": str(exc)[:1000],
                          "next_attempt_at": None if give_up else now_utc() + backoff(notification.attempts)}
                log.warning("notification %s to %s failed (attempt %s): %s", notification.id, notification.recipient,
                            notification.attempts, exc.detail)
            else:
                sent += 1
                values = {"status": NotificationStatus.SENT.value, "sent_at": now_utc(), "last_error": None}
            db.session.execute(update(Notification).where(Notification.id == notification.id).values(**values)
                               .execution_options(synchronize_session=False))
            db.session.commit()  # per message: a crash re-sends at most the one in flight
    return sent, failed


def _deliver(notification: Notification, incident: Incident, mailer: channels.Mailer, what_to_do: list[str]) -> None:
    if notification.channel == Channel.EMAIL.value:
        mailer.send(channels.email_message(notification, incident, what_to_do))
    elif notification.channel == Channel.WEBHOOK.value:
        if not notification.user.webhook:
            raise channels.DeliveryError("the person has no webhook any more")
        channels.send_webhook(notification.user.webhook, channels.payload(notification, incident),
                              webhooks.allow_list(incident.organization.code))
    # in_app: the row itself is the message; marking it sent is the delivery
