"""Reports for triage (API.md: /api/v1/reports): SOC/SIEM forwarders, the queue, opening one as an incident."""
from flask import jsonify

from app.api import bp
from app.api.errors import api_user, parse_json, parse_query
from app.api.incident_json import incident_json
from app.intake import services
from app.intake.schemas import ReportCreate, ReportOpening, ReportQuery


@bp.post("/reports")
def create_report():
    outcome = services.file_report(api_user(), parse_json(ReportCreate))
    return jsonify(services.report_json(outcome.report, outcome.incident) | {"added": not outcome.created}), \
        201 if outcome.created else 200


@bp.get("/reports")
def list_reports():
    query = parse_query(ReportQuery)
    items, total = services.queue_of(api_user(), query.organization, query.state, query.page, query.per_page)
    return jsonify({"items": [services.report_json(r) for r in items], "total": total,
                    "page": query.page, "per_page": query.per_page})


@bp.post("/reports/<int:report_id>/open")
def open_report(report_id: int):
    data = parse_json(ReportOpening)  # read first: a bad body answers the same whoever's report the path names
    incident = services.open_from_report(api_user(), services.get_report(api_user(), report_id), data)
    return jsonify(incident_json(incident)), 201
