"""Reports for triage (API.md: POST/GET /api/v1/reports): SOC/SIEM forwarders and the queue."""
from flask import jsonify

from app.api import bp
from app.api.errors import ApiError, api_user, parse_json, parse_query
from app.core.permissions import Permission
from app.incidents.access import can, organization_for_input, overseen_organization, overseen_organizations
from app.intake import services
from app.intake.schemas import ReportCreate, ReportQuery


@bp.post("/reports")
def create_report():
    user = api_user()
    data = parse_json(ReportCreate)
    org = organization_for_input(user, data.organization)
    if not can(user, Permission.INCIDENT_CREATE, org.id):
        raise ApiError(403, "forbidden", "your role may not file reports in this organization")
    outcome = services.submit(services.Submission(
        organization=org, channel="api", source=data.source, title=data.title, body=data.body,
        occurred_at=data.occurred_at, sender=user.email, dedup_key=data.dedup_key))
    return jsonify(services.report_json(outcome.report, outcome.incident) | {"added": not outcome.created}), \
        201 if outcome.created else 200


@bp.get("/reports")
def list_reports():
    user = api_user()
    query = parse_query(ReportQuery)
    organizations = [overseen_organization(user, query.organization)] if query.organization is not None \
        else overseen_organizations(user)
    items, total = services.queue([o.id for o in organizations], query.state, query.page, query.per_page)
    return jsonify({"items": [services.report_json(r) for r in items], "total": total,
                    "page": query.page, "per_page": query.per_page})
