"""The JSON shape of an organization and its policy profile (`GET /api/v1/organizations`), as
`organization_summary` (app/organizations/services.py) answers it."""
from __future__ import annotations

from pydantic import Field

from app.core.responses import Answer
from app.organizations.profiles import BodyKind


class CodeLabel(Answer):
    code: str
    label: str


class ThreatCategory(Answer):
    """A threat category of the body's 基本方針 and its subcategories."""

    code: str
    label: str
    label_en: str
    subcategories: list[CodeLabel]


class ClassificationAxis(Answer):
    """An axis of the body's asset classification and its level codes."""

    code: str
    label: str
    levels: list[str]


class Organization(Answer):
    """A body the caller belongs to. API.md gives code, name, parent, threat_categories,
    network_segments, policy_clauses; extensions: name_en, kind, emergency_plan_owner,
    asset_classification."""

    code: str
    name: str
    name_en: str
    kind: BodyKind
    parent: str | None = Field(description="the body whose plan and measures it follows")
    emergency_plan_owner: str = Field(description="whose 緊急時対応計画 the body follows")
    threat_categories: list[ThreatCategory]
    network_segments: list[CodeLabel]
    asset_classification: list[ClassificationAxis]
    policy_clauses: list[CodeLabel] = Field(description="the numbered measures of its 基本方針, e.g. 6-4 人的セキュリティ")
