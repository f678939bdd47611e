"""`roster import`: the 関係者の連絡先 part of the 緊急時対応計画 (API.md, "Roster file").

One bad entry imports nothing and names the entry. Importing the same file twice changes
nothing. People missing from a new import of the same organization lose their roles there
(deactivated, never deleted).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, EmailStr, Field
from sqlalchemy import select
from werkzeug.security import check_password_hash

from app.auth.models import Membership, User
from app.auth.services import MIN_PASSWORD_LENGTH, deactivated, hash_password, revoke_sessions
from app.core.db import db
from app.core.permissions import Permission, Role, permissions_for
from app.core.schemas import StrictInput
from app.core.yamlfile import YamlFileError, field_path, parse_yaml, read_text, validate_document
from app.escalation.plan import replace_plan
from app.escalation.policy import SEVERITIES, Level
from app.notifications.webhooks import WebhookRefused, check_url
from app.organizations.services import organization_by_code


class RosterError(Exception):
    pass


class PersonEntry(StrictInput):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=200)
    roles: list[Role] = Field(min_length=1)
    phone: str | None = Field(default=None, max_length=40)
    webhook: str | None = Field(default=None, pattern=r"^https?://", max_length=500)
    webhook_preset: Literal["generic", "teams", "slack", "lineworks"] = "generic"  # extension: the chat service behind the URL
    deputy_of: EmailStr | None = None
    available: bool = True


def _with_offset(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. +09:00")
    return value


OffsetDatetime = Annotated[dt.datetime, AfterValidator(_with_offset)]


class OnCallEntry(StrictInput):
    role: Role
    starts: OffsetDatetime
    members: list[EmailStr] = Field(min_length=1)


class OnCallOverrideEntry(StrictInput):
    """Extension: someone covers a role for a period, ahead of the rotation."""

    role: Role
    email: EmailStr
    starts: OffsetDatetime
    ends: OffsetDatetime


class RosterFile(StrictInput):
    organization: str
    people: list[PersonEntry] = Field(min_length=1)
    on_call: list[OnCallEntry] = []
    on_call_overrides: list[OnCallOverrideEntry] = []
    escalation: dict[Literal[SEVERITIES], list[Level]] = {}  # type: ignore[valid-type]


@dataclass
class ImportResult:
    organization: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    plan_changed: bool = False


def _entry_name(data: dict, loc: tuple) -> str:
    if len(loc) >= 2 and loc[0] == "people" and isinstance(loc[1], int):
        people = data.get("people") or []
        email = people[loc[1]].get("email") if loc[1] < len(people) and isinstance(people[loc[1]], dict) else None
        rest = ".".join(str(p) for p in loc[2:])
        return f"people[{loc[1]}]" + (f" ({email})" if email else "") + (f": {rest}" if rest else "")
    return field_path(loc)


def read_roster(path: Path, organization: str | None = None) -> RosterFile:
    try:
        text = read_text(path)
        data = _csv_to_data(text, organization) if path.suffix.lower() == ".csv" else parse_yaml(text, path.name)
    except YamlFileError as exc:
        raise RosterError(str(exc)) from exc
    roster = validate_document(RosterFile, data, path.name, RosterError, where=lambda loc: _entry_name(data, loc))
    _check_references(roster, path.name)
    return roster


def _csv_to_data(text: str, organization: str | None) -> dict:
    rows = list(csv.DictReader(io.StringIO(text)))
    people = []
    for row in rows:
        entry = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        org = entry.pop("organization", "") or organization
        if organization is None:
            organization = org
        roles = entry.get("roles", "")
        entry["roles"] = [r for r in re.split(r"[\s;|]+", roles) if r]
        if "available" in entry:
            entry["available"] = entry["available"].lower() not in ("false", "0", "no", "")
        people.append({k: v for k, v in entry.items() if v not in ("", None)})
    return {"organization": organization, "people": people}


def _check_references(roster: RosterFile, filename: str) -> None:
    emails = [p.email.lower() for p in roster.people]
    # a deputy and whoever is on call is paged to acknowledge: only a role that may acknowledge
    workers = {p.email.lower() for p in roster.people if Permission.INCIDENT_WORK in permissions_for({r.value for r in p.roles})}
    not_worker = "holds no role that may acknowledge incidents (not reporter or auditor)"
    for i, email in enumerate(emails):
        if emails.index(email) != i:
            raise RosterError(f"{filename}: people[{i}] ({email}): email: listed twice")
    for i, person in enumerate(roster.people):
        if person.deputy_of and person.deputy_of.lower() not in emails:
            raise RosterError(f"{filename}: people[{i}] ({person.email}): deputy_of: {person.deputy_of} is not in this file")
        if person.deputy_of and person.deputy_of.lower() == person.email.lower():
            raise RosterError(f"{filename}: people[{i}] ({person.email}): deputy_of: cannot be their own deputy")
        if person.deputy_of and person.email.lower() not in workers:
            raise RosterError(f"{filename}: people[{i}] ({person.email}): deputy_of: a deputy {not_worker}")
    for i, rotation in enumerate(roster.on_call):
        for member in rotation.members:
            if member.lower() not in emails:
                raise RosterError(f"{filename}: on_call[{i}]: members: {member} is not in this file")
            if member.lower() not in workers:
                raise RosterError(f"{filename}: on_call[{i}]: members: {member} {not_worker}")
    roles = [r.role for r in roster.on_call]
    for i, role in enumerate(roles):
        if roles.index(role) != i:
            raise RosterError(f"{filename}: on_call[{i}]: role: {role.value} has two rotations")
    for i, cover in enumerate(roster.on_call_overrides):
        if cover.email.lower() not in emails:
            raise RosterError(f"{filename}: on_call_overrides[{i}]: email: {cover.email} is not in this file")
        if cover.email.lower() not in workers:
            raise RosterError(f"{filename}: on_call_overrides[{i}]: email: {cover.email} {not_worker}")
        if cover.ends <= cover.starts:
            raise RosterError(f"{filename}: on_call_overrides[{i}]: ends: must be after starts")


def import_roster(roster: RosterFile) -> ImportResult:
    org = organization_by_code(roster.organization)
    if org is None:
        raise RosterError(f"organization: unknown organization '{roster.organization}'")
    for i, person in enumerate(roster.people):
        if person.webhook:
            try:
                check_url(person.webhook, org.code)
            except WebhookRefused as exc:
                raise RosterError(f"people[{i}] ({person.email}): webhook: {exc}") from None
    session = db.session
    result = ImportResult(organization=org.code)
    emails = [p.email.lower() for p in roster.people]
    users = {u.email: u for u in session.scalars(select(User).where(User.email.in_(emails)))}
    for person in roster.people:
        email = person.email.lower()
        user = users.get(email)
        is_new = user is None
        if is_new:
            user = User(email=email, name=person.name)
            session.add(user)
            users[email] = user
        changed = _apply_person(user, person)
        session.flush()
        changed |= _apply_roles(user, org.id, {r.value for r in person.roles})
        (result.created if is_new else result.updated if changed else result.unchanged).append(email)
    for person in roster.people:
        user = users[person.email.lower()]
        deputy_id = users[person.deputy_of.lower()].id if person.deputy_of else None
        if user.deputy_of_id != deputy_id:
            user.deputy_of_id = deputy_id
            if user.email in result.unchanged:
                result.unchanged.remove(user.email)
                result.updated.append(user.email)
    stale = session.scalars(
        select(Membership).join(User).where(
            Membership.organization_id == org.id, Membership.active.is_(True), User.email.not_in(emails)
        )
    )
    lost_roles = set()
    for membership in stale:
        membership.active = False
        lost_roles.add(membership.user)
        if membership.user.email not in result.deactivated:
            result.deactivated.append(membership.user.email)
    session.flush()
    for user in lost_roles:
        session.expire(user, ["memberships"])
        deactivated(user)
    session.flush()
    ids = {email: user.id for email, user in users.items()}
    result.plan_changed = replace_plan(org.id, roster, ids)
    return result


def _apply_person(user: User, person: PersonEntry) -> bool:
    changed = False
    for attr in ("name", "phone", "webhook", "webhook_preset", "available"):
        value = getattr(person, attr)
        if getattr(user, attr) != value:
            setattr(user, attr, value)
            changed = True
    if person.password and not (user.password_hash and check_password_hash(user.password_hash, person.password)):
        user.password_hash = hash_password(person.password)
        revoke_sessions(user)
        changed = True
    return changed


def _apply_roles(user: User, organization_id: int, roles: set[str]) -> bool:
    changed = False
    current = {m.role: m for m in db.session.scalars(
        select(Membership).where(Membership.user_id == user.id, Membership.organization_id == organization_id)
    )}
    dropped = False
    for role, membership in current.items():
        wanted = role in roles
        if membership.active != wanted:
            membership.active = wanted
            changed, dropped = True, dropped or not wanted
    for role in roles - current.keys():
        db.session.add(Membership(user_id=user.id, organization_id=organization_id, role=role, active=True))
        changed = True
    if changed:
        db.session.flush()
        db.session.expire(user, ["memberships"])
    if dropped:
        deactivated(user)
    return changed
