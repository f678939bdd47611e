from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.db import Base
from app.core.timeutil import now_utc


class TimelineEvent(Base):
    """One entry of an incident's timeline: every change, note, task, stage move and download."""

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    actor: Mapped[User | None] = relationship(lazy="joined")
