from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.db import Base
from app.core.timeutil import now_utc

RECOMMENDATION_STATUSES = ("proposed", "adopted", "rejected", "done")


class PostIncidentRecord(Base):
    """The 事後報告 of one incident: what the policy review reads. The key times are copied from
    the incident's record when saved; approval by the CISO or 統括責任者 closes the incident."""

    __tablename__ = "post_incident_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), unique=True)
    cause: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    measures: Mapped[str] = mapped_column(Text, default="")
    prevention: Mapped[str] = mapped_column(Text, default="")
    policy_clauses: Mapped[list[Any]] = mapped_column(default=list)
    times: Mapped[dict[str, Any]] = mapped_column(default=dict)  # detected/reported/acknowledged/contained/recovered
    saved_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    saved_by: Mapped[User | None] = relationship(foreign_keys=[saved_by_id], lazy="joined")
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], lazy="joined")
    recommendations: Mapped[list[Recommendation]] = relationship(
        order_by="Recommendation.position", cascade="all, delete-orphan", lazy="selectin")


class Recommendation(Base):
    """A recommendation for the policy review (見直し), tracked by status across reviews."""

    __tablename__ = "recommendations"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in RECOMMENDATION_STATUSES)})", name="status_known"),
        Index("ix_recommendations_org_status", "organization_id", "status"),
        Index("ix_recommendations_record", "record_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("post_incident_records.id"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    clause: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
