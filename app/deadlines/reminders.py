"""The deadlines' job on the tick: reminders through the notification outbox, once when a deadline is near (the rule set's
`remind.before`, 24 h by default), once when it has passed, and again only if its due time moves.
Regulatory deadlines and notices only: the internal chain's target times are shown, not paged
(the escalation already pages that chain).

Exactly once across processes as for escalation steps: a reminder is written only by the process
whose compare-and-set UPDATE stamped the deadline (`…_notified_at IS NULL` for its round)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select, update

from app.core.db import db, due_batch
from app.core.durations import parse_duration
from app.core.playbooks import playbooks
from app.core.timeutil import format_display
from app.deadlines.messages import APPROACHING, OVERDUE
from app.deadlines.models import Deadline
from app.deadlines.rules import RuleSet
from app.deadlines.serializers import time_left
from app.deadlines.services import rules_for
from app.incidents import timeline
from app.incidents.models import Incident
from app.notifications.oncall import reach
from app.notifications.outbox import channels_for, insert_once, outbox_row


def _longest_notice() -> dt.timedelta:
    sets: dict[str, RuleSet] = playbooks().reporting_rules
    return max(parse_duration(s.remind.before) for s in sets.values())


def remind_due(now: dt.datetime, limit: int = 200) -> int:
    """Writes the reminders that fell due; returns how many deadlines were reminded about."""
    query = (select(Deadline, Incident).join(Incident, Incident.id == Deadline.incident_id)
             .where(Deadline.met_at.is_(None), Deadline.withdrawn_at.is_(None), Deadline.category != "internal",
                    or_(and_(Deadline.overdue_notified_at.is_(None), Deadline.due_at <= now),
                        and_(Deadline.approaching_notified_at.is_(None), Deadline.due_at <= now + _longest_notice())))
             .order_by(Deadline.due_at, Deadline.id).execution_options(populate_existing=True))
    query = due_batch(query, limit, of=Deadline)
    rows, events, reminded = db.session.execute(query).all(), [], 0
    reached: dict[int, object] = {}  # who hears, once per body per batch (as the escalation steps do)
    for deadline, incident in rows:
        rules, _options = rules_for(incident.organization.code)
        overdue = deadline.due_at <= now
        if not overdue and deadline.due_at - parse_duration(rules.remind.before) > now:
            continue
        if not _claim(deadline, overdue, now):
            continue
        reminded += 1
        event = OVERDUE if overdue else APPROACHING
        if incident.organization_id not in reached:
            reached[incident.organization_id] = reach(incident.organization_id, list(rules.remind.notify), now)
        result = reached[incident.organization_id]
        insert_once([outbox_row(incident, person, role, channel, event, now, None, deadline.round, deadline.id, 0,
                                deadline_id=deadline.id)
                     for person, role in result.people for channel in channels_for(person)])
        names = "、".join(p.name for p, _ in result.people) or "なし"
        what = "期限を過ぎました" if overdue else "期限が近づいています"
        events.append((incident, event, f"{what}: {deadline.label}（{format_display(deadline.due_at)}、"
                                        f"{time_left(deadline.due_at, now)}）→ {names} へ通知",
                       {"deadline": deadline.id, "kind": deadline.kind, "due_at": deadline.due_at,
                        "recipients": [p.email for p, _ in result.people], "notes": result.notes}))
    timeline.record_many(events)
    db.session.commit()
    return reminded


def _claim(deadline: Deadline, overdue: bool, now: dt.datetime) -> bool:
    """Stamps the reminder; an overdue one also stamps `approaching` so that is not sent late."""
    column = Deadline.overdue_notified_at if overdue else Deadline.approaching_notified_at
    values = {"overdue_notified_at": now, "approaching_notified_at": deadline.approaching_notified_at or now} \
        if overdue else {"approaching_notified_at": now}
    return db.session.execute(
        update(Deadline).where(Deadline.id == deadline.id, Deadline.round == deadline.round, column.is_(None),
                               Deadline.met_at.is_(None), Deadline.withdrawn_at.is_(None))
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount == 1
