"""Explicit input schemas for incidents: what a caller may send, nothing more.

The API validates JSON strictly (`model_validate_json(..., strict=True)`); the pages validate
form data leniently (strings to numbers). Both then call the same services, which check the
values against the organization's profile.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from app.incidents.models import Impact, Severity, Source, Stage


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)]
Code = Annotated[str, StringConstraints(max_length=40), AfterValidator(_no_nul)]
Description = Annotated[str, StringConstraints(max_length=100_000), AfterValidator(_no_nul)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonalData(_Input):
    involved: bool = False
    persons: int = Field(default=0, ge=0, le=200_000_000)
    sensitive: bool = False
    my_number: bool = False
    financial_damage: bool = False
    malicious: bool = False


class IncidentFields(_Input):
    """Fields shared by create and update; on update every one is optional."""

    title: Title | None = None
    description: Description | None = None
    threat_category: Code | None = None
    subcategory: Code | None = None
    detected_at: AwareDatetime | None = None
    source: Source | None = None
    network_segments: list[Code] | None = Field(default=None, max_length=10)
    impacts: list[Impact] | None = Field(default=None, max_length=10)
    asset_classes: dict[Code, Code] | None = Field(default=None, max_length=10)
    personal_data: PersonalData | None = None


class IncidentCreate(IncidentFields):
    organization: Code
    title: Title
    threat_category: Code
    detected_at: AwareDatetime


class IncidentUpdate(IncidentFields):
    version: int
    severity: Severity | None = None
    severity_reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_no_nul)] | None = None


class IncidentQuery(_Input):
    organization: Code | None = None
    threat_category: Code | None = None
    stage: Stage | None = None
    severity: Severity | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_no_nul)] | None = None
    detected_from: AwareDatetime | dt.date | None = None
    detected_to: AwareDatetime | dt.date | None = None
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=200)
