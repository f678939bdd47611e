"""The risk register's part of the OpenAPI document: its paths, and the JSON schemas of its bodies
and answers generated from the pydantic models the handlers answer with (app/risks/schemas.py)."""
from __future__ import annotations

from pydantic import TypeAdapter

from app.risks import schemas

REF = "#/components/schemas/{model}"


def risk_schemas() -> dict:
    """Component schemas: every input and answer model, with the models they nest."""
    components: dict = {}
    for model in (*schemas.INPUTS, *schemas.ANSWERS):
        schema = TypeAdapter(model).json_schema(ref_template=REF)
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return components


def _ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def _answers(status: int, name: str, *errors: int) -> dict:
    error = {"description": "error", "content": {"application/json": {"schema": _ref("Error")}}}
    return {str(status): {"description": "ok", "content": {"application/json": {"schema": _ref(name)}}}} | \
        {str(code): error for code in errors}


def _body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


ORG = {"name": "org", "in": "path", "required": True, "schema": {"type": "string"},
       "description": "the body's code (404 when the caller does not belong to it)"}
PAGING = [{"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
          {"name": "per_page", "in": "query", "required": False,
           "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}]
WRITE_ERRORS = (400, 401, 403, 404, 409, 415, 422)


def risk_paths() -> dict:
    base = "/api/v1/risks/{org}"
    finding_id = {"name": "finding_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        base: {"parameters": [ORG], "get": {
            "description": "Extension (issue 17): the body's risk register (見直し) as it stands — each threat "
                           "category (and subcategory) × asset class × network segment with its current likelihood "
                           "and loss on the body's 5×5 scale, who assessed it, when and why, its earlier "
                           "assessments, and beside it the current fiscal year's incidents, near misses, open "
                           "findings and changes of circumstance; where incident history disagrees with the "
                           "assessment (playbooks/risk.yaml `disagreement`), and the recommendations to the "
                           "情報セキュリティ委員会. Roles that read all of the body's incidents (403 for others).",
            "responses": _answers(200, "Register", 401, 403, 404)}},
        base + "/assessments": {"parameters": [ORG], "post": {
            "description": "Extension: a new assessment of one row (CSIRT, admin). The row's current assessment "
                           "stays as history: send its id as `supersedes` (none for a row not yet assessed); "
                           "otherwise 409, someone assessed the row meanwhile. Codes not in the body's profile "
                           "are 422 naming the field.",
            "requestBody": _body("RiskAssessmentInput"),
            "responses": _answers(201, "RegisterAssessment", *WRITE_ERRORS)}},
        base + "/findings": {"parameters": [ORG],
            "get": {"description": "Extension: findings of 監査 and 自己点検, open ones first (soonest due).",
                    "parameters": PAGING, "responses": _answers(200, "RegisterFindingPage", 401, 403, 404, 422)},
            "post": {"description": "Extension: a finding against a clause of the body's policy (CSIRT, admin). "
                                    "`source: audit` is 422 for a body whose policy provides for self-inspection "
                                    "only (取手市議会).",
                     "requestBody": _body("RiskFindingInput"),
                     "responses": _answers(201, "RegisterFinding", *WRITE_ERRORS)}},
        base + "/findings/{finding_id}/resolve": {"parameters": [ORG, finding_id], "post": {
            "description": "Extension: the finding was dealt with on `resolved_on`; 409 when it already was.",
            "requestBody": _body("RiskFindingResolution"),
            "responses": _answers(200, "RegisterFinding", *WRITE_ERRORS)}},
        base + "/circumstances": {"parameters": [ORG],
            "get": {"description": "Extension: dated changes of circumstance, newest first.", "parameters": PAGING,
                    "responses": _answers(200, "RegisterCircumstancePage", 401, 403, 404, 422)},
            "post": {"description": "Extension: a change of circumstance (a law or guideline revised, a new "
                                    "system …) as a dated note (CSIRT, admin).",
                     "requestBody": _body("RiskCircumstanceInput"),
                     "responses": _answers(201, "RegisterCircumstance", *WRITE_ERRORS)}},
        base + "/near-misses": {"parameters": [ORG],
            "get": {"description": "Extension: near misses (ヒヤリハット), newest first.", "parameters": PAGING,
                    "responses": _answers(200, "RegisterNearMissPage", 401, 403, 404, 422)},
            "post": {"description": "Extension: keeps a report of the body closed as 非該当 as a near miss with "
                                    "the threat it came close to (201; 200 when it was kept already and is "
                                    "changed). A report not of the body is 422 `fields.report`; one not "
                                    "dismissed is 409.",
                     "requestBody": _body("RiskNearMissInput"),
                     "responses": _answers(201, "RegisterNearMiss", *WRITE_ERRORS) | _answers(200, "RegisterNearMiss")}},
    }
