"""The risk register (見直し): /api/v1/risks/{org}, its assessments, findings, changes of circumstance
and near misses. Thin: the rules are in app/risks/services.py, shared with the pages."""
from __future__ import annotations

from flask import jsonify

from app.api import bp
from app.api.errors import api_user, parse_json, parse_query
from app.core.playbooks import playbooks
from app.core.timeutil import now_utc
from app.organizations.services import get_profile
from app.reviews.periods import Period, period_of
from app.reviews.report import register_window
from app.risks import schemas, serializers, services
from app.risks.register import build_register


def _answer(model: schemas.Answer, status: int = 200):
    return jsonify(model.model_dump(mode="json")), status


def current_register(organization):
    """The register as it stands, with the current fiscal year's inputs beside it."""
    return build_register([organization], register_window(Period(period_of(now_utc()).fiscal_year)))


@bp.get("/risks/<org>")
def show_register(org: str):
    return _answer(current_register(services.readable_organization(api_user(), org)))


@bp.post("/risks/<org>/assessments")
def create_assessment(org: str):
    data = parse_json(schemas.RiskAssessmentInput)
    item = services.assess(api_user(), org, data)
    return _answer(serializers.assessment(item, org, get_profile(org), playbooks().risk.scale_for(org)), 201)


def _finding(item, org: str) -> schemas.RegisterFinding:
    return serializers.finding(item, org, get_profile(org), playbooks().risk, services.today())


@bp.get("/risks/<org>/findings")
def list_findings(org: str):
    query = parse_query(schemas.RiskListQuery)
    items, total = services.findings_page(services.readable_organization(api_user(), org), query.page, query.per_page)
    return _answer(schemas.RegisterFindingPage(items=[_finding(f, org) for f in items], total=total, page=query.page,
                                       per_page=query.per_page))


@bp.post("/risks/<org>/findings")
def create_finding(org: str):
    data = parse_json(schemas.RiskFindingInput)
    return _answer(_finding(services.add_finding(api_user(), org, data), org), 201)


@bp.post("/risks/<org>/findings/<int:finding_id>/resolve")
def resolve_finding(org: str, finding_id: int):
    data = parse_json(schemas.RiskFindingResolution)
    return _answer(_finding(services.resolve_finding(api_user(), org, finding_id, data), org))


@bp.get("/risks/<org>/circumstances")
def list_circumstances(org: str):
    query = parse_query(schemas.RiskListQuery)
    items, total = services.circumstances_page(services.readable_organization(api_user(), org), query.page, query.per_page)
    rules = playbooks().risk
    return _answer(schemas.RegisterCircumstancePage(items=[serializers.circumstance(c, org, rules) for c in items], total=total,
                                            page=query.page, per_page=query.per_page))


@bp.post("/risks/<org>/circumstances")
def create_circumstance(org: str):
    data = parse_json(schemas.RiskCircumstanceInput)
    return _answer(serializers.circumstance(services.add_circumstance(api_user(), org, data), org, playbooks().risk), 201)


@bp.get("/risks/<org>/near-misses")
def list_near_misses(org: str):
    query = parse_query(schemas.RiskListQuery)
    items, total = services.near_misses_page(services.readable_organization(api_user(), org), query.page, query.per_page)
    return _answer(schemas.RegisterNearMissPage(items=[serializers.near_miss(n, org) for n in items], total=total,
                                        page=query.page, per_page=query.per_page))


@bp.post("/risks/<org>/near-misses")
def keep_near_miss(org: str):
    data = parse_json(schemas.RiskNearMissInput)
    item, created = services.keep_near_miss(api_user(), org, data)
    return _answer(serializers.near_miss(item, org), 201 if created else 200)
