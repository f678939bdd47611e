"""The escalation's job on the tick: fire the due steps, exactly once.

Every app process may tick. The database decides: a step fires only for the process whose
compare-and-set UPDATE moves `next_step` on (PostgreSQL also skips rows another process holds,
FOR UPDATE SKIP LOCKED). What fell due while every process was down is simply due at the next tick.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app.auth.models import Membership, User
from app.core.db import db, due_batch
from app.escalation.models import Escalation, EscalationState
from app.escalation.policy import following_step, step_event
from app.incidents import timeline
from app.incidents.models import Incident
from app.notifications.models import Channel
from app.notifications.oncall import Reach, is_office_hours, reach
from app.notifications.outbox import channels_for, insert_once, outbox_row

# an acknowledged escalation still fires its inform levels
FIRING = (EscalationState.ACTIVE.value, EscalationState.ACKNOWLEDGED.value)


def fire_due_steps(now: dt.datetime, limit: int) -> int:
    """Fires a batch of due steps in one transaction: each claimed by its own compare-and-set
    UPDATE, their messages, timeline and audit entries written together at the end."""
    due = db.session.execute(due_batch(select(
        Escalation.id, Escalation.incident_id, Escalation.cycle, Escalation.policy, Escalation.started_at,
        Escalation.next_step, Escalation.next_at, Escalation.state,
    ).where(Escalation.state.in_(FIRING), Escalation.next_at <= now)
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
            following = following_step(steps, step_index, escalation.state == EscalationState.ACKNOWLEDGED.value)
            next_at = escalation.started_at + dt.timedelta(seconds=steps[following]["offset_s"]) if following < len(steps) else None
            if not _claim_step(escalation.id, escalation.state, step_index, following, next_at, now):
                break
            fired += 1
            reached = batch.fire(incidents[escalation.incident_id], escalation, steps[step_index], step_index)
            if not reached and next_at is not None and escalation.state == EscalationState.ACTIVE.value:
                next_at = now
                db.session.execute(update(Escalation).where(Escalation.id == escalation.id).values(next_at=now)
                                   .execution_options(synchronize_session=False))
            step_index = following
    batch.write()
    db.session.commit()
    return fired


def _claim_step(escalation_id: int, state: str, step_index: int, following: int, next_at: dt.datetime | None,
                now) -> bool:
    """Moves the escalation on from `step_index` if nobody else did (and its state did not change
    meanwhile: an acknowledgement between the read and this UPDATE wins)."""
    active = state == EscalationState.ACTIVE.value
    return db.session.execute(
        update(Escalation).where(Escalation.id == escalation_id, Escalation.next_step == step_index,
                                 Escalation.state == state)
        .values(next_step=following, next_at=next_at, updated_at=now,
                state=state if next_at or not active else EscalationState.EXHAUSTED.value)
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
        label = f"第{step['level']}段階" + ("（報告）" if step.get("inform") else "") \
            + (f"（{step['repeat']}回目の再通知）" if step["repeat"] else "")
        where = {"cycle": escalation.cycle, "step": index}
        if step.get("only") and (step["only"] == "office_hours") != self.office_hours:
            self.events.append((incident, "escalation_skipped",
                                f"{label}は{'勤務時間内' if step['only'] == 'office_hours' else '勤務時間外'}のみのため省略", where))
            return True
        result = self.reach(incident.organization_id, step["notify"])
        allowed = frozenset(step.get("channels") or [c.value for c in Channel])
        for person, role in result.people:
            for channel in self.channels_for(person, allowed):
                self.notifications.append(outbox_row(incident, person, role, channel, step_event(step), self.now,
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


