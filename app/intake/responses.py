"""The JSON shape of a report for triage, as `report_json` (app/intake/services.py) answers it."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from app.core.responses import Answer
from app.incidents.models import Source
from app.intake.models import Channel, ReportState


class ReportIncident(Answer):
    id: int
    reference: str


class Report(Answer):
    """A report waiting for triage, or decided."""

    id: int
    receipt: str = Field(description="R-XXXX-XXXX, what the reporter quotes")
    organization: str
    state: ReportState
    channel: Literal[tuple(Channel)] = Field(description="how it came in")  # type: ignore[valid-type]  # not a $ref: notifications have a Channel too
    source: Source
    title: str
    body: str = Field(description="plain text")
    occurred_at: dt.datetime | None
    received_at: dt.datetime
    sender: str | None
    contact: str | None
    dedup_key: str | None
    flagged: bool
    flag_reason: str | None
    incident: ReportIncident | None
    decision_reason: str | None


class FiledReport(Report):
    """The answer of POST /api/v1/reports."""

    added: bool = Field(description="true when it joined an open report or incident (200) instead of opening one (201)")
