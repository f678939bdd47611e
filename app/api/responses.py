"""The API's own answers, and the incident as the API composes it from the domains' shapes."""
from __future__ import annotations

from pydantic import Field

from app.core.responses import Answer
from app.deadlines.responses import Deadline, ExcludedDeadline
from app.escalation.responses import Escalation
from app.incidents.responses import IncidentDetail


class ErrorDetail(Answer):
    code: str
    message: str
    fields: dict[str, str] = Field(description="field → why it was refused")


class Error(Answer):
    """Every error (API.md: `{"error": {"code", "message", "fields"}}`)."""

    error: ErrorDetail


class Incident(IncidentDetail):
    """An incident. Extensions beyond API.md: computed_severity, severity_basis (the rule of
    playbooks/severity.yaml that gave the derived severity), severity_override, asset_classes,
    created_at, updated_at, reporter_id, internal_deadlines (the internal chain's target times:
    internal_manager_report, internal_chief_report, csirt_assessment, ciso_report), closed_at,
    not_incident, closed_reason. `personal_data` accepts `ordinance_sensitive` (条例要配慮個人情報)
    and answers it where the body's profile says its ordinance defines it
    (reporting.ordinance_sensitive). Creation also accepts `reported_at` and `acknowledged_at` for
    an incident handled on paper while the system was down (detected ≤ reported ≤ acknowledged ≤
    now; an acknowledged one is not escalated; only a role that may acknowledge may send them,
    otherwise 403 naming them in `fields`); the answer's `recorded_late` marks such an entry and
    `reported_at` is the real report time (else created_at). Second round (issue 17): `recognized_at`,
    `organ`, `personal_data.held_in`, `personal_data.encrypted` and `personal_data.public_exposure`
    may be sent on create and PATCH (recognized_at and encrypted only by a role that may edit
    incidents, otherwise 403 naming `recognized_at` / `personal_data.encrypted`); the answer adds
    `reporting_rules` and `excluded_deadlines`."""

    deadlines: list[Deadline] = Field(description="What is owed outside the office: the regulatory kinds of API.md (and "
                                                  "council_preliminary / council_final for assemblies, from their ordinance) "
                                                  "and the notices a handler added (persons_notice, mic_report, juki_report, "
                                                  "lgwan_report, police_report, public_announcement). Recalculated whenever "
                                                  "the facts change.")
    internal_deadlines: list[Deadline] = Field(description="the internal chain's target times")
    excluded_deadlines: list[ExcludedDeadline] = Field(description="duties the facts would call for but the "
                                                                   "encryption withdraws, each with its reason")
    escalation: Escalation | None = Field(description="the current escalation; null before any")


class AuditVerification(Answer):
    ok: bool
    entries: int
    first_bad: int | None = Field(description="the first altered entry, or the last one left before missing ones")


class Health(Answer):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])
