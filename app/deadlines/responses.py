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
    met_at: dt.datetime | None
    met_by: str | None = Field(description="e-mail")
    reference: str | None = Field(description="the filing's reference (e.g. the PPC's receipt number)")
    note: str | None
    overdue: bool
    late: bool
    time_left: str | None = Field(description="null once met")


class DeadlineIncident(Answer):
    id: int
    reference: str
    title: str
    organization: str
    stage: Stage


class OpenDeadline(Deadline):
    """A deadline of the dashboard (`GET /api/v1/deadlines`), with its incident."""

    incident: DeadlineIncident
