"""Profiles in memory, organization rows in the database, kept in step by `init`."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.core.db import db
from app.core.errors import NotFound
from app.core.playbooks import playbooks
from app.organizations.models import Organization
from app.organizations.profiles import Profile


def profiles() -> dict[str, Profile]:
    return playbooks().profiles


def get_profile(code: str) -> Profile:
    try:
        return profiles()[code]
    except KeyError:
        raise NotFound("organization not found") from None


def sync_organizations() -> list[Organization]:
    """Creates or updates one row per profile (parents first). Idempotent."""
    session = db.session
    existing = {org.code: org for org in session.scalars(select(Organization))}
    ordered = sorted(profiles().values(), key=lambda p: (p.parent is not None, p.code))
    for profile in ordered:
        org = existing.get(profile.code) or Organization(code=profile.code)
        org.name = profile.name
        org.kind = profile.kind
        org.reference_prefix = profile.reference_prefix
        org.parent_id = existing[profile.parent].id if profile.parent else None
        if org.id is None:
            session.add(org)
            session.flush()
        existing[profile.code] = org
    return list(existing.values())


def organizations_by_ids(ids) -> list[Organization]:
    if not ids:
        return []
    return list(db.session.scalars(select(Organization).where(Organization.id.in_(ids)).order_by(Organization.code)))


def organization_by_code(code: str) -> Organization | None:
    return db.session.scalar(select(Organization).where(Organization.code == code))


def organization_id_for(code: str) -> int | None:
    """Organization ids never change once created, so the code → id map is cached per process;
    a code not yet seen (a body added by a later `init`) is looked up again."""
    cache: dict[str, int] = current_app.extensions.setdefault("organization_ids", {})
    if code not in cache:
        org_id = db.session.scalar(select(Organization.id).where(Organization.code == code))
        if org_id is None:
            return None
        cache[code] = org_id
    return cache[code]


def organization_summary(org: Organization) -> dict:
    """The API's view of an organization (API.md: GET /api/v1/organizations)."""
    profile = get_profile(org.code)
    return {
        "code": org.code,
        "name": profile.name,
        "name_en": profile.name_en,
        "kind": profile.kind,
        "parent": profile.parent,
        "emergency_plan_owner": profile.emergency_plan.owner,
        "threat_categories": [
            {
                "code": c.code,
                "label": c.label,
                "label_en": c.label_en,
                "subcategories": [{"code": s.code, "label": s.label} for s in c.subcategories],
            }
            for c in profile.threat_categories
        ],
        "network_segments": [{"code": s.code, "label": s.label} for s in profile.network_segments or ()],
        "asset_classification": [
            {"code": a.code, "label": a.label, "levels": [lv.code for lv in a.levels]}
            for a in profile.asset_classification.axes
        ],
        "policy_clauses": [{"code": c.code, "label": c.label} for c in profile.policy_clauses],
    }
