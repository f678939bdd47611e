"""The JSON shape of a post-incident record (事後報告), as app/records/serializers.py answers it."""
from __future__ import annotations

import datetime as dt

from pydantic import Field

from app.core.responses import Answer
from app.records.schemas import Status


class Recommendation(Answer):
    """A recommendation for the policy review (提案 / 採用 / 不採用 / 実施済)."""

    id: int
    text: str
    clause: str | None = Field(description="a policy clause code of the body's profile")
    status: Status


class RecordTimes(Answer):
    """The key times, from the incident (frozen at approval)."""

    detected_at: dt.datetime | None
    reported_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    contained_at: dt.datetime | None
    recovered_at: dt.datetime | None


class Record(Answer):
    """The record; before any PUT a draft from the incident (`saved: false`): the key times, the
    measures logged as done tasks, the personal-data facts. cause, impact, measures and prevention
    are Markdown, each also answered sanitized as `*_html`."""

    incident: int = Field(description="the incident's id")
    reference: str
    saved: bool
    cause: str
    impact: str
    measures: str
    prevention: str
    cause_html: str
    impact_html: str
    measures_html: str
    prevention_html: str
    policy_clauses: list[str]
    recommendations: list[Recommendation]
    times: RecordTimes
    version: int | None = Field(description="send it back with PUT (409 when stale); null before the first save")
    saved_at: dt.datetime | None
    saved_by: str | None = Field(description="e-mail")
    approved_at: dt.datetime | None
    approved_by: str | None = Field(description="e-mail")
