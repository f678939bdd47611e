"""Schemathesis against our own OpenAPI description (issue 8, item 5: fuzzing).

Every operation of `GET /api/v1/openapi.json` is fed generated requests, valid and invalid
(schemathesis' coverage cases plus FUZZ_EXAMPLES random ones per operation, default 3), as a CSIRT
member of 上尾市 holding a real API token, over WSGI into the `app` of each engine. Path ids are
mostly replaced by real ones (an incident with tasks, deadlines, evidence, a note and a saved
post-incident record; now and then another body's incident), so the handlers behind the 404 run too.

Checks: never a 5xx (`not_a_server_error`, API.md: "Never 500 for bad input"), only documented
status codes, documented content types and response schemas, invalid input rejected with 4xx, and
no answer but 401 without the token. `make fuzz` runs 500 examples per operation with a random seed;
`make test` a fixed seed (FUZZ_SEED) so that the suite stays reproducible. The number of cases, per
operation and per status, is printed at the end of the module and written to
test-artifacts/fuzz-openapi-<engine>.json.
"""
from __future__ import annotations

import collections
import contextvars
import hashlib
import io
import itertools
import json
import os
import secrets
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks
from sqlalchemy import update

from app.api.openapi import build_document
from app.auth.models import ApiToken
from app.auth.services import user_for_token
from app.config import REPO_ROOT
from app.core.db import db
from app.incidents.models import Incident
from tests.fuzz import say
from tests.records.helpers import BODY as RECORD_BODY
from tests.workflow.helpers import API, STAGES, create

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
SEED = os.environ.get("FUZZ_SEED", "20261108")
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}  # what a real socket gives; /metrics answers 404 to non-local callers

# One token for the whole module, so that schemathesis knows it from the start (a configured header is
# never "negated" into a request without it; only ignored_auth's probes leave it out). fuzz_data gives it
# to a fresh CSIRT member of 上尾市 in each test.
TOKEN = "csirt_fuzz_" + secrets.token_urlsafe(24)
# A body over 1 MiB is refused with 413 (API.md): a rejection, as much as 400 or 422.
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
CONFIG = {"generation": {"max-examples": EXAMPLES, "database": "none"}, "headers": {"Authorization": f"Bearer {TOKEN}"},
          "checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}}
if SEED != "random":
    CONFIG["seed"] = int(SEED)
# The document is the one the app serves (test_served_document_is_the_fuzzed_one checks it).
schema = schemathesis.openapi.from_dict(build_document(), config=SchemathesisConfig.from_dict(CONFIG))

CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.ignored_auth,
]

# Checks left out where they cannot judge:
# - multipart form fields are text on the wire, so a "negative" integer `description` (sent as "2987241")
#   is a valid text and rightly accepted;
# - the API reads an empty query value as not given (parse_query in app/api/errors.py: the pages' filter
#   forms send empty fields) and a repeated one by its first value, so `?format=` is the default format
#   and `?page=&page={}` the first page, not invalid input.
DOWNLOADS = {"GET /api/v1/reviews/{org}/{fiscal_year}/q{quarter}", "GET /api/v1/reviews/{org}/{fiscal_year}"}
UPLOAD = "POST /api/v1/incidents/{id}/evidence"


def _checks(case, status: int) -> list:
    label = case.operation.label
    lenient = any(value == "" or isinstance(value, list) for value in (case.query or {}).values())
    if label == UPLOAD or (lenient and not _positive(case, ParameterLocation.QUERY)):
        return [check for check in CHECKS if check is not openapi_checks.negative_data_rejection]
    return CHECKS


CASES: collections.Counter = collections.Counter()
STATUSES: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
SECONDS: collections.Counter = collections.Counter()


def _api(client, method: str, path: str, headers: dict, **kwargs):
    response = client.open(path, method=method, headers=headers, **kwargs)
    assert response.status_code in (200, 201), (path, response.get_data(as_text=True))
    return response.json


@pytest.fixture
def fuzz_data(app, client, factory) -> dict:
    """A CSIRT member's token and the ids of real objects the generated requests can hit."""
    csirt = factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT")
    factory.token(csirt)  # a real token row, then the module's token in place of its secret
    db.session.execute(update(ApiToken).where(ApiToken.user_id == csirt.id)
                       .values(token_hash=hashlib.sha256(TOKEN.encode()).hexdigest()))
    db.session.commit()
    assert user_for_token(TOKEN).id == csirt.id
    headers = {"Authorization": f"Bearer {TOKEN}"}
    ageo = next(o for o in _api(client, "GET", "/api/v1/organizations", headers)["items"] if o["code"] == "ageo")
    incident = create(client, headers, personal_data={"involved": True, "persons": 150, "malicious": True})
    incident_id = incident["id"]
    tasks = _api(client, "GET", f"{API}/{incident_id}/tasks", headers)["items"]
    _api(client, "POST", f"{API}/{incident_id}/notes", headers, json={"body": "**初動** 完了"})
    evidence = _api(client, "POST", f"{API}/{incident_id}/evidence", headers, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(b"GET /login 200\n"), "access.log"), "description": "ログ"})
    record = _api(client, "PUT", f"{API}/{incident_id}/post-incident-record", headers, json=RECORD_BODY)
    deadlines = _api(client, "GET", f"{API}/{incident_id}/deadlines", headers)["items"]
    other = factory.user({"saga": ["csirt"]}, name="佐賀 CSIRT")
    foreign = create(client, factory.headers(other), organization="saga")["id"]
    return {
        "real": {"id": incident_id, "task_id": tasks[0]["id"], "evidence_id": evidence["id"],
                 "deadline_id": deadlines[0]["id"], "recommendation_id": record["recommendations"][0]["id"],
                 "org": "ageo", "fiscal_year": 2026},
        "foreign_id": foreign, "email": csirt.email,
        "segments": [s["code"] for s in ageo["network_segments"]], "clauses": [c["code"] for c in ageo["policy_clauses"]],
    }


def _positive(case, location: ParameterLocation) -> bool:
    """Whether schemathesis generated that part of the request to be valid (negative parts stay as they are)."""
    component = case.meta.components.get(location) if case.meta is not None else None
    return component is not None and component.mode == GenerationMode.POSITIVE


ROLLS = itertools.count()
NOTICE_KINDS = ["persons_notice", "mic_report", "police_report", "public_announcement"]
PAST = "2026-11-01T09:00:00+09:00"


def _aim(case, data: dict) -> None:
    """Points most generated requests at real objects, so the handlers behind 404 and 422 run too.

    Six cases in eight get real path ids (one in eight another body's incident, one in eight keeps
    the generated id) and, when schemathesis meant the body to be valid, codes from 上尾市's profile
    in place of the random strings its schema can only call "a string"."""
    roll = next(ROLLS) % 8
    params = case.path_parameters or {}
    if _positive(case, ParameterLocation.PATH):
        for name in list(params):
            if name in data["real"] and roll < 7:
                params[name] = data["foreign_id"] if name == "id" and roll == 6 else data["real"][name]
    body = case.body
    if roll >= 6 or not isinstance(body, dict) or not _positive(case, ParameterLocation.BODY):
        return
    key = f"{case.method.upper()} {case.path}"
    if key in ("POST /api/v1/incidents", "PATCH /api/v1/incidents/{id}"):
        if key.startswith("POST"):
            body.update(organization="ageo", detected_at=PAST)
            body.pop("reported_at", None)
            body.pop("acknowledged_at", None)
        else:
            db.session.expire_all()
            body["version"] = db.session.get(Incident, data["real"]["id"]).version
        if "threat_category" in body or key.startswith("POST"):
            body["threat_category"] = "intentional"
            body["subcategory"] = "malware"
        if body.get("network_segments"):
            body["network_segments"] = data["segments"][: len(body["network_segments"])]
        body.pop("asset_classes", None)
        if "detected_at" in body:
            body["detected_at"] = PAST
    elif key == "PUT /api/v1/incidents/{id}/post-incident-record":
        body["policy_clauses"] = data["clauses"][: len(body.get("policy_clauses", []))]
        for item in body.get("recommendations") or []:
            if isinstance(item, dict):
                item.pop("id", None)
                item["clause"] = data["clauses"][0]
        body.pop("version", None)
    elif key == "POST /api/v1/incidents/{id}/deadlines":
        body["kind"] = NOTICE_KINDS[roll % len(NOTICE_KINDS)]
        body.pop("due_at", None)
    elif key == "POST /api/v1/incidents/{id}/stage":
        body["to"] = STAGES[roll % len(STAGES)]
    elif key == "POST /api/v1/reports":
        body["organization"] = "ageo"
        if body.get("occurred_at"):
            body["occurred_at"] = PAST
    elif key == "PATCH /api/v1/incidents/{id}/tasks/{task_id}" and "assignee" in body:
        body["assignee"] = data["email"]


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
def test_openapi_operation(case, app, fuzz_data):
    _aim(case, fuzz_data)
    case.operation.schema.app = app  # this engine's app, also for the probes of ignored_auth
    label = case.operation.label
    started = time.monotonic()
    # A fresh context per request, as in production (see IsolatedClient in tests/conftest.py).
    transport = {"app": app, "environ_base": LOCAL}
    response = contextvars.Context().run(case.call, **transport)
    contextvars.Context().run(case.validate_response, response, checks=_checks(case, response.status_code),
                              transport_kwargs=transport)
    SECONDS[label] += time.monotonic() - started
    CASES[label] += 1
    STATUSES[label][response.status_code] += 1


def test_served_document_is_the_fuzzed_one(app):
    loaded = contextvars.Context().run(schemathesis.openapi.from_wsgi, "/api/v1/openapi.json", app)
    assert loaded.raw_schema == schema.raw_schema
    served = {result.ok().label for result in loaded.get_all_operations()}
    fuzzed = {result.ok().label for result in schema.get_all_operations()}
    assert served == fuzzed - {"GET /api/v1/openapi.json"} and len(fuzzed) >= 25  # it leaves out its own endpoint


def test_review_downloads_declare_their_media_types():
    for path in DOWNLOADS:
        content = schema.raw_schema["paths"][path.split(" ", 1)[1]]["get"]["responses"]["200"]["content"]
        assert {"text/markdown", "text/csv"} <= set(content), (path, sorted(content))
        assert any("spreadsheetml" in media_type for media_type in content), (path, sorted(content))


def test_json_bodies_declare_413():
    undeclared = [f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items()
                  for method, operation in item.items() if isinstance(operation, dict) and "requestBody" in operation
                  and "413" not in operation["responses"]]
    assert not undeclared, undeclared


@pytest.fixture(scope="module", autouse=True)
def _report(request, engine_name):
    yield
    if not CASES:
        return
    total = sum(CASES.values())
    by_status = collections.Counter()
    for counter in STATUSES.values():
        by_status.update(counter)
    summary = {"engine": engine_name, "examples_per_operation": EXAMPLES, "seed": SEED, "operations": len(CASES),
               "cases": total, "by_status": {str(k): v for k, v in sorted(by_status.items())},
               "per_operation": {label: {"cases": CASES[label], "seconds": round(SECONDS[label], 2),
                                         "statuses": {str(k): v for k, v in sorted(STATUSES[label].items())}}
                                 for label in sorted(CASES)}}
    artifacts = REPO_ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / f"fuzz-openapi-{engine_name}.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    say(request, f"openapi fuzz [{engine_name}]: {total} cases over {len(CASES)} operations (FUZZ_EXAMPLES="
                 f"{EXAMPLES}, seed {SEED}); statuses {dict(sorted(by_status.items()))}")
    CASES.clear()
    STATUSES.clear()
    SECONDS.clear()
