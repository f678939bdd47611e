"""GET /api/v1/openapi.json: the contract of API.md plus every extension, described once.

The schemas of bodies and answers are generated from their pydantic models (the packages'
`schemas.py` for what a caller sends, their `responses.py` for what they answer), registered as the
operations below name them; the operations themselves are written here."""
from __future__ import annotations

import copy
import functools

from flask import jsonify
from pydantic import BaseModel, TypeAdapter

from app.api import bp
from app.api.responses import AuditVerification, Error, Health, Incident
from app.api.risk_docs import risk_paths, risk_schemas
from app.core.responses import Items, Page
from app.deadlines.responses import Deadline, OpenDeadline
from app.deadlines.schemas import DeadlineMet, NoticeCreate
from app.incidents.responses import Evidence, IncidentSummary, Task, TimelineEvent
from app.incidents.schemas import IncidentCreate, IncidentQuery, IncidentUpdate
from app.incidents.workflow_schemas import NoteCreate, StageMove, TaskCreate, TaskUpdate
from app.intake.responses import FiledReport, Report
from app.intake.schemas import ReportCreate, ReportOpening
from app.notifications.responses import Notification
from app.organizations.responses import Organization
from app.records.responses import Recommendation, Record
from app.records.schemas import RecommendationStatus, RecordInput
from app.reviews.exports import XLSX
from app.reviews.responses import Review

REF = "#/components/schemas/{model}"


@functools.cache
def _generated(model: type[BaseModel]) -> dict:
    return TypeAdapter(model).json_schema(ref_template=REF)


class Schemas(dict):
    """components.schemas, filled as the operations name the models of their bodies and answers."""

    def ref(self, model: type[BaseModel]) -> dict:
        schema = copy.deepcopy(_generated(model))
        for name, definition in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
            if self.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas are named {name}")
        return {"$ref": REF.format(model=model.__name__)}


def _regulatory_paths(s: Schemas, incident_id: list) -> dict:
    """Deadlines and the post-incident record (issue 5)."""
    record_path = "/api/v1/incidents/{id}/post-incident-record"
    return {
        "/api/v1/incidents/{id}/deadlines": {"parameters": incident_id,
            "get": {"description": "Extension: every deadline of the incident, internal ones included, soonest first.",
                    "responses": _ok(200, s.ref(Items[Deadline])) | _errors(401, 404)},
            "post": {"description": "Extension: add a notice the handler decided on (kinds from the body's reporting "
                                    "rules: persons_notice, mic_report, juki_report (住基ネット・中間サーバー → 都道府県・"
                                    "J-LIS), lgwan_report (LGWAN → J-LIS), police_report, public_announcement); "
                                    "`due_at` defaults to now + the rule's suggestion. 409 when already added.",
                     "requestBody": _body(s, NoticeCreate),
                     "responses": _ok(201, s.ref(Deadline)) | _errors(400, 401, 403, 404, 409, 415, 422)}},
        "/api/v1/incidents/{id}/deadlines/{deadline_id}/met": {
            "parameters": incident_id + [_path_id("deadline_id")],
            "post": {"description": "Extension: records a deadline as filed or done — who, when (`met_at`, default "
                                    "now, not in the future) and the filing's `reference`. Stops its reminders.",
                     "requestBody": _body(s, DeadlineMet),
                     "responses": _ok(200, s.ref(Deadline)) | _errors(400, 401, 403, 404, 409, 415, 422)}},
        "/api/v1/deadlines": {"get": {
            "description": "Extension: open deadlines of every incident the caller can read, soonest first, each "
                           "with `incident` {id, reference, title, organization, stage}.",
            "parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                           for n in ("organization", "page", "per_page")],
            "responses": _ok(200, s.ref(Page[OpenDeadline])) | _errors(401, 404, 422)}},
        record_path: {"parameters": incident_id,
            "get": {"description": "Before any PUT, a draft from the incident (`saved: false`): the key times, the "
                                   "measures logged as done tasks, the personal-data facts.",
                    "responses": _ok(200, s.ref(Record)) | _errors(401, 404)},
            "put": {"description": "Replaces the record. Recommendations sent with their `id` keep it; others are "
                                   "new; those left out are removed. Extension: `version` (409 when stale). 409 "
                                   "once approved (reopening the incident withdraws the approval).",
                    "requestBody": _body(s, RecordInput),
                    "responses": _ok(200, s.ref(Record)) | _errors(400, 401, 403, 404, 409, 415, 422)}},
        record_path + "/approve": {"parameters": incident_id, "post": {
            "description": "Extension: approval by the 統括情報セキュリティ責任者 or the CISO, which closes the "
                           "incident — the same move and checks as POST …/stage with `to: closed`.",
            "responses": _ok(200, s.ref(Record)) | _errors(401, 403, 404, 409)}},
        record_path + "/recommendations/{recommendation_id}": {
            "parameters": incident_id + [_path_id("recommendation_id")],
            "patch": {"description": "Extension: the review's decision or the implementation of a recommendation "
                                     "(also after approval).", "requestBody": _body(s, RecommendationStatus),
                      "responses": _ok(200, s.ref(Recommendation)) | _errors(400, 401, 403, 404, 415, 422)}},
    }


def _review_paths(s: Schemas) -> dict:
    """The quarterly and fiscal-year reviews (issue 6)."""
    org = {"name": "org", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "a body's code, or `all`: every body where the caller may read all incidents"}
    year = {"name": "fiscal_year", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1990,
                                                                               "maximum": 2100}}
    fmt = {"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "md", "csv", "xlsx"]}}
    paging = [{"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
              {"name": "per_page", "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
               "description": "JSON only: the incidents are listed a page at a time (`total` counts them all, "
                              "`page` and `per_page` are answered); csv and xlsx list every incident"}]
    part = {"name": "part", "in": "query", "required": False, "schema": {"enum": ["incidents", "summary"]},
            "description": "csv only: `incidents` (default) the incident rows; `summary` every table of the review "
                           "(figures, risk register, disagreements, findings, near misses, changes, recommendations), "
                           "one CSV row per table row, the table's title first"}
    download = {"type": "string", "format": "binary"}
    answers = {"200": {"description": "JSON, or a download: md (text/markdown), csv (UTF-8 with BOM, the incident "
                                      "rows), xlsx (a sheet per section and the incident rows)",
                       "content": {"application/json": {"schema": s.ref(Review)}, "text/markdown": {"schema": download},
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


def _errors(*codes: int) -> dict:
    return {str(c): {"description": "error", "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}}
            for c in codes}


def _ok(status: int, schema: dict) -> dict:
    return {str(status): {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def _body(s: Schemas, model: type[BaseModel]) -> dict:
    return {"required": True, "content": {"application/json": {"schema": s.ref(model)}}}


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def _incident_paths(s: Schemas, incident_id: list) -> dict:
    incident = s.ref(Incident)
    query_params = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
         "description": "detected_from / detected_to take an ISO datetime with offset, or a date (Asia/Tokyo day)"
         if name.startswith("detected") else ""}
        for name in IncidentQuery.model_fields
    ]
    return {
        "/api/v1/incidents": {
            "get": {"parameters": query_params, "responses": _ok(200, s.ref(Page[IncidentSummary])) | _errors(401, 404, 422)},
            "post": {"requestBody": _body(s, IncidentCreate),
                     "responses": _ok(201, incident) | _errors(400, 401, 403, 413, 415, 422)},
        },
        "/api/v1/incidents/{id}": {
            "parameters": incident_id,
            "get": {"responses": _ok(200, incident) | _errors(401, 404)},
            "patch": {"requestBody": _body(s, IncidentUpdate),
                      "description": "`severity` with `severity_reason` overrides the derived severity "
                                     "(403 for a role that may edit but not override); `severity: null` returns "
                                     "to the derived one. A body with only `version` is 422 naming the fields one "
                                     "may send; null for a field the incident cannot be without is 422.",
                      "responses": _ok(200, incident) | _errors(400, 401, 403, 404, 409, 413, 415, 422)},
        },
    }


def _workflow_paths(s: Schemas, incident_id: list) -> dict:
    """Stage moves, tasks, timeline, notes, evidence, acknowledgement and notifications."""
    return {
        "/api/v1/incidents/{id}/stage": {"parameters": incident_id, "post": {
            "requestBody": _body(s, StageMove),
            "description": "Forward one stage at a time; back to any earlier stage; from triage `to: closed` with "
                           "`not_incident` and a reason closes as 非該当 (allowed to CSIRT). 409 lists the open "
                           "required tasks of the current stage in `fields.tasks`. Closing from `prevent` needs a "
                           "saved post-incident record (409 until one exists) and approves it; reopening a closed "
                           "incident (統括責任者/CISO) withdraws that approval.",
            "responses": _ok(200, s.ref(Incident)) | _errors(400, 401, 403, 404, 409, 415, 422)}},
        "/api/v1/incidents/{id}/tasks": {"parameters": incident_id,
            "get": {"description": "The incident's checklist, whole.",
                    "responses": _ok(200, s.ref(Items[Task])) | _errors(401, 404)},
            "post": {"description": "Extension: add a task by hand; `assignee` as in PATCH.", "requestBody": _body(s, TaskCreate),
                     "responses": _ok(201, s.ref(Task)) | _errors(400, 401, 403, 404, 415, 422)}},
        "/api/v1/incidents/{id}/tasks/{task_id}": {
            "parameters": incident_id + [_path_id("task_id")],
            "patch": {"description": "`done` completes or reopens (null is 422); extension: `assignee` (the e-mail of a "
                                     "person of the body whose role may work incidents, else 422 `fields.assignee`; null "
                                     "clears). `{}` is 422 naming the fields one may send.",
                      "requestBody": _body(s, TaskUpdate),
                      "responses": _ok(200, s.ref(Task)) | _errors(400, 401, 403, 404, 415, 422)}},
        "/api/v1/incidents/{id}/timeline": {"parameters": incident_id, "get": {
            "description": "Oldest first. Notes carry `data.body` (Markdown) and the sanitized `body_html`.",
            "responses": _ok(200, s.ref(Items[TimelineEvent])) | _errors(401, 404)}},
        "/api/v1/incidents/{id}/notes": {"parameters": incident_id, "post": {
            "description": "Extension: add a Markdown note to the timeline.", "requestBody": _body(s, NoteCreate),
            "responses": _ok(201, s.ref(TimelineEvent)) | _errors(400, 401, 403, 404, 415, 422)}},
        "/api/v1/incidents/{id}/evidence": {"parameters": incident_id,
            "get": {"description": "Extension: the incident's evidence.",
                    "responses": _ok(200, s.ref(Items[Evidence])) | _errors(401, 404)},
            "post": {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}, "description": {"type": "string"}}}}}},
                "description": "Stored by SHA-256 outside the web root; limit EVIDENCE_MAX_BYTES (default 20 MiB).",
                "responses": _ok(201, s.ref(Evidence)) | _errors(401, 403, 404, 413, 415, 422)}},
        "/api/v1/incidents/{id}/evidence/{evidence_id}": {
            "parameters": incident_id + [_path_id("evidence_id")],
            "get": {"description": "Downloads as an attachment (application/octet-stream, nosniff); every download "
                                   "is written to the timeline and the audit log.",
                    "responses": {"200": {"description": "the file"}} | _errors(401, 404)}},
        "/api/v1/incidents/{id}/acknowledge": {"parameters": incident_id, "post": {
            "description": "Stops the running escalation (unsent messages are cancelled) and records who. The first "
                           "acknowledgement is kept in `acknowledged_at`; a repeated call changes nothing.",
            "responses": _ok(200, s.ref(Incident)) | _errors(401, 403, 404)}},
        "/api/v1/incidents/{id}/notifications": {"parameters": incident_id, "get": {
            "description": "The outbox rows of the incident.",
            "responses": _ok(200, s.ref(Items[Notification])) | _errors(401, 404)}},
    }


def build_document() -> dict:
    s = Schemas()
    s.ref(Error)
    incident_id = [_path_id("id")]
    document = {
        "openapi": "3.1.0",
        "info": {"title": "CSIRT case management for Japanese local governments", "version": "1",
                 "description": "Every JSON body: invalid JSON, including JSON nested too deeply to read "
                                "(hundreds of levels), is 400; a body that is not an object, or null where a field's schema does "
                                "not admit null, is 422. Fields that change what the system does need their own "
                                "permission beside the operation's (403 naming them; README, \"Field-level rules\")."},
        "components": {"schemas": s, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {"security": [], "responses": _ok(200, s.ref(Health)) | _ok(503, s.ref(Health))}},
            "/metrics": {"get": {"security": [], "description": "Extension: Prometheus text format (request latency, "
                                 "csirt_notifications_due_unsent, csirt_notifications_failed, csirt_ticker_lag_seconds); "
                                 "with METRICS_TOKEN set it needs `Authorization: Bearer <token>`, else only 127.0.0.1 "
                                 "may scrape (others get 404).",
                                 "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}}}},
            "/api/v1/openapi.json": {"get": {"security": [], "responses": _ok(200, {"type": "object"})}},
            "/api/v1/organizations": {"get": {"responses": _ok(200, s.ref(Items[Organization])) | _errors(401),
                                              "description": "The caller's bodies and their policy profiles."}},
            "/api/v1/audit/verify": {"get": {
                "description": "Auditors and admins. Walks every body's keyed chain and checks the checkpoints in the "
                               "instance's audit-checkpoints file.",
                "responses": _ok(200, s.ref(AuditVerification)) | _errors(401, 403)}},
        } | _incident_paths(s, incident_id) | _workflow_paths(s, incident_id) | _regulatory_paths(s, incident_id)
          | _review_paths(s) | _report_paths(s) | risk_paths(),
    }
    for name, schema in risk_schemas().items():  # the register's models (app/risks/schemas.py)
        if s.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name}")
    return _every_body_may_be_too_large(document)


def _report_paths(s: Schemas) -> dict:
    """Reports for triage (issue 9)."""
    params = [{"name": "organization", "in": "query", "required": False, "schema": {"type": "string"},
               "description": "a body's code (404 if not the caller's); default: every body where the caller may "
                              "read all incidents"},
              {"name": "state", "in": "query", "required": False,
               "schema": {"enum": ["new", "opened", "merged", "dismissed"], "default": "new"}},
              {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
              {"name": "per_page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1,
                                                                                 "maximum": 200}}]
    opening = {"parameters": [_path_id("id")], "post": {
        "description": "Opens a waiting report as an incident of the report's body (the incident fields without "
                       "`organization`; `detected_at` defaults to the report's occurred_at, else its arrival, and may "
                       "not be after the arrival: 422). The incident's `reported_at` is the report's arrival, its "
                       "deadlines count as for any incident, the report becomes `opened` and its files the incident's "
                       "evidence. 403 for a role that may not decide reports (CSIRT, 統括責任者/CISO, admin may); "
                       "409 when the report is no longer `new`.",
        "requestBody": _body(s, ReportOpening),
        "responses": _ok(201, s.ref(Incident)) | _errors(400, 401, 403, 404, 409, 415, 422)}}
    filed = s.ref(FiledReport)
    return {"/api/v1/reports/{id}/open": opening, "/api/v1/reports": {
        "post": {"description": "For SOC/SIEM forwarders (a role that may create incidents in the body). With a "
                                "`dedup_key` equal to that of a report still waiting, or of one whose incident is "
                                "still open, the body is added there (200) instead of opening another (201).",
                 "requestBody": _body(s, ReportCreate),
                 "responses": _ok(201, filed) | _ok(200, filed) | _errors(400, 401, 403, 413, 415, 422)},
        "get": {"description": "The triage queue: a page of reports, oldest first.", "parameters": params,
                "responses": _ok(200, s.ref(Page[Report])) | _errors(401, 403, 404, 422)}}}


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
