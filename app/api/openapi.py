"""GET /api/v1/openapi.json: the contract of API.md plus every extension, described once."""
from __future__ import annotations

from flask import jsonify
from pydantic import TypeAdapter

from app.api import bp
from app.incidents.schemas import IncidentCreate, IncidentQuery, IncidentUpdate
from app.incidents.workflow_schemas import NoteCreate, StageMove, TaskCreate, TaskUpdate

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "fields"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}},
}
INCIDENT = {
    "type": "object",
    "description": "An incident. Extensions beyond API.md: computed_severity, severity_basis "
                   "(the rule of playbooks/severity.yaml that gave the derived severity), "
                   "severity_override, asset_classes, created_at, updated_at, reporter_id.",
    "properties": {
        "id": {"type": "integer"}, "reference": {"type": "string", "example": "AGEO-2026-0001"},
        "organization": {"type": "string"}, "title": {"type": "string"},
        "description": {"type": "string"}, "description_html": {"type": "string"},
        "threat_category": {"type": "string"}, "subcategory": {"type": ["string", "null"]},
        "severity": {"enum": ["critical", "high", "medium", "low"]},
        "computed_severity": {"enum": ["critical", "high", "medium", "low"]},
        "severity_basis": {"type": ["string", "null"]},
        "severity_override": {"type": ["object", "null"]},
        "stage": {"enum": ["triage", "report", "preserve", "contain", "recover", "prevent", "closed"]},
        "source": {"enum": ["internal", "external", "agency"]},
        "detected_at": {"type": "string", "format": "date-time"},
        "network_segments": {"type": "array", "items": {"type": "string"}},
        "impacts": {"type": "array", "items": {"type": "string"}},
        "asset_classes": {"type": "object", "additionalProperties": {"type": "string"},
                          "description": "axis code → level code of the body's classification scheme"},
        "personal_data": {"type": "object"},
        "version": {"type": "integer"},
        "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
        "deadlines": {"type": "array", "items": {"type": "object"}},
        "escalation": {"type": ["object", "null"], "description": "level (last level reached, 0 before the first), "
                       "next_at, state (active / acknowledged / exhausted / superseded); extensions: cycle, levels"},
    },
}


def _schema(model) -> dict:
    return TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")


def _errors(*codes: int) -> dict:
    return {str(c): {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for c in codes}


def _ok(status: int, schema: dict) -> dict:
    return {str(status): {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def _body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def build_document() -> dict:
    schemas: dict = {"Error": ERROR, "Incident": INCIDENT}
    for name, model in (("IncidentCreate", IncidentCreate), ("IncidentUpdate", IncidentUpdate), ("StageMove", StageMove),
                        ("TaskCreate", TaskCreate), ("TaskUpdate", TaskUpdate), ("NoteCreate", NoteCreate)):
        schema = _schema(model)
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    incident_ref = {"$ref": "#/components/schemas/Incident"}
    page = {"type": "object", "properties": {"items": {"type": "array", "items": incident_ref},
                                             "total": {"type": "integer"}, "page": {"type": "integer"},
                                             "per_page": {"type": "integer"}}}
    query_params = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
         "description": "detected_from / detected_to take an ISO datetime with offset, or a date (Asia/Tokyo day)"
         if name.startswith("detected") else ""}
        for name in IncidentQuery.model_fields
    ]
    incident_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    collection = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}},
                                                   "total": {"type": "integer"}}}
    workflow_paths = {
        "/api/v1/incidents/{id}/stage": {"parameters": incident_id, "post": {
            "requestBody": _body("StageMove"),
            "description": "Forward one stage at a time; back to any earlier stage; from triage `to: closed` with "
                           "`not_incident` and a reason closes as 非該当 (allowed to CSIRT). 409 lists the open "
                           "required tasks of the current stage in `fields.tasks`. Closing from `prevent` needs a "
                           "post-incident record (409 until one exists). Reopening a closed incident: 統括責任者/CISO.",
            "responses": _ok(200, incident_ref) | _errors(400, 401, 403, 404, 409, 415, 422)}},
        "/api/v1/incidents/{id}/tasks": {"parameters": incident_id,
            "get": {"description": "Extension fields: code, source (common / category / category.sub / manual), "
                                   "guidance, role, assignee.", "responses": _ok(200, collection) | _errors(401, 404)},
            "post": {"description": "Extension: add a task by hand.", "requestBody": _body("TaskCreate"),
                     "responses": _ok(201, {"type": "object"}) | _errors(400, 401, 403, 404, 415, 422)}},
        "/api/v1/incidents/{id}/tasks/{task_id}": {
            "parameters": incident_id + [{"name": "task_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "patch": {"description": "`done` completes or reopens; extension: `assignee` (a member's e-mail, null clears).",
                      "requestBody": _body("TaskUpdate"),
                      "responses": _ok(200, {"type": "object"}) | _errors(400, 401, 403, 404, 415, 422)}},
        "/api/v1/incidents/{id}/timeline": {"parameters": incident_id, "get": {
            "description": "Oldest first. Notes carry `data.body` (Markdown) and the sanitized `body_html`.",
            "responses": _ok(200, collection) | _errors(401, 404)}},
        "/api/v1/incidents/{id}/notes": {"parameters": incident_id, "post": {
            "description": "Extension: add a Markdown note to the timeline.", "requestBody": _body("NoteCreate"),
            "responses": _ok(201, {"type": "object"}) | _errors(400, 401, 403, 404, 415, 422)}},
        "/api/v1/incidents/{id}/evidence": {"parameters": incident_id,
            "get": {"description": "Extension: the incident's evidence.", "responses": _ok(200, collection) | _errors(401, 404)},
            "post": {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}, "description": {"type": "string"}}}}}},
                "description": "Stored by SHA-256 outside the web root; limit EVIDENCE_MAX_BYTES (default 20 MiB).",
                "responses": _ok(201, {"type": "object"}) | _errors(401, 403, 404, 413, 415, 422)}},
        "/api/v1/incidents/{id}/evidence/{evidence_id}": {
            "parameters": incident_id + [{"name": "evidence_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {"description": "Downloads as an attachment (application/octet-stream, nosniff); every download "
                                   "is written to the timeline and the audit log.",
                    "responses": {"200": {"description": "the file"}} | _errors(401, 404)}},
        "/api/v1/incidents/{id}/acknowledge": {"parameters": incident_id, "post": {
            "description": "Stops the running escalation (unsent messages are cancelled) and records who. The first "
                           "acknowledgement is kept in `acknowledged_at`; a repeated call changes nothing.",
            "responses": _ok(200, incident_ref) | _errors(401, 403, 404)}},
        "/api/v1/incidents/{id}/notifications": {"parameters": incident_id, "get": {
            "description": "The outbox rows of the incident. Extensions: event_id (also the webhook's X-Event-Id and "
                           "the e-mail's X-Event-Id), event (escalation / nobody_reachable), cycle (a raised severity "
                           "starts a new cycle), next_attempt_at, created_at; status may also be `sending` (claimed).",
            "responses": _ok(200, collection) | _errors(401, 404)}},
        "/api/v1/audit/verify": {"get": {"description": "Auditors and admins. Walks the whole hash chain.",
                                         "responses": _ok(200, {"type": "object"}) | _errors(401, 403)}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "CSIRT case management for Japanese local governments", "version": "1"},
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {"security": [], "responses": _ok(200, {"type": "object"})}},
            "/api/v1/openapi.json": {"get": {"security": [], "responses": _ok(200, {"type": "object"})}},
            "/api/v1/organizations": {"get": {"responses": _ok(200, {"type": "object"}) | _errors(401),
                                              "description": "Extensions: name_en, kind, emergency_plan_owner, asset_classification."}},
            "/api/v1/incidents": {
                "get": {"parameters": query_params, "responses": _ok(200, page) | _errors(401, 404, 422)},
                "post": {"requestBody": _body("IncidentCreate"),
                         "responses": _ok(201, incident_ref) | _errors(400, 401, 403, 413, 415, 422)},
            },
            "/api/v1/incidents/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "get": {"responses": _ok(200, incident_ref) | _errors(401, 404)},
                "patch": {"requestBody": _body("IncidentUpdate"),
                          "description": "`severity` with `severity_reason` overrides the derived severity; "
                                         "`severity: null` returns to the derived one.",
                          "responses": _ok(200, incident_ref) | _errors(400, 401, 403, 404, 409, 413, 415, 422)},
            },
        } | workflow_paths,
    }


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_document())
