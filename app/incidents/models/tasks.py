from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.db import Base
from app.core.timeutil import now_utc


class Task(Base):
    """A checklist item of an incident: from the playbook (`code` set) or added by hand."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("incident_id", "code", name="uq_tasks_incident_code"),
        Index("ix_tasks_incident_stage", "incident_id", "stage", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    stage: Mapped[str] = mapped_column(String(10))
    code: Mapped[str | None] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(80))  # "common", "<category>", "<category>.<sub>" or "manual"
    title: Mapped[str] = mapped_column(String(300))
    guidance: Mapped[str] = mapped_column(Text, default="")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[str | None] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id], lazy="joined")
