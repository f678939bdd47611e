"""The JSON shapes of an incident's own fields and of its tasks, timeline and evidence, as
app/incidents/serializers.py answers them (API.md, "Incident fields"). app/api/responses.py adds
what the domains that react to an incident keep (its deadlines and escalation)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from app.core.responses import Answer, sometimes
from app.incidents.models import HeldIn, Impact, Severity, Source, Stage


class IncidentSummary(Answer):
    """An incident as the list answers it (`GET /api/v1/incidents`): the fields of a row."""

    id: int
    reference: str = Field(examples=["AGEO-2026-0001"], description="`<PREFIX>-<year>-<NNNN>`")
    organization: str = Field(description="the body's code")
    title: str
    threat_category: str
    subcategory: str | None
    severity: Severity
    stage: Stage
    source: Source
    detected_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    acknowledged_at: dt.datetime | None = Field(description="the first acknowledgement")
    version: int
    owner: str | None = Field(description="主担当: the e-mail of a person of the body who may work incidents; set "
                                          "by POST and PATCH (`owner`, null to clear; another person is 422 "
                                          "`fields.owner`); the list filters by `owner` (an e-mail, or `me`)")


class SeverityOverride(Answer):
    """Who overrode the derived severity (PATCH with `severity` and `severity_reason`), when and why."""

    reason: str | None
    by: int | None = Field(description="the id of the person")
    at: dt.datetime


class PersonalDataFacts(Answer):
    """API.md's six fields and the second round's held_in, encrypted, public_exposure; and
    `ordinance_sensitive` (条例要配慮個人情報) where the body's profile says its ordinance defines it
    (reporting.ordinance_sensitive)."""

    involved: bool
    persons: int
    sensitive: bool
    my_number: bool
    financial_damage: bool
    malicious: bool
    held_in: list[HeldIn] = Field(description="which systems held the data: information_provision_network / "
                                  "my_number_use / my_number_related: a 特定個人情報 leak from such a system is "
                                  "reportable whatever the number of persons")
    encrypted: bool = Field(description="高度な暗号化等: withdraws the duties it excludes, listed with their reason "
                                        "in excluded_deadlines")
    public_exposure: bool = Field(description="不特定多数閲覧のおそれ")
    ordinance_sensitive: bool = sometimes("only where the body's ordinance defines 条例要配慮個人情報")


class IncidentDetail(IncidentSummary):
    """An incident's own fields: the row's and the rest of what it records."""

    description: str = Field(description="Markdown")
    description_html: str = Field(description="the description rendered and sanitized")
    network_segments: list[str]
    impacts: list[Impact]
    asset_classes: dict[str, str] = Field(description="axis code → level code of the body's classification scheme")
    personal_data: PersonalDataFacts
    computed_severity: Severity = Field(description="derived from the facts by playbooks/severity.yaml")
    severity_basis: str | None = Field(description="the rule of playbooks/severity.yaml that gave the derived severity")
    severity_override: SeverityOverride | None
    reporter_id: int | None
    closed_at: dt.datetime | None
    reported_at: dt.datetime = Field(description="the real report time (else created_at)")
    recorded_late: bool = Field(description="entered afterwards with its real `reported_at` / `acknowledged_at`")
    not_incident: bool = Field(description="closed at triage as 非該当")
    closed_reason: str | None
    recognized_at: dt.datetime | None = Field(description="when the body knew of a reportable situation; not before "
                                                          "detected_at, not in the future; null: the statutory reports "
                                                          "count from detected_at")
    members: list[str] = Field(description="担当メンバー: e-mails, by name; set by POST and PATCH as the whole list "
                                           "(at most 20; anyone who may not work the body's incidents is 422 "
                                           "`fields.members`)")
    organ: str | None = Field(description="the 機関 of the body the incident concerns (its profile's reporting.organs, "
                                          "e.g. `gikai` for a city's 議会); null: the body itself. Chooses the reporting "
                                          "rules; 422 `fields.organ` for a code the body's profile does not list")
    reporting_rules: str = Field(description="the reporting rules applied (playbooks/reporting/<code>.yaml: national, "
                                             "assembly), from the body and its 機関")


class Task(Answer):
    """A task of the incident's checklist. API.md gives id, stage, title, required, done, done_by,
    done_at; extensions: code, source, guidance, role, assignee."""

    id: int
    stage: Stage
    code: str | None = Field(description="the playbook item's code; null for a task added by hand")
    source: str = Field(description="common / <category> / <category>.<subcategory> / manual")
    title: str
    guidance: str
    required: bool
    role: str | None = Field(description="the role code the playbook gives the task to")
    assignee: str | None = Field(description="e-mail")
    done: bool
    done_by: str | None = Field(description="e-mail")
    done_at: dt.datetime | None


class TimelineEvent(Answer):
    """An entry of the incident's timeline (oldest first). Notes carry `data.body` (Markdown) and
    the sanitized `body_html`."""

    id: int
    at: dt.datetime
    actor: str | None = Field(description="e-mail")
    kind: str
    summary: str
    data: dict[str, Any]
    body_html: str = sometimes("notes only: `data.body` rendered and sanitized")


class Evidence(Answer):
    """A file kept as evidence (証拠保全), stored by its SHA-256 outside the web root."""

    id: int
    sha256: str
    size: int
    filename: str = Field(description="the uploaded name, kept for display")
    description: str
    uploaded_by: str | None = Field(description="e-mail")
    uploaded_at: dt.datetime
    url: str = Field(description="downloads it as an attachment, each download logged")
