"""Keeping the register: assessing a row (a new version that supersedes the current one), findings
of 監査 and 自己点検, changes of circumstance, near misses. Pages and the API call these; they check
the body (another body's is 404), the input against the body's profile (422), the role (403) and
conflicts (409), in that order, and flush, never commit."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from app.audit import services as audit
from app.auth.models import User
from app.core.db import db
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.permissions import Permission
from app.core.playbooks import playbooks
from app.core.timeutil import now_utc, to_display
from app.incidents.access import can
from app.intake.models import Report, ReportState
from app.organizations.models import Organization
from app.organizations.profiles import Profile
from app.organizations.services import get_profile, organization_by_code
from app.risks.models import CircumstanceChange, Finding, NearMiss, RiskAssessment
from app.risks.rows import category_errors, row_errors, segment_choices
from app.risks.schemas import (
    RiskAssessmentInput,
    RiskCircumstanceInput,
    RiskFindingInput,
    RiskFindingResolution,
    RiskNearMissInput,
)


def member_organization(user: User, code: str) -> Organization:
    """The user's body of that code: 404 for any other (whether it exists or not)."""
    organization = organization_by_code(code)
    if organization is None or organization.id not in user.organization_ids():
        raise NotFound(_("団体が見つかりません。"))
    return organization


def readable_organization(user: User, code: str) -> Organization:
    organization = member_organization(user, code)
    if not can(user, Permission.RISK_READ, organization.id):
        raise Forbidden(_("リスク登録簿を閲覧する権限がありません。"))
    return organization


def may_manage(user: User, organization: Organization) -> bool:
    return can(user, Permission.RISK_MANAGE, organization.id)


def _require_manage(user: User, organization: Organization) -> None:
    if not may_manage(user, organization):
        raise Forbidden(_("リスク登録簿を変更する権限がありません。"))


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailed(_("入力内容に誤りがあります。"), errors)


def today() -> dt.date:
    return to_display(now_utc()).date()


def current_assessment(organization_id: int, key: tuple[str, str, str, str], lock: bool = False) -> RiskAssessment | None:
    category, subcategory, asset_class, segment = key
    query = select(RiskAssessment).where(
        RiskAssessment.organization_id == organization_id, RiskAssessment.threat_category == category,
        RiskAssessment.subcategory == subcategory, RiskAssessment.asset_class == asset_class,
        RiskAssessment.segment == segment, RiskAssessment.superseded_at.is_(None))
    return db.session.scalar(query.with_for_update(of=RiskAssessment) if lock else query)


def assess(user: User, code: str, data: RiskAssessmentInput) -> RiskAssessment:
    """A new assessment of the row; the current one, if any, is kept as history. `supersedes` must
    name the current one (none for a new row): otherwise someone assessed the row meanwhile (409)."""
    organization = member_organization(user, code)
    _refuse(row_errors(get_profile(code), data.threat_category, data.subcategory, data.asset_class, data.segment))
    _require_manage(user, organization)
    key = (data.threat_category, data.subcategory or "", data.asset_class or "", data.segment or "")
    current = current_assessment(organization.id, key, lock=True)
    if (current.id if current else None) != data.supersedes:
        raise Conflict(_("この行は他の人が先に評価しました。最新の評価を確認してから、もう一度評価してください。"),
                       {"supersedes": _("現在の評価は %(id)s です。", id=current.id if current else "なし")})
    now = now_utc()
    if current is not None:
        current.superseded_at = now
        db.session.flush()  # before the new row: one current assessment per row (the partial unique index)
    assessment = RiskAssessment(
        organization_id=organization.id, threat_category=key[0], subcategory=key[1], asset_class=key[2], segment=key[3],
        likelihood=data.likelihood, loss=data.loss, reason=data.reason, version=current.version + 1 if current else 1,
        assessed_by_id=user.id, assessed_at=now, supersedes_id=current.id if current else None)
    db.session.add(assessment)
    try:
        db.session.flush()
    except IntegrityError:  # a first assessment of the row by someone else, committed meanwhile
        raise Conflict(_("この行は他の人が先に評価しました。最新の評価を確認してから、もう一度評価してください。")) from None
    audit.append(user, "risk.assessed", "risk_assessment", assessment.id, code,
                 {"row": list(key), "likelihood": data.likelihood, "loss": data.loss, "version": assessment.version,
                  "supersedes": assessment.supersedes_id})
    return assessment


def _finding_errors(profile: Profile, data: RiskFindingInput) -> dict[str, str]:
    errors = {}
    if data.source == "audit" and not profile.review.audit:
        errors["source"] = _("%(org)sの基本方針には監査の定めがありません。自己点検の指摘として記録してください。",
                             org=profile.name)
    if data.source == "self_inspection" and not profile.review.self_inspection:
        errors["source"] = _("%(org)sの基本方針には自己点検の定めがありません。", org=profile.name)
    if data.clause not in profile.clause_codes():
        errors["clause"] = _("%(org)sの基本方針の条項から選んでください。", org=profile.name)
    if data.rating not in {r.code for r in playbooks().risk.finding_ratings}:
        errors["rating"] = _("選択肢から選んでください。")
    if data.found_on > today():
        errors["found_on"] = _("未来の日付は指定できません。")
    if data.due_on < data.found_on:
        errors["due_on"] = _("指摘の日より前にはできません。")
    if data.threat_category:
        errors |= category_errors(profile, data.threat_category, None)
    return errors


def add_finding(user: User, code: str, data: RiskFindingInput) -> Finding:
    organization = member_organization(user, code)
    _refuse(_finding_errors(get_profile(code), data))
    _require_manage(user, organization)
    finding = Finding(organization_id=organization.id, source=data.source, clause=data.clause, rating=data.rating,
                      text=data.text, threat_category=data.threat_category, found_on=data.found_on,
                      due_on=data.due_on, created_by_id=user.id)
    db.session.add(finding)
    db.session.flush()
    audit.append(user, "risk.finding_added", "risk_finding", finding.id, code,
                 {"source": data.source, "clause": data.clause, "rating": data.rating, "due_on": data.due_on.isoformat()})
    return finding


def get_finding(organization: Organization, finding_id: int) -> Finding:
    finding = db.session.get(Finding, finding_id) if 0 < finding_id < 2**31 else None
    if finding is None or finding.organization_id != organization.id:
        raise NotFound(_("指摘事項が見つかりません。"))
    return finding


def resolve_finding(user: User, code: str, finding_id: int, data: RiskFindingResolution) -> Finding:
    organization = member_organization(user, code)
    finding = get_finding(organization, finding_id)
    resolved_on = data.resolved_on
    if resolved_on > today():
        _refuse({"resolved_on": _("未来の日付は指定できません。")})
    if resolved_on < finding.found_on:
        _refuse({"resolved_on": _("指摘の日より前にはできません。")})
    _require_manage(user, organization)
    if finding.resolved_on is not None:
        raise Conflict(_("この指摘事項は対応済みです。"))
    finding.resolved_on = resolved_on
    db.session.flush()
    audit.append(user, "risk.finding_resolved", "risk_finding", finding.id, code, {"resolved_on": resolved_on.isoformat()})
    return finding


def add_circumstance(user: User, code: str, data: RiskCircumstanceInput) -> CircumstanceChange:
    organization = member_organization(user, code)
    profile = get_profile(code)
    errors = category_errors(profile, data.threat_category, None) if data.threat_category else {}
    if data.kind not in {k.code for k in playbooks().risk.circumstance_kinds}:
        errors["kind"] = _("選択肢から選んでください。")
    _refuse(errors)
    _require_manage(user, organization)
    change = CircumstanceChange(organization_id=organization.id, noted_on=data.noted_on, kind=data.kind, text=data.text,
                                threat_category=data.threat_category, created_by_id=user.id)
    db.session.add(change)
    db.session.flush()
    audit.append(user, "risk.circumstance_noted", "risk_circumstance", change.id, code,
                 {"kind": data.kind, "noted_on": data.noted_on.isoformat()})
    return change


def keep_near_miss(user: User, code: str, data: RiskNearMissInput) -> tuple[NearMiss, bool]:
    """Keeps a report of the body closed as 非該当 as a near miss (again: changes its threat).
    Answers the near miss and whether it is new."""
    organization = member_organization(user, code)
    profile = get_profile(code)
    errors = category_errors(profile, data.threat_category, data.subcategory)
    if data.segment and data.segment not in segment_choices(profile):
        errors["segment"] = _("%(org)sのネットワーク区分にない値です。", org=profile.name)
    report = db.session.scalar(select(Report).where(Report.id == data.report, Report.organization_id == organization.id))
    if report is None:
        errors["report"] = _("この団体の報告ではありません。")
    _refuse(errors)
    _require_manage(user, organization)
    if report.state != ReportState.DISMISSED.value:
        raise Conflict(_("非該当として閉じた報告だけをヒヤリハットとして記録できます。"))
    near_miss = db.session.scalar(select(NearMiss).where(NearMiss.report_id == report.id))
    created = near_miss is None
    if created:
        near_miss = NearMiss(organization_id=organization.id, report_id=report.id,
                             occurred_at=report.occurred_at or report.received_at)
        db.session.add(near_miss)
    near_miss.threat_category, near_miss.subcategory, near_miss.segment = \
        data.threat_category, data.subcategory, data.segment
    near_miss.note, near_miss.marked_by_id, near_miss.marked_at = data.note.strip(), user.id, now_utc()
    try:
        db.session.flush()
    except IntegrityError:  # the same report kept by someone else at the same moment
        raise Conflict(_("この報告は他の人が先にヒヤリハットとして記録しました。")) from None
    audit.append(user, "risk.near_miss_kept", "report", report.id, code,
                 {"receipt": report.receipt, "threat_category": data.threat_category, "new": created})
    return near_miss, created


def _page(query, order, page: int, per_page: int) -> tuple[list, int]:
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(*order).limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total


def findings_page(organization: Organization, page: int, per_page: int) -> tuple[list[Finding], int]:
    """Open ones first (soonest due), then the resolved, newest first."""
    query = select(Finding).where(Finding.organization_id == organization.id)
    return _page(query, (Finding.resolved_on.is_not(None), Finding.due_on, Finding.id.desc()), page, per_page)


def circumstances_page(organization: Organization, page: int, per_page: int) -> tuple[list[CircumstanceChange], int]:
    query = select(CircumstanceChange).where(CircumstanceChange.organization_id == organization.id)
    return _page(query, (CircumstanceChange.noted_on.desc(), CircumstanceChange.id.desc()), page, per_page)


def near_misses_page(organization: Organization, page: int, per_page: int) -> tuple[list[NearMiss], int]:
    query = select(NearMiss).where(NearMiss.organization_id == organization.id)
    return _page(query, (NearMiss.occurred_at.desc(), NearMiss.id.desc()), page, per_page)


def dismissed_reports(organization: Organization, limit: int = 20) -> list[Report]:
    """The body's latest reports closed as 非該当 not kept as near misses: what the page offers to keep."""
    kept = exists().where(NearMiss.report_id == Report.id)
    return list(db.session.scalars(
        select(Report).where(Report.organization_id == organization.id, Report.state == ReportState.DISMISSED.value, ~kept)
        .order_by(Report.decided_at.desc(), Report.id.desc()).limit(limit)))

