"""Evidence upload and download (証拠保全): attachments only, every download logged."""
from flask import jsonify, request, url_for

from app.api import bp
from app.api.errors import ApiError, api_user
from app.incidents import evidence
from app.incidents.access import get_incident
from app.incidents.serializers import evidence_json


def _url(item) -> str:
    return url_for("api.download_evidence", incident_id=item.incident_id, evidence_id=item.id)


@bp.post("/incidents/<int:incident_id>/evidence")
def upload_evidence(incident_id: int):
    incident = get_incident(api_user(), incident_id)
    if not request.mimetype.startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "expected multipart/form-data with a `file` part")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(422, "invalid", "invalid input", {"file": "a file is required"})
    item = evidence.store_evidence(api_user(), incident, upload.stream, upload.filename,
                                   request.form.get("description", ""), upload.mimetype)
    return jsonify(evidence_json(item, _url(item))), 201


@bp.get("/incidents/<int:incident_id>/evidence")
def list_evidence(incident_id: int):
    items = [evidence_json(e, _url(e)) for e in evidence.evidence_of(get_incident(api_user(), incident_id))]
    return jsonify({"items": items, "total": len(items)})


@bp.get("/incidents/<int:incident_id>/evidence/<int:evidence_id>")
def download_evidence(incident_id: int, evidence_id: int):
    incident = get_incident(api_user(), incident_id)
    item = evidence.get_evidence(incident, evidence_id)
    path = evidence.open_for_download(api_user(), incident, item, "api")
    return evidence.attachment_response(path, item)
