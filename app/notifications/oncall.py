"""Who is reached: role holders, on-call rotations with overrides, availability and deputies."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select

from app.auth.models import Membership, User
from app.core.db import db
from app.core.playbooks import playbooks
from app.notifications.models import OnCallOverride, OnCallRotation

TOKYO = ZoneInfo("Asia/Tokyo")
_HOLIDAYS = holidays.Japan()


def is_office_hours(at: dt.datetime) -> bool:
    """Weekday office hours in Asia/Tokyo; Japanese public holidays are off-hours."""
    spec = playbooks().escalation.office_hours
    local = at.astimezone(TOKYO)
    if local.weekday() not in spec.weekdays or local.date() in _HOLIDAYS:
        return False
    return spec.start <= local.strftime("%H:%M") < spec.end


def role_holders(organization_id: int, role: str) -> list[User]:
    return list(db.session.scalars(
        select(User).join(Membership).where(Membership.organization_id == organization_id, Membership.role == role,
                                            Membership.active.is_(True)).order_by(User.id)
    ))


def on_call(organization_id: int, role: str, at: dt.datetime) -> list[User] | None:
    """The person on call for a role at `at`: an override covering `at`, else the rotation's
    member of that week. None when the body has no rotation or override for the role."""
    override = db.session.scalar(
        select(OnCallOverride).where(OnCallOverride.organization_id == organization_id, OnCallOverride.role == role,
                                     OnCallOverride.starts_at <= at, OnCallOverride.ends_at > at)
        .order_by(OnCallOverride.starts_at.desc()).limit(1)
    )
    if override is not None:
        return [db.session.get(User, override.user_id)]
    rotation = db.session.scalar(select(OnCallRotation).where(OnCallRotation.organization_id == organization_id,
                                                              OnCallRotation.role == role))
    if rotation is None or not rotation.member_ids or at < rotation.starts_at:
        return None
    periods = (at - rotation.starts_at) // dt.timedelta(days=rotation.period_days)
    return [db.session.get(User, rotation.member_ids[periods % len(rotation.member_ids)])]


@dataclass
class Reach:
    """Who a step reaches, and why some were not reached (for the timeline)."""

    people: list[tuple[User, str]] = field(default_factory=list)  # (person, role or "deputy of …")
    notes: list[str] = field(default_factory=list)


def named_deputies(organization_id: int, person_ids: list[int]) -> dict[int, list[User]]:
    """The deputies the roster names for each person, among those active in the body, available or
    not: the printed 緊急時連絡体制 lists them all; a step reaches the available ones."""
    deputies = db.session.scalars(select(User).where(
        User.deputy_of_id.in_(person_ids),
        User.memberships.any((Membership.organization_id == organization_id) & Membership.active.is_(True)),
    ).order_by(User.id))
    named: dict[int, list[User]] = {}
    for deputy in deputies:
        named.setdefault(deputy.deputy_of_id, []).append(deputy)
    return named


def deputies_of(user: User, organization_id: int) -> list[User]:
    return [d for d in named_deputies(organization_id, [user.id]).get(user.id, []) if d.available]


def reach(organization_id: int, targets: list[str], at: dt.datetime) -> Reach:
    result, seen = Reach(), set()
    for target in targets:
        role = target.split(":", 1)[1] if target.startswith("oncall:") else target
        people = (on_call(organization_id, role, at) if target.startswith("oncall:") else None) or \
            role_holders(organization_id, role)
        if not people:
            result.notes.append(f"{role}: 該当者がいません")
        for person in people:
            if person.available:
                if person.id not in seen:
                    seen.add(person.id)
                    result.people.append((person, role))
                continue
            deputies = deputies_of(person, organization_id)
            if not deputies:
                result.notes.append(f"{person.name}（{role}）は不在で、代理者がいません")
            for deputy in deputies:
                result.notes.append(f"{person.name}（{role}）は不在のため代理者 {deputy.name} へ")
                if deputy.id not in seen:
                    seen.add(deputy.id)
                    result.people.append((deputy, f"{role} (deputy)"))
    return result
