from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.db import Base
from app.core.timeutil import now_utc


class Deadline(Base):
    """A duty with a due time on one incident: a regulatory report, an internal report of the
    chain, or a notice a handler added. Rule deadlines follow the incident's facts (created,
    moved, withdrawn while unmet); `met_at` records that it was done."""

    __tablename__ = "deadlines"
    __table_args__ = (
        UniqueConstraint("incident_id", "kind", name="uq_deadlines_incident_kind"),
        CheckConstraint("category IN ('regulatory', 'internal', 'notice')", name="category_known"),
        CheckConstraint("origin IN ('rule', 'manual')", name="origin_known"),
        CheckConstraint("counts_from IN ('detected_at', 'recognized_at')", name="counts_from_known"),
        Index("ix_deadlines_open_due", "met_at", "due_at"),
        Index("ix_deadlines_org_due", "organization_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(12))
    origin: Mapped[str] = mapped_column(String(6))
    label: Mapped[str] = mapped_column(String(200))
    authority: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[dt.datetime]
    # which of the incident's times a rule's due time counts from (detected_at / recognized_at);
    # None for a notice a handler added (its due time is theirs)
    counts_from: Mapped[str | None] = mapped_column(String(16))
    met_at: Mapped[dt.datetime | None]
    met_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filed_reference: Mapped[str | None] = mapped_column(String(200))  # e.g. the PPC's receipt number
    note: Mapped[str | None] = mapped_column(Text)
    round: Mapped[int] = mapped_column(Integer, default=1)  # goes up when the due time moves: reminders again
    # set when the facts no longer call for it (or the incident was closed as 非該当) while unmet:
    # the row and its reminders stay as history; it comes back if the facts call for it again
    withdrawn_at: Mapped[dt.datetime | None]
    approaching_notified_at: Mapped[dt.datetime | None]
    overdue_notified_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    met_by: Mapped[User | None] = relationship(lazy="joined")
