"""Who may see and do what with incidents: one place for pages and the API."""
from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import and_, false, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.auth.models import User
from app.core.db import db
from app.core.errors import Forbidden, NotFound, ValidationFailed
from app.core.permissions import FIELD_PERMISSIONS, OPERATION_PERMISSIONS, Permission, permissions_for
from app.incidents.models import Incident
from app.organizations.models import Organization
from app.organizations.services import organization_by_code, organizations_by_ids


def can(user: User, permission: Permission, organization_id: int) -> bool:
    return permission in permissions_for(user.roles_in(organization_id))


def authorize(user: User, organization_id: int, operation: str, sent: Iterable[str], refusal) -> None:
    """The operation's permission (403 with `refusal`, a lazy_gettext message), then each sent
    field's (app/core/permissions.py FIELD_PERMISSIONS: 403 naming the fields)."""
    if not can(user, OPERATION_PERMISSIONS[operation], organization_id):
        raise Forbidden(str(refusal))
    rules = FIELD_PERMISSIONS[operation]
    denied = sorted(name for name in set(sent) if name in rules and not can(user, rules[name], organization_id))
    if denied:
        raise Forbidden(_("あなたの役割では設定できない項目があります。"),
                        {name: _("この項目を設定する権限がありません。") for name in denied})


def readable_organizations(user: User) -> tuple[list[int], list[int]]:
    """The ids of the user's bodies whose every incident they may read, and of those where they
    read only the incidents they reported."""
    full, own = [], []
    for org_id in user.organization_ids():
        (full if can(user, Permission.INCIDENT_READ_ALL, org_id) else own).append(org_id)
    return full, own


def visibility_clause(user: User, readable: tuple[list[int], list[int]] | None = None) -> ColumnElement[bool]:
    """Incidents the user may read: all of a body where their role reads all, else their own
    (`readable`: readable_organizations(user), when the caller has it already)."""
    full, own = readable or readable_organizations(user)
    clauses = []
    if full:
        clauses.append(Incident.organization_id.in_(full))
    if own:
        clauses.append(and_(Incident.organization_id.in_(own), Incident.reporter_id == user.id))
    return or_(*clauses) if clauses else false()


def get_incident(user: User, incident_id: int) -> Incident:
    if not 0 < incident_id < 2**31:
        raise NotFound(_("インシデントが見つかりません。"))
    incident = db.session.scalar(select(Incident).where(Incident.id == incident_id, visibility_clause(user)))
    if incident is None:
        raise NotFound(_("インシデントが見つかりません。"))
    return incident


def overseen_organizations(user: User) -> list[Organization]:
    """The bodies whose every incident the user may read: what reviews and contact sheets cover."""
    return [o for o in organizations_by_ids(user.organization_ids()) if can(user, Permission.INCIDENT_READ_ALL, o.id)]


def overseen_organization(user: User, code: str) -> Organization:
    """One such body: 404 when it is not the user's, 403 when their role there reads only their own."""
    organization = organization_by_code(code)
    if organization is None or organization.id not in user.organization_ids():
        raise NotFound(_("団体が見つかりません。"))
    if not can(user, Permission.INCIDENT_READ_ALL, organization.id):
        raise Forbidden(_("この団体の全体を閲覧する権限がありません。"))
    return organization


def organization_for_input(user: User, code: str) -> Organization:
    org = organization_by_code(code)
    if org is None or org.id not in user.organization_ids():
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"organization": _("所属していない団体です。")})
    return org
