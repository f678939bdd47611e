"""The register's rows and inputs as their answers (app/risks/schemas.py)."""
from __future__ import annotations

import datetime as dt

from app.core.timeutil import iso_utc
from app.organizations.profiles import Profile
from app.risks import schemas
from app.risks.models import CircumstanceChange, Finding, NearMiss, RiskAssessment
from app.risks.rows import row_label
from app.risks.rules import RiskRules, Scale

SOURCE_LABELS = {"audit": "監査", "self_inspection": "自己点検"}


def _or_none(value: str) -> str | None:
    return value or None


def assessment(item: RiskAssessment, code: str, profile: Profile, scale: Scale) -> schemas.RegisterAssessment:
    return schemas.RegisterAssessment(
        id=item.id, organization=code, threat_category=item.threat_category, subcategory=_or_none(item.subcategory),
        asset_class=_or_none(item.asset_class), segment=_or_none(item.segment), label=row_label(profile, item.key),
        likelihood=item.likelihood, loss=item.loss, score=item.score,
        likelihood_label=scale.likelihood_label(item.likelihood), loss_label=scale.loss_label(item.loss),
        reason=item.reason, version=item.version, assessed_by=item.assessed_by.name if item.assessed_by else None,
        assessed_at=iso_utc(item.assessed_at), supersedes=item.supersedes_id, superseded_at=iso_utc(item.superseded_at))


def clause_label(profile: Profile, code: str) -> str:
    clause = next((c for c in profile.policy_clauses if c.code == code), None)
    return f"{clause.clause or clause.code} {clause.label}" if clause else code


def is_overdue(item: Finding, day: dt.date) -> bool:
    """Due before `day` and still open on it."""
    return item.due_on < day and (item.resolved_on is None or item.resolved_on > day)


def finding(item: Finding, code: str, profile: Profile, rules: RiskRules, day: dt.date) -> schemas.RegisterFinding:
    return schemas.RegisterFinding(
        id=item.id, organization=code, source=item.source, clause=item.clause, clause_label=clause_label(profile, item.clause),
        rating=item.rating, rating_label=rules.rating_label(item.rating), text=item.text,
        threat_category=item.threat_category, found_on=item.found_on.isoformat(), due_on=item.due_on.isoformat(),
        resolved_on=item.resolved_on.isoformat() if item.resolved_on else None, overdue=is_overdue(item, day))


def circumstance(item: CircumstanceChange, code: str, rules: RiskRules) -> schemas.RegisterCircumstance:
    return schemas.RegisterCircumstance(id=item.id, organization=code, noted_on=item.noted_on.isoformat(), kind=item.kind,
                                kind_label=rules.kind_label(item.kind), text=item.text,
                                threat_category=item.threat_category)


def near_miss(item: NearMiss, code: str) -> schemas.RegisterNearMiss:
    return schemas.RegisterNearMiss(id=item.id, organization=code, report=item.report_id, receipt=item.report.receipt,
                            title=item.report.title, threat_category=item.threat_category, subcategory=item.subcategory,
                            segment=item.segment, note=item.note, occurred_at=iso_utc(item.occurred_at))


def scale(value: Scale) -> schemas.RegisterScale:
    return schemas.RegisterScale(
        likelihood=[schemas.RegisterScaleLevel(value=lv.value, label=lv.label, description=lv.description) for lv in value.likelihood],
        loss=[schemas.RegisterScaleLevel(value=lv.value, label=lv.label, description=lv.description) for lv in value.loss])
