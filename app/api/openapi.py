"""GET /api/v1/openapi.json: the contract of API.md plus every extension, described once."""
from __future__ import annotations

from flask import jsonify
from pydantic import TypeAdapter

from app.api import bp
from app.api.risk_docs import risk_paths, risk_schemas
from app.deadlines.schemas import DeadlineMet, NoticeCreate
from app.incidents.schemas import IncidentCreate, IncidentQuery, IncidentUpdate
from app.incidents.workflow_schemas import NoteCreate, StageMove, TaskCreate, TaskUpdate
from app.intake.schemas import ReportCreate, ReportOpening
from app.records.schemas import RecommendationStatus, RecordInput
from app.reviews.exports import XLSX

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
                   "severity_override, asset_classes, created_at, updated_at, reporter_id, internal_deadlines "
                   "(the internal chain's target times: internal_manager_report, internal_chief_report, "
                   "csirt_assessment, ciso_report), closed_at, not_incident, closed_reason. `personal_data` accepts "
                   "`ordinance_sensitive` (条例要配慮個人情報) and answers it where the body's profile says its "
                   "ordinance defines it (reporting.ordinance_sensitive). Creation also accepts `reported_at` and "
                   "`acknowledged_at` for an incident handled on paper while the system was down (detected ≤ "
                   "reported ≤ acknowledged ≤ now; an acknowledged one is not escalated; only a role that may "
                   "acknowledge may send them, otherwise 403 naming them in `fields`); the answer's "
                   "`recorded_late` marks such an entry and `reported_at` is the real report time (else created_at).",
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
        "deadlines": {"type": "array", "items": {"$ref": "#/components/schemas/Deadline"},
                      "description": "What is owed outside the office: the regulatory kinds of API.md (and "
                                     "council_preliminary / council_final for assemblies, from their ordinance) and "
                                     "the notices a handler added (persons_notice, mic_report, police_report, "
                                     "public_announcement). Recalculated whenever the facts change."},
        "internal_deadlines": {"type": "array", "items": {"$ref": "#/components/schemas/Deadline"}},
        "escalation": {"type": ["object", "null"], "description": "level (last level reached, 0 before the first), "
                       "next_at, state (active / acknowledged / exhausted / superseded); extensions: cycle, levels"},
    },
}


DEADLINE = {
    "type": "object",
    "description": "API.md gives kind, due_at, met_at; the rest are extensions. `time_left` is Japanese "
                   "(残り 2日3時間 / 超過 5時間); `late`: met after its due time.",
    "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"},
        "category": {"enum": ["regulatory", "internal", "notice"]}, "origin": {"enum": ["rule", "manual"]},
        "label": {"type": "string"}, "authority": {"type": ["string", "null"]}, "source": {"type": ["string", "null"]},
        "due_at": {"type": "string", "format": "date-time"},
        "met_at": {"type": ["string", "null"], "format": "date-time"}, "met_by": {"type": ["string", "null"]},
        "reference": {"type": ["string", "null"]}, "note": {"type": ["string", "null"]},
        "overdue": {"type": "boolean"}, "late": {"type": "boolean"}, "time_left": {"type": ["string", "null"]},
    },
}


def _regulatory_paths(incident_id: list, collection: dict) -> dict:
    """Deadlines and the post-incident record (issue 5)."""
    deadline_ref = {"$ref": "#/components/schemas/Deadline"}
    record = {"type": "object", "description": "incident, reference, saved, cause/impact/measures/prevention "
              "(Markdown) and their sanitized *_html, policy_clauses, recommendations [{id, text, clause, status}], "
              "times {detected_at, reported_at, acknowledged_at, contained_at, recovered_at} from the incident, "
              "version, saved_at, saved_by, approved_at, approved_by"}
    record_path = "/api/v1/incidents/{id}/post-incident-record"
    return {
        "/api/v1/incidents/{id}/deadlines": {"parameters": incident_id,
            "get": {"description": "Extension: every deadline of the incident, internal ones included, soonest first.",
                    "responses": _ok(200, collection) | _errors(401, 404)},
            "post": {"description": "Extension: add a notice the handler decided on (kinds from the body's reporting "
                                    "rules: persons_notice, mic_report, police_report, public_announcement); "
                                    "`due_at` defaults to now + the rule's suggestion. 409 when already added.",
                     "requestBody": _body("NoticeCreate"),
                     "responses": _ok(201, deadline_ref) | _errors(400, 401, 403, 404, 409, 415, 422)}},
        "/api/v1/incidents/{id}/deadlines/{deadline_id}/met": {
            "parameters": incident_id + [{"name": "deadline_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "post": {"description": "Extension: records a deadline as filed or done — who, when (`met_at`, default "
                                    "now, not in the future) and the filing's `reference`. Stops its reminders.",
                     "requestBody": _body("DeadlineMet"),
                     "responses": _ok(200, deadline_ref) | _errors(400, 401, 403, 404, 409, 415, 422)}},
        "/api/v1/deadlines": {"get": {
            "description": "Extension: open deadlines of every incident the caller can read, soonest first, each "
                           "with `incident` {id, reference, title, organization, stage}.",
            "parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                           for n in ("organization", "page", "per_page")],
            "responses": _ok(200, collection) | _errors(401, 404, 422)}},
        record_path: {"parameters": incident_id,
            "get": {"description": "Before any PUT, a draft from the incident (`saved: false`): the key times, the "
                                   "measures logged as done tasks, the personal-data facts.",
                    "responses": _ok(200, record) | _errors(401, 404)},
            "put": {"description": "Replaces the record. Recommendations sent with their `id` keep it; others are "
                                   "new; those left out are removed. Extension: `version` (409 when stale). 409 "
                                   "once approved (reopening the incident withdraws the approval).",
                    "requestBody": _body("RecordInput"),
                    "responses": _ok(200, record) | _errors(400, 401, 403, 404, 409, 415, 422)}},
        record_path + "/approve": {"parameters": incident_id, "post": {
            "description": "Extension: approval by the 統括情報セキュリティ責任者 or the CISO, which closes the "
                           "incident — the same move and checks as POST …/stage with `to: closed`.",
            "responses": _ok(200, record) | _errors(401, 403, 404, 409)}},
        record_path + "/recommendations/{recommendation_id}": {
            "parameters": incident_id + [{"name": "recommendation_id", "in": "path", "required": True,
                                          "schema": {"type": "integer"}}],
            "patch": {"description": "Extension: the review's decision or the implementation of a recommendation "
                                     "(also after approval).", "requestBody": _body("RecommendationStatus"),
                      "responses": _ok(200, {"type": "object"}) | _errors(400, 401, 403, 404, 415, 422)}},
    }


def _review_paths() -> dict:
    """The quarterly and fiscal-year reviews (issue 6)."""
    org = {"name": "org", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "a body's code, or `all`: every body where the caller may read all incidents"}
    year = {"name": "fiscal_year", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1990,
                                                                               "maximum": 2100}}
    fmt = {"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "md", "csv", "xlsx"]}}
    part = {"name": "part", "in": "query", "required": False, "schema": {"enum": ["incidents", "summary"]},
            "description": "csv only: `incidents` (default) the incident rows; `summary` every table of the review "
                           "(figures, risk register, disagreements, findings, near misses, changes, recommendations), "
                           "one CSV row per table row, the table's title first"}
    paging = [{"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
              {"name": "per_page", "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
               "description": "JSON only: the incidents are listed a page at a time (`total` counts them all, "
                              "`page` and `per_page` are answered); csv and xlsx list every incident"}]
    review = {"type": "object", "description": "API.md's fields (organization, fiscal_year, quarter, period {from, to} "
              "as JST dates inclusive, total, by_threat_category, by_severity, incidents: one page, oldest first) and "
              "extensions: page, per_page, "
              "organizations, name, label, categories, current and previous (each: period, total, not_incident, "
              "by_threat_category, by_subcategory, by_severity, by_segment, by_source, response_times {acknowledge, "
              "contain, recover, close: {n, median_s, p90_s}} in seconds from detection, escalation_levels "
              "{level: incidents}, deadlines {total, by_kind: {due, on_time, late, open, overdue}}, risk_matrix "
              "{window, categories [{code, incidents, per_year, likelihood, loss, score}], cells {\"L-S\": [codes]}, "
              "method}), recommendations (outstanding 提案/採用 grouped by organization and clause), register (the "
              "risk register as it stood at the period's end with the period's inputs, the change since the previous "
              "period, disagreements and recommendations: see the Register schema)."}
    download = {"type": "string", "format": "binary"}
    answers = {"200": {"description": "JSON, or a download: md (text/markdown), csv (UTF-8 with BOM, the incident "
                                      "rows), xlsx (a sheet per section and the incident rows)",
                       "content": {"application/json": {"schema": review}, "text/markdown": {"schema": download},
                                   "text/csv": {"schema": download}, XLSX: {"schema": download}}}} \
        | _errors(401, 403, 404, 422)
    return {
        "/api/v1/reviews/{org}/{fiscal_year}/q{quarter}": {"get": {
            "description": "The review of one fiscal quarter (Q1 = April–June … Q4 = January–March of the next "
                           "calendar year) by the Asia/Tokyo date of detection, with the previous quarter beside it. "
                           "403 for a body where the caller's role may not read all incidents; a quarter other than "
                           "1–4 is 404.",
            "parameters": [org, year, {"name": "quarter", "in": "path", "required": True,
                                       "schema": {"type": "integer", "minimum": 1, "maximum": 4}}, fmt, part, *paging],
            "responses": answers}},
        "/api/v1/reviews/{org}/{fiscal_year}": {"get": {
            "description": "Extension: the whole fiscal year (April–March), with the previous fiscal year beside it.",
            "parameters": [org, year, fmt, part, *paging], "responses": answers}},
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
    schemas: dict = {"Error": ERROR, "Incident": INCIDENT, "Deadline": DEADLINE} | risk_schemas()
    for name, model in (("IncidentCreate", IncidentCreate), ("IncidentUpdate", IncidentUpdate), ("StageMove", StageMove),
                        ("TaskCreate", TaskCreate), ("TaskUpdate", TaskUpdate), ("NoteCreate", NoteCreate),
                        ("RecordInput", RecordInput), ("RecommendationStatus", RecommendationStatus),
                        ("DeadlineMet", DeadlineMet), ("NoticeCreate", NoticeCreate), ("ReportCreate", ReportCreate),
                        ("ReportOpening", ReportOpening)):
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
                           "saved post-incident record (409 until one exists) and approves it; reopening a closed "
                           "incident (統括責任者/CISO) withdraws that approval.",
            "responses": _ok(200, incident_ref) | _errors(400, 401, 403, 404, 409, 415, 422)}},
        "/api/v1/incidents/{id}/tasks": {"parameters": incident_id,
            "get": {"description": "Extension fields: code, source (common / category / category.sub / manual), "
                                   "guidance, role, assignee.", "responses": _ok(200, collection) | _errors(401, 404)},
            "post": {"description": "Extension: add a task by hand; `assignee` as in PATCH.", "requestBody": _body("TaskCreate"),
                     "responses": _ok(201, {"type": "object"}) | _errors(400, 401, 403, 404, 415, 422)}},
        "/api/v1/incidents/{id}/tasks/{task_id}": {
            "parameters": incident_id + [{"name": "task_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "patch": {"description": "`done` completes or reopens (null is 422); extension: `assignee` (the e-mail of a "
                                     "person of the body whose role may work incidents, else 422 `fields.assignee`; null "
                                     "clears). `{}` is 422 naming the fields one may send.",
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
                           "the e-mail's X-Event-Id), event (escalation / nobody_reachable / deadline_approaching / "
                           "deadline_overdue), cycle (a raised severity "
                           "starts a new cycle), next_attempt_at, created_at; status may also be `sending` (claimed). "
                           "A webhook's last_error is generic (its detail is in the server log).",
            "responses": _ok(200, collection) | _errors(401, 404)}},
        "/api/v1/audit/verify": {"get": {"description": "Auditors and admins. Walks every body's keyed chain and checks the checkpoints "
                                                        "in the instance's audit-checkpoints file; first_bad: the first "
                                                        "altered entry, or the last one left before missing ones.",
                                         "responses": _ok(200, {"type": "object"}) | _errors(401, 403)}},
    }
    document = {
        "openapi": "3.1.0",
        "info": {"title": "CSIRT case management for Japanese local governments", "version": "1",
                 "description": "Every JSON body: invalid JSON, including JSON nested too deeply to read "
                                "(hundreds of levels), is 400; a body that is not an object, or null where a field's schema does "
                                "not admit null, is 422. Fields that change what the system does need their own "
                                "permission beside the operation's (403 naming them; README, \"Field-level rules\")."},
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {"security": [], "responses": _ok(200, {"type": "object"})}},
            "/metrics": {"get": {"security": [], "description": "Extension: Prometheus text format (request latency, "
                                 "csirt_notifications_due_unsent, csirt_notifications_failed, csirt_ticker_lag_seconds); "
                                 "with METRICS_TOKEN set it needs `Authorization: Bearer <token>`, else only 127.0.0.1 "
                                 "may scrape (others get 404).",
                                 "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}}}},
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
                          "description": "`severity` with `severity_reason` overrides the derived severity "
                                         "(403 for a role that may edit but not override); `severity: null` returns "
                                         "to the derived one. A body with only `version` is 422 naming the fields one "
                                         "may send; null for a field the incident cannot be without is 422.",
                          "responses": _ok(200, incident_ref) | _errors(400, 401, 403, 404, 409, 413, 415, 422)},
            },
        } | workflow_paths | _regulatory_paths(incident_id, collection) | _review_paths() | _report_paths() | risk_paths(),
    }
    return _every_body_may_be_too_large(document)


def _report_paths() -> dict:
    """Reports for triage (issue 9)."""
    report = {"type": "object", "description": "id, receipt (R-XXXX-XXXX, what the reporter quotes), organization, "
              "state (new/opened/merged/dismissed), channel (email/form/api), source, title, body (plain text), "
              "occurred_at, received_at, sender, contact, dedup_key, flagged, flag_reason, incident {id, reference} "
              "or null, decision_reason; POST answers add `added` (true when it joined an open report or incident)"}
    params = [{"name": "organization", "in": "query", "required": False, "schema": {"type": "string"},
               "description": "a body's code (404 if not the caller's); default: every body where the caller may "
                              "read all incidents"},
              {"name": "state", "in": "query", "required": False,
               "schema": {"enum": ["new", "opened", "merged", "dismissed"], "default": "new"}},
              {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
              {"name": "per_page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1,
                                                                                 "maximum": 200}}]
    opening = {"parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}], "post": {
        "description": "Opens a waiting report as an incident of the report's body (the incident fields without "
                       "`organization`; `detected_at` defaults to the report's occurred_at, else its arrival, and may "
                       "not be after the arrival: 422). The incident's `reported_at` is the report's arrival, its "
                       "deadlines count as for any incident, the report becomes `opened` and its files the incident's "
                       "evidence. 403 for a role that may not decide reports (CSIRT, 統括責任者/CISO, admin may); "
                       "409 when the report is no longer `new`.",
        "requestBody": _body("ReportOpening"),
        "responses": _ok(201, {"$ref": "#/components/schemas/Incident"}) | _errors(400, 401, 403, 404, 409, 415, 422)}}
    return {"/api/v1/reports/{id}/open": opening, "/api/v1/reports": {
        "post": {"description": "For SOC/SIEM forwarders (a role that may create incidents in the body). With a "
                                "`dedup_key` equal to that of a report still waiting, or of one whose incident is "
                                "still open, the body is added there (200) instead of opening another (201).",
                 "requestBody": _body("ReportCreate"),
                 "responses": _ok(201, report) | _ok(200, report) | _errors(400, 401, 403, 413, 415, 422)},
        "get": {"description": "The triage queue: a page of reports, oldest first.", "parameters": params,
                "responses": _ok(200, {"type": "object", "properties": {
                    "items": {"type": "array", "items": report}, "total": {"type": "integer"},
                    "page": {"type": "integer"}, "per_page": {"type": "integer"}}}) | _errors(401, 403, 404, 422)}}}


def _every_body_may_be_too_large(document: dict) -> dict:
    """API.md: any body over 1 MiB (evidence: over its own limit) is 413, wherever it is sent."""
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["responses"].setdefault("413", _errors(413)["413"])
    return document


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_document())
