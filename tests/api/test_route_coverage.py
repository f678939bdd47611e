"""Every route of the API is in the OpenAPI document, and everything the document describes is a
route (issue 16, item 5): the URL map and GET /api/v1/openapi.json say the same, method by method.

A Flask rule `/incidents/<int:incident_id>/tasks/<int:task_id>` is the path
`/incidents/{id}/tasks/{task_id}`: the variables are matched by position, with the same type
(`int` ↔ integer, a plain variable ↔ string) and the same name, except the first, which API.md
calls `{id}` where the handlers say which id it is (`incident_id`, `report_id`)."""
from __future__ import annotations

import re

import pytest

from app import create_app
from app.api.openapi import build_document
from app.config import Config

VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
PARAMETER = re.compile(r"\{(?P<name>\w+)\}")
TYPES = {"int": "integer", "float": "number"}  # every other converter (default, path, …) reads a string
IGNORED = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def url_map(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("routes")
    app = create_app(Config(INSTANCE_PATH=tmp, DATABASE_URL=f"sqlite:///{tmp / 'routes.db'}", TESTING=True,
                            SCHEDULER_ENABLED=False))
    return app.url_map


def _routes(url_map) -> dict[tuple[str, str], tuple[str, list[tuple[str, str]]]]:
    """(method, shape) → (endpoint, [(variable, type)]) of every rule; a shape has `{}` for each variable."""
    found = {}
    for rule in url_map.iter_rules():
        variables = [(m["name"], TYPES.get(m["converter"], "string")) for m in VARIABLE.finditer(rule.rule)]
        for method in rule.methods - IGNORED:
            found[(method, VARIABLE.sub("{}", rule.rule))] = (rule.endpoint, variables)
    return found


def _operations(document: dict) -> dict[tuple[str, str], tuple[str, list[tuple[str, str | None]]]]:
    """(method, shape) → (path, [(parameter, its schema's type)]) of every documented operation."""
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            declared = {p["name"]: p for p in item.get("parameters", []) + operation.get("parameters", [])
                        if p["in"] == "path"}
            parameters = [(m["name"], declared.get(m["name"], {}).get("schema", {}).get("type"))
                          for m in PARAMETER.finditer(path)]
            found[(method.upper(), PARAMETER.sub("{}", path))] = (path, parameters)
    return found


def test_every_api_route_is_documented_and_every_documented_operation_is_a_route(url_map):
    routes, operations = _routes(url_map), _operations(build_document())
    api_routes = {key for key, (endpoint, _) in routes.items() if endpoint.startswith("api.")}
    assert all(shape.startswith("/api/v1/") for _, shape in api_routes)
    undocumented = sorted(f"{method} {shape} ({routes[(method, shape)][0]})" for method, shape in api_routes - set(operations))
    missing = sorted(f"{method} {operations[(method, shape)][0]}" for method, shape in set(operations) - set(routes))
    assert not undocumented, f"routes the OpenAPI document does not describe: {undocumented}"
    assert not missing, f"documented operations that are no route: {missing}"
    assert len(api_routes) >= 31 and {("GET", "/healthz"), ("GET", "/metrics")} <= set(operations)


def test_path_variables_have_the_route_s_names_and_types(url_map):
    routes, operations = _routes(url_map), _operations(build_document())
    wrong = []
    for key, (path, parameters) in operations.items():
        endpoint, variables = routes[key]
        for index, ((name, kind), (variable, converter)) in enumerate(zip(parameters, variables, strict=True)):
            if kind is None:
                wrong.append(f"{key[0]} {path}: {{{name}}} is not declared as a path parameter")
            elif kind != converter:
                wrong.append(f"{key[0]} {path}: {{{name}}} is {kind}, {endpoint}'s <{variable}> is {converter}")
            if name != variable and not (index == 0 and name == "id"):
                wrong.append(f"{key[0]} {path}: {{{name}}} is {endpoint}'s <{variable}>")
    assert not wrong, wrong


def test_the_comparison_sees_a_missing_and_an_extra_operation(url_map):
    """The check can fail: a document without one operation and with one the app has not."""
    document = build_document()
    del document["paths"]["/api/v1/incidents/{id}/notes"]
    document["paths"]["/api/v1/incidents/{id}/links"] = {"get": {"responses": {}}}
    routes, operations = _routes(url_map), _operations(document)
    api_routes = {key for key, (endpoint, _) in routes.items() if endpoint.startswith("api.")}
    assert api_routes - set(operations) == {("POST", "/api/v1/incidents/{}/notes")}
    assert set(operations) - set(routes) == {("GET", "/api/v1/incidents/{}/links")}
