"""Input hardening that holds for every endpoint (issue 8, item 4): a body over its limit is 413
wherever it is sent, no code path renders a user string as a template, and API bodies are read
only through explicit schemas."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app.config import REPO_ROOT
from tests.security.support import url_map_keys

APP = REPO_ROOT / "app"
BIG = b"x" * (1024 * 1024 + 1)
UPLOADS = {"api.upload_evidence", "workflow.upload_evidence", "public_report.form"}  # their own, larger limits


def _sources() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def test_no_user_string_can_become_a_template():
    offenders = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        for pattern in (r"render_template_string", r"from_string\(", r"jinja2\.Template\(", r"Environment\(", r"\|\s*safe\b"):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(REPO_ROOT)}: {pattern}")
    for path in sorted((APP / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8").replace("inline_css | safe", "")  # our own print.css, for the USB export
        if re.search(r"\|\s*safe\b|autoescape\s+false", text):
            offenders.append(f"{path.relative_to(REPO_ROOT)}: |safe / autoescape false")
    assert offenders == []


def test_api_handlers_never_read_request_json_directly():
    """Every JSON body goes through parse_json(<pydantic model with extra=forbid>), never request.json."""
    offenders = []
    for path in sorted((APP / "api").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("json", "get_json") and \
                    isinstance(node.value, ast.Name) and node.value.id == "request":
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_every_input_schema_forbids_unknown_fields():
    from pydantic import BaseModel

    from app.deadlines import schemas as deadline_schemas
    from app.incidents import schemas as incident_schemas
    from app.incidents import workflow_schemas
    from app.intake import schemas as intake_schemas
    from app.records import schemas as record_schemas
    from app.reviews import schemas as review_schemas
    models = [value for module in (incident_schemas, workflow_schemas, deadline_schemas, record_schemas, intake_schemas,
                                   review_schemas)
              for value in vars(module).values()
              if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
              and value.__module__ == module.__name__]
    assert len(models) >= 15
    lax = [m.__name__ for m in models if m.model_config.get("extra") != "forbid"]
    assert lax == []


@pytest.mark.parametrize("kind", ["json", "form"])
def test_an_oversized_body_is_413_on_every_writing_endpoint(app, client, factory, kind):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    seen = 0
    for endpoint, method in sorted(url_map_keys(app)):
        if method == "GET" or endpoint in UPLOADS:
            continue
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: "1" if m.group(1).endswith("id") or m.group(1) in
                      ("fiscal_year", "quarter") else "ageo", rule.rule)
        content_type = "application/json" if kind == "json" else "application/x-www-form-urlencoded"
        response = client.open(path, method=method, data=BIG, headers=headers | {"Content-Type": content_type})
        assert response.status_code == 413, f"{method} {path}: {response.status_code}"
        if path.startswith("/api/"):
            assert response.json["error"]["code"] == "too_large"
        seen += 1
    assert seen >= 30


def test_nothing_outside_the_backup_decompresses():
    """Issue 15 item 10 (zip bombs): XLSX is only written, mail and form attachments and evidence are
    stored as received; the only archive the app opens is a backup (app/backup)."""
    readers = re.compile(r"\bimport (zipfile|gzip|zlib|bz2|lzma|tarfile)\b|\bfrom (zipfile|gzip|zlib|bz2|lzma|tarfile)\b"
                         r"|load_workbook|unpack_archive|decompress")
    found = sorted(f"{path.relative_to(REPO_ROOT)}: {match.group()}" for path in _sources()
                   for match in readers.finditer(path.read_text(encoding="utf-8")))
    assert [line for line in found if not line.startswith("app/backup/")] == []
