from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.timeutil import now_utc


class EscalationState(enum.StrEnum):
    ACTIVE = "active"              # levels still to fire
    ACKNOWLEDGED = "acknowledged"  # someone acknowledged: nothing more fires
    EXHAUSTED = "exhausted"        # every level (and repeat) fired without acknowledgement
    SUPERSEDED = "superseded"      # a raised severity started a new cycle


class RosterPolicy(Base):
    """A body's escalation chain for one severity from its roster file (replaces the default)."""

    __tablename__ = "roster_policies"
    __table_args__ = (UniqueConstraint("organization_id", "severity", name="uq_roster_policies_org_severity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    severity: Mapped[str] = mapped_column(String(10))
    levels: Mapped[list[Any]] = mapped_column(default=list)


class Escalation(Base):
    """The escalation of one incident. `policy` is a snapshot taken when the cycle started."""

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("incident_id", "cycle", name="uq_escalations_incident_cycle"),
        CheckConstraint("state IN ('active', 'acknowledged', 'exhausted', 'superseded')", name="state_known"),
        Index("ix_escalations_due", "state", "next_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    cycle: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(10))
    policy: Mapped[list[Any]] = mapped_column(default=list)
    started_at: Mapped[dt.datetime]
    next_step: Mapped[int] = mapped_column(Integer, default=0)  # index into the expanded steps
    next_at: Mapped[dt.datetime | None]
    state: Mapped[str] = mapped_column(String(15), default=EscalationState.ACTIVE.value)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
