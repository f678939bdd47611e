"""Who works an incident: its owner (主担当) and members (担当メンバー), chosen among the people of
its body who may work incidents (not an auditor or a reporter, nobody of another body). Each
change is on the timeline and announced (`assigned`) so that the people made owner or member hear
of it."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from app.auth.models import User
from app.core.db import db
from app.core.errors import ValidationFailed
from app.incidents import events, timeline
from app.incidents.models import Incident, IncidentMember
from app.incidents.tasks import workers_of

OWNER, MEMBER = "owner", "member"
NOT_A_WORKER = "この団体でインシデント対応を行える担当者ではありません（監査担当・職員・他団体の方は指定できません）。"


def people_of(incident: Incident) -> tuple[User | None, list[User]]:
    """(owner, members by name), in one query."""
    rows = db.session.execute(select(User, IncidentMember.role).join(IncidentMember, IncidentMember.user_id == User.id)
                              .where(IncidentMember.incident_id == incident.id).order_by(User.name, User.id)).all()
    return next((u for u, role in rows if role == OWNER), None), [u for u, role in rows if role == MEMBER]


def _resolve(organization_id: int, emails: list[str], field: str) -> list[User]:
    wanted = {e.strip().lower() for e in emails}
    found = {u.email.lower(): u for u in db.session.scalars(
        workers_of(organization_id).where(func.lower(User.email).in_(wanted)).distinct())} if wanted else {}
    missing = sorted(wanted - found.keys())
    if missing:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {field: _(NOT_A_WORKER) + f" ({', '.join(missing)})"})
    return [found[e] for e in sorted(wanted)]


def resolve_people(organization_id: int, owner: str | None, members: list[str] | None,
                   sent: set[str]) -> tuple[list[User] | None, list[User] | None]:
    """The people sent (None for a field not sent): 422 naming `owner` / `members` before anything
    is written, so the services call it before they change the incident."""
    return (_resolve(organization_id, [owner] if owner else [], "owner") if "owner" in sent else None,
            _resolve(organization_id, members or [], "members") if "members" in sent else None)


def _replace(incident: Incident, role: str, people: list[User]) -> None:
    db.session.execute(delete(IncidentMember).where(IncidentMember.incident_id == incident.id,
                                                    IncidentMember.role == role))
    db.session.flush()
    db.session.add_all(IncidentMember(incident_id=incident.id, user_id=u.id, role=role) for u in people)


def assign_people(actor: User, incident: Incident, owner: list[User] | None, members: list[User] | None) -> list[str]:
    """Sets what resolve_people found (`owner`: [] to clear; `members`: the whole list; None: not
    sent). A person is owner or member, not both: the owner is left out of the members. Answers
    the fields that changed."""
    changed, told, entry = [], [], None
    before, current_members = people_of(incident)
    if owner is not None:
        person = owner[0] if owner else None
        if (before.id if before else None) != (person.id if person else None):
            if person is not None:
                db.session.execute(delete(IncidentMember).where(IncidentMember.incident_id == incident.id,
                                                                IncidentMember.user_id == person.id))
                current_members = [u for u in current_members if u.id != person.id]
            _replace(incident, OWNER, [person] if person else [])
            entry = timeline.record(incident, actor, "owner_changed",
                                    f"主担当: {person.name if person else '（なし）'}（変更前: {before.name if before else 'なし'}）",
                                    {"owner": person.email if person else None, "before": before.email if before else None})
            changed.append("owner")
            if person is not None:
                told.append((person, OWNER))
        before = person
    if members is not None:
        people = [u for u in members if not before or u.id != before.id]
        current = {u.id: u for u in current_members}
        wanted = {u.id: u for u in people}
        if current.keys() != wanted.keys():
            _replace(incident, MEMBER, people)
            added = [wanted[uid] for uid in wanted.keys() - current.keys()]
            entry = timeline.record(incident, actor, "members_changed",
                                    f"担当メンバー: {'、'.join(u.name for u in people) or '（なし）'}",
                                    {"members": sorted(u.email for u in people), "added": sorted(u.email for u in added),
                                     "removed": sorted(current[uid].email for uid in current.keys() - wanted.keys())})
            changed.append("members")
            told += [(u, MEMBER) for u in added]
    if changed:
        db.session.flush()
    if told:
        events.announce(events.assigned, incident, actor=actor, people=told, cause=entry.id)
    return changed
