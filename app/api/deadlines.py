"""Deadlines of an incident, filing them, optional notices, and the dashboard of open deadlines."""
from flask import jsonify

from app.api import bp
from app.api.errors import api_user, parse_json, parse_query
from app.core.errors import NotFound
from app.deadlines import services
from app.deadlines.schemas import DeadlineMet, DeadlineQuery, NoticeCreate
from app.deadlines.serializers import deadline_json
from app.incidents.access import get_incident
from app.organizations.services import organization_by_code


@bp.get("/incidents/<int:incident_id>/deadlines")
def list_deadlines(incident_id: int):
    items = [deadline_json(d) for d in services.deadlines_of(get_incident(api_user(), incident_id))]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/incidents/<int:incident_id>/deadlines")
def add_notice(incident_id: int):
    incident = get_incident(api_user(), incident_id)
    data = parse_json(NoticeCreate)
    deadline = services.add_notice(api_user(), incident, data.kind, data.due_at, data.note)
    return jsonify(deadline_json(deadline)), 201


@bp.post("/incidents/<int:incident_id>/deadlines/<int:deadline_id>/met")
def mark_met(incident_id: int, deadline_id: int):
    incident = get_incident(api_user(), incident_id)
    deadline = services.get_deadline(incident, deadline_id)
    data = parse_json(DeadlineMet)
    services.mark_met(api_user(), incident, deadline, data.reference, data.met_at, data.note)
    return jsonify(deadline_json(deadline))


@bp.get("/deadlines")
def open_deadlines():
    user = api_user()
    query = parse_query(DeadlineQuery)
    organization_ids = None
    if query.organization is not None:
        org = organization_by_code(query.organization)
        if org is None or org.id not in user.organization_ids():
            raise NotFound("organization not found")
        organization_ids = [org.id]
    rows, total = services.open_deadlines(user, organization_ids, query.page, query.per_page)
    items = [deadline_json(d) | {"incident": {"id": i.id, "reference": i.reference, "title": i.title,
                                              "organization": i.organization.code, "stage": i.stage}}
             for d, i in rows]
    return jsonify({"items": items, "total": total, "page": query.page, "per_page": query.per_page})
