"""The JSON shape of an incident's current escalation (its `escalation` field)."""
from __future__ import annotations

import datetime as dt

from pydantic import Field

from app.core.responses import Answer
from app.escalation.models import EscalationState


class Escalation(Answer):
    """API.md gives level, next_at, state; extensions: cycle, levels."""

    level: int = Field(description="the last level reached, 0 before the first")
    next_at: dt.datetime | None
    state: EscalationState
    cycle: int = Field(description="a raised severity starts a new cycle")
    levels: int = Field(description="how many levels the chain has")
