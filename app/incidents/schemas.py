"""Explicit input schemas for incidents: what a caller may send, nothing more.

The API validates JSON strictly (`model_validate_json(..., strict=True)`); the pages validate
form data leniently (strings to numbers). Both then call the same services, which check the
values against the organization's profile.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

from app.core.schemas import PagedQuery, PatchInput, StrictInput
from app.incidents.models import HeldIn, Impact, Severity, Source, Stage


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2999, 12, 31, tzinfo=dt.UTC)


def _in_range(value: dt.datetime) -> dt.datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("must be between 1970 and 2999")
    return value


def _datetime_or_day(value):
    """A query bound: an ISO datetime with offset, or a plain date meaning an Asia/Tokyo day."""
    if isinstance(value, str) and "T" not in value and " " not in value.strip():
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("expected a date (YYYY-MM-DD) or a datetime with offset") from None
        if not EARLIEST.date() < day < LATEST.date():
            raise ValueError("must be between 1970 and 2999")
        return day
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError("expected a date (YYYY-MM-DD) or a datetime with offset") from None
    if parsed.tzinfo is None:
        raise ValueError("a datetime needs a UTC offset, e.g. +09:00")
    return _in_range(parsed)


Text = Annotated[str, AfterValidator(_no_nul)]
Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]
Bound = Annotated[dt.datetime | dt.date, BeforeValidator(_datetime_or_day)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)]
Code = Annotated[str, StringConstraints(max_length=40), AfterValidator(_no_nul)]
Description = Annotated[str, StringConstraints(max_length=100_000), AfterValidator(_no_nul)]


Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254,
                                        pattern=r"^[^@\s]+@[^@\s]+$")]


class PersonalData(StrictInput):
    involved: bool = False
    persons: int = Field(default=0, ge=0, le=200_000_000)
    sensitive: bool = False
    my_number: bool = False
    financial_damage: bool = False
    malicious: bool = False
    ordinance_sensitive: bool = False  # 条例要配慮個人情報 (counts where the body's ordinance defines it)
    held_in: list[HeldIn] = Field(default_factory=list, max_length=3)  # which systems held the data (番号法)
    encrypted: bool = False  # 高度な暗号化等: withdraws the duties it excludes, each with its reason
    public_exposure: bool = False  # may be viewed by 不特定多数 electronically


class IncidentFields(StrictInput):
    """Fields shared by create and update; on update every one is optional. Those an incident
    cannot be without may be left out but not sent as null (see PatchInput)."""

    title: Title = None
    description: Description | None = None
    threat_category: Code = None
    subcategory: Code | None = None
    detected_at: Moment = None
    recognized_at: Moment | None = None  # when a reportable situation was known; null: detected_at
    organ: Code | None = None  # a 機関 of the body's profile (reporting.organs); null: the body itself
    source: Source = None
    network_segments: list[Code] | None = Field(default=None, max_length=10)
    impacts: list[Impact] | None = Field(default=None, max_length=10)
    asset_classes: dict[Code, Code] | None = Field(default=None, max_length=10)
    personal_data: PersonalData | None = None
    owner: Email | None = None  # 主担当: a person of the body who may work incidents
    members: list[Email] | None = Field(default=None, max_length=20)  # 担当メンバー: the whole list


class IncidentCreate(IncidentFields):
    organization: Code
    title: Title
    threat_category: Code
    detected_at: Moment
    # Extension: an incident handled on paper while the system was down, entered afterwards with
    # its real times (each no earlier than the one before, none in the future).
    reported_at: Moment | None = None
    acknowledged_at: Moment | None = None


class IncidentUpdate(IncidentFields, PatchInput):
    version: int
    severity: Severity | None = None
    severity_reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_no_nul)] | None = None


class IncidentQuery(PagedQuery):
    organization: Code | None = None
    owner: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_no_nul)] | None = None
    threat_category: Code | None = None
    stage: Stage | None = None
    severity: Severity | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_no_nul)] | None = None
    detected_from: Bound | None = None
    detected_to: Bound | None = None
