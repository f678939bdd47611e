"""JSON API v1: thin handlers over the domain services (API.md)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import (  # noqa: E402,F401
    audit,
    deadlines,
    errors,
    escalation,
    evidence,
    incidents,
    openapi,
    organizations,
    records,
    reports,
    reviews,
    risks,
    workflow,
)
