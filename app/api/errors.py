"""The JSON error shape and the order of checks: 400/415, then 422, then 403, then 409."""
from __future__ import annotations

from typing import TypeVar

from flask import current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app.api import bp
from app.auth.models import User
from app.auth.services import user_for_token
from app.core.errors import HTTP_ERROR_CODES, DomainError
from app.core.schemas import PatchInput

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None):
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.fields)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    return error_response(exc.status, exc.code, exc.message, exc.fields)


@bp.errorhandler(StaleDataError)
def _stale(_exc):
    return error_response(409, "conflict", "the incident was changed by someone else; reload it")


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error_response(exc.code or 500, HTTP_ERROR_CODES.get(exc.code, "error"), exc.description or exc.name)


def pydantic_fields(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"]) or "body"
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        fields.setdefault(loc, message)
    return fields


def parse_json(model: type[M]) -> M:
    """Reads the request body as JSON into `model`, strictly: 415, 400 or 422 on bad input."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "expected Content-Type: application/json")
    raw = request.get_data(cache=True)
    try:
        payload = current_app.json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_request", f"the body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid", "expected a JSON object", {"body": "expected an object"})
    if issubclass(model, PatchInput) and (refusal := model.refusal_of(set(payload))) is not None:
        raise ApiError(422, "invalid", refusal, {"body": refusal})
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):  # e.g. nested deeper than pydantic reads
            raise ApiError(400, "bad_request", "the body is not valid JSON: " + exc.errors()[0]["msg"]) from None
        raise ApiError(422, "invalid", "invalid input", pydantic_fields(exc)) from None


def parse_query(model: type[M]) -> M:
    data = {k: v for k, v in request.args.items() if v != ""}
    allowed = set(model.model_fields)
    data = {k: v for k, v in data.items() if k in allowed}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid", "invalid query", pydantic_fields(exc)) from None


@bp.before_request
def _authenticate():
    header = request.headers.get("Authorization", "")
    if request.endpoint in ("api.openapi_document",):
        return None
    scheme, _, token = header.partition(" ")
    user = user_for_token(token.strip()) if scheme.lower() == "bearer" and token else None
    if user is None:
        return error_response(401, "unauthorized", "a valid API token is required (Authorization: Bearer …)")
    g.api_user = user
    return None


def api_user() -> User:
    return g.api_user
