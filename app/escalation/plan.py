"""The roster's part of the 緊急時対応計画: rotations, overrides and escalation chains."""
from __future__ import annotations

from sqlalchemy import delete, select

from app.core.db import db
from app.escalation.models import RosterPolicy
from app.notifications.models import OnCallOverride, OnCallRotation


def replace_plan(organization_id: int, roster, user_ids: dict[str, int]) -> bool:
    """Makes the body's rotations, overrides and chains exactly those of the roster file.
    Returns whether anything changed (a second import of the same file changes nothing)."""
    session = db.session
    changed = False
    rotations = {r.role: r for r in session.scalars(select(OnCallRotation).where(OnCallRotation.organization_id == organization_id))}
    for entry in roster.on_call:
        members = [user_ids[m.lower()] for m in entry.members]
        row = rotations.pop(entry.role.value, None)
        if row is None:
            session.add(OnCallRotation(organization_id=organization_id, role=entry.role.value, starts_at=entry.starts,
                                       period_days=7, member_ids=members))
            changed = True
        elif row.starts_at != entry.starts or row.member_ids != members:
            row.starts_at, row.member_ids = entry.starts, members
            changed = True
    for row in rotations.values():
        session.delete(row)
        changed = True

    wanted = sorted((c.role.value, user_ids[c.email.lower()], c.starts, c.ends) for c in roster.on_call_overrides)
    current = sorted((o.role, o.user_id, o.starts_at, o.ends_at) for o in session.scalars(
        select(OnCallOverride).where(OnCallOverride.organization_id == organization_id)))
    if wanted != current:
        session.execute(delete(OnCallOverride).where(OnCallOverride.organization_id == organization_id))
        session.add_all(OnCallOverride(organization_id=organization_id, role=role, user_id=uid, starts_at=s, ends_at=e)
                        for role, uid, s, e in wanted)
        changed = True

    policies = {p.severity: p for p in session.scalars(select(RosterPolicy).where(RosterPolicy.organization_id == organization_id))}
    for severity, levels in roster.escalation.items():
        data = [level.model_dump(mode="json", exclude_none=True) for level in levels]
        row = policies.pop(severity, None)
        if row is None:
            session.add(RosterPolicy(organization_id=organization_id, severity=severity, levels=data))
            changed = True
        elif row.levels != data:
            row.levels = data
            changed = True
    for row in policies.values():
        session.delete(row)
        changed = True
    session.flush()
    return changed
