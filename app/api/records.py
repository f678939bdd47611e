"""The post-incident record (事後報告) of an incident, its approval and its recommendations."""
from flask import jsonify

from app.api import bp
from app.api.errors import api_user, parse_json
from app.incidents import stages
from app.incidents.access import get_incident
from app.records import services
from app.records.schemas import RecommendationStatus, RecordInput
from app.records.serializers import record_json


@bp.get("/incidents/<int:incident_id>/post-incident-record")
def show_record(incident_id: int):
    incident = get_incident(api_user(), incident_id)
    return jsonify(record_json(incident, services.record_for(incident)))


@bp.put("/incidents/<int:incident_id>/post-incident-record")
def save_record(incident_id: int):
    incident = get_incident(api_user(), incident_id)
    data = parse_json(RecordInput)
    record = services.save(api_user(), incident, data)
    return jsonify(record_json(incident, record))


@bp.post("/incidents/<int:incident_id>/post-incident-record/approve")
def approve_record(incident_id: int):
    """Approval is the move to `closed` (the same rules and checks as POST …/stage)."""
    incident = get_incident(api_user(), incident_id)
    stages.move_stage(api_user(), incident, "closed")
    return jsonify(record_json(incident, services.record_for(incident)))


@bp.patch("/incidents/<int:incident_id>/post-incident-record/recommendations/<int:recommendation_id>")
def set_recommendation_status(incident_id: int, recommendation_id: int):
    incident = get_incident(api_user(), incident_id)
    data = parse_json(RecommendationStatus)
    row = services.set_recommendation_status(api_user(), incident, recommendation_id, data.status)
    return jsonify({"id": row.id, "text": row.text, "clause": row.clause, "status": row.status})
