"""The JSON shape of a deadline, as app/deadlines/serializers.py answers it."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from app.core.responses import Answer
from app.incidents.models import Stage


class Deadline(Answer):
    """API.md gives kind, due_at, met_at; the rest are extensions. `time_left` is Japanese
    (残り 2日3時間 / 超過 5時間); `late`: met after its due time."""

    id: int
    kind: str
    category: Literal["regulatory", "internal", "notice"]
    origin: Literal["rule", "manual"]
    label: str
    authority: str | None
    source: str | None
    due_at: dt.datetime
    counts_from: Literal["detected_at", "recognized_at"] | None = Field(
        description="the incident's time the due time counts from: recognized_at for the statutory reports when the "
                    "incident records it, else detected_at; null for a notice a handler added")
    met_at: dt.datetime | None
    met_by: str | None = Field(description="e-mail")
    reference: str | None = Field(description="the filing's reference (e.g. the PPC's receipt number)")
    note: str | None
    overdue: bool
    late: bool
    time_left: str | None = Field(description="null once met")


class ExcludedDeadline(Answer):
    """A duty the facts would call for but the encryption exclusion withdraws, with its reason."""

    kind: str
    label: str
    authority: str | None
    source: str | None
    reason: str


class DeadlineIncident(Answer):
    id: int
    reference: str
    title: str
    organization: str
    stage: Stage


class OpenDeadline(Deadline):
    """A deadline of the dashboard (`GET /api/v1/deadlines`), with its incident."""

    incident: DeadlineIncident
