from flask import jsonify

from app.api import bp
from app.api.errors import api_user, parse_json, parse_query
from app.api.incident_json import incident_json
from app.incidents import services
from app.incidents.access import get_incident
from app.incidents.schemas import IncidentCreate, IncidentQuery, IncidentUpdate
from app.incidents.serializers import list_row


@bp.post("/incidents")
def create_incident():
    data = parse_json(IncidentCreate)
    incident = services.open_incident(api_user(), data)
    return jsonify(incident_json(incident)), 201


@bp.get("/incidents")
def list_incidents():
    query = parse_query(IncidentQuery)
    items, total = services.list_incidents(api_user(), query)
    return jsonify({"items": [list_row(i) for i in items], "total": total,
                    "page": query.page, "per_page": query.per_page})


@bp.get("/incidents/<int:incident_id>")
def show_incident(incident_id: int):
    incident = get_incident(api_user(), incident_id)
    return jsonify(incident_json(incident))


@bp.patch("/incidents/<int:incident_id>")
def patch_incident(incident_id: int):
    incident = get_incident(api_user(), incident_id)
    data = parse_json(IncidentUpdate)
    services.update_incident(api_user(), incident, data)
    return jsonify(incident_json(incident))
