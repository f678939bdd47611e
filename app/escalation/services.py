"""Starting, restarting and acknowledging escalations (called by the incident services)."""
from __future__ import annotations

import datetime as dt

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from app.auth.models import User
from app.core.db import db
from app.core.errors import Forbidden
from app.core.permissions import ROLE_LABELS, Permission, Role
from app.core.timeutil import now_utc
from app.escalation.models import Escalation, EscalationState
from app.escalation.policy import expand, following_step, levels_for
from app.incidents import events, timeline
from app.incidents.access import can
from app.incidents.models import SEVERITY_LABELS, Incident
from app.notifications.models import Notification, NotificationStatus


def target_name(target: str) -> str:
    """「CSIRT要員」 or 「CSIRT要員（当番）」, in Japanese whatever the request's language: it is written to the record."""
    role = target.split(":", 1)[1] if target.startswith("oncall:") else target
    with force_locale("ja"):
        return str(ROLE_LABELS[Role(role)]) + ("（当番）" if target.startswith("oncall:") else "")


def severity_name(severity: str) -> str:
    with force_locale("ja"):
        return str(SEVERITY_LABELS[severity])


def current_escalation(incident: Incident) -> Escalation | None:
    return db.session.scalar(select(Escalation).where(Escalation.incident_id == incident.id)
                             .order_by(Escalation.cycle.desc()).limit(1))


def _cancel_pending(incident: Incident) -> int:
    return db.session.execute(
        update(Notification).where(Notification.incident_id == incident.id,
                                   Notification.status == NotificationStatus.PENDING.value,
                                   Notification.event == "escalation")
        .values(status=NotificationStatus.CANCELLED.value)
    ).rowcount


def start_escalation(incident: Incident, actor: User | None, reason: str) -> Escalation:
    """A new cycle with the policy of the incident's severity, snapshotted now. A running cycle
    is superseded and its unsent messages cancelled."""
    now = now_utc()
    previous = current_escalation(incident)
    if previous is not None and previous.state == EscalationState.ACTIVE.value:
        previous.state, previous.next_at = EscalationState.SUPERSEDED.value, None
        _cancel_pending(incident)
    elif previous is not None and previous.next_at is not None:  # acknowledged, informs to come: the new chain informs
        previous.next_at = None
    levels, source = levels_for(incident.organization_id, incident.severity)
    steps = expand(levels)
    cycle = previous.cycle + 1 if previous is not None else 1  # the latest is the highest cycle
    escalation = Escalation(incident_id=incident.id, cycle=cycle, severity=incident.severity, policy=steps,
                            started_at=now, next_step=0, updated_at=now,
                            next_at=now + dt.timedelta(seconds=steps[0]["offset_s"]) if steps else None,
                            state=EscalationState.ACTIVE.value if steps else EscalationState.EXHAUSTED.value)
    db.session.add(escalation)
    db.session.flush()
    chain = " → ".join(f"{s['level']}: {'、'.join(target_name(t) for t in s['notify'])}（{s['offset_s'] // 60}分後）"
                       for s in steps if s["repeat"] == 0)
    timeline.record(incident, actor, "escalation_started",
                    f"エスカレーション開始（{reason}、重大度 {severity_name(incident.severity)}、"
                    f"{'名簿' if source == 'roster' else '標準'}の連絡体制）: {chain}",
                    {"cycle": cycle, "severity": incident.severity, "source": source, "steps": steps})
    return escalation


def acknowledge(user: User, incident: Incident, via: str) -> bool:
    """Stops the escalation. Returns False when it was already acknowledged (nothing changes)."""
    if not can(user, Permission.INCIDENT_WORK, incident.organization_id):
        raise Forbidden(_("受領を登録する権限がありません。"))
    escalation = current_escalation(incident)
    now = now_utc()
    first = incident.acknowledged_at is None
    stopped = escalation is not None and escalation.state == EscalationState.ACTIVE.value
    if not first and not stopped:
        return False
    if first:
        incident.acknowledged_at, incident.acknowledged_by_id = now, user.id
    if escalation is not None and escalation.acknowledged_at is None:
        escalation.acknowledged_at, escalation.acknowledged_by_id = now, user.id
        if stopped:
            _stop(escalation)
    cancelled = _cancel_pending(incident)
    db.session.flush()
    changes = events.deadline_changes(incident) if first else []
    timeline.record(incident, user, "acknowledged", f"{user.name} が受領（確認）しました（{via}）{events.describe(changes)}",
                    {"via": via, "cycle": escalation.cycle if escalation else None, "cancelled": cancelled}
                    | ({"deadlines": changes} if changes else {}))
    return True


def _stop(escalation: Escalation) -> None:
    """Acknowledged: no more pages; the inform levels still to come still fire, at their time."""
    following = following_step(escalation.policy, escalation.next_step - 1, acknowledged=True)
    escalation.state, escalation.next_step = EscalationState.ACKNOWLEDGED.value, following
    escalation.next_at = escalation.started_at + dt.timedelta(seconds=escalation.policy[following]["offset_s"]) \
        if following < len(escalation.policy) else None


def escalation_summary(incident: Incident) -> dict | None:
    escalation = current_escalation(incident)
    if escalation is None:
        return None
    steps = escalation.policy
    level = steps[escalation.next_step - 1]["level"] if escalation.next_step else 0
    return {"level": level, "next_at": escalation.next_at, "state": escalation.state, "cycle": escalation.cycle,
            "levels": max((s["level"] for s in steps), default=0)}
