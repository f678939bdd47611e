from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.db import Base
from app.core.timeutil import now_utc


class Evidence(Base):
    """A preserved file (証拠保全). The bytes live outside the static folder, named by SHA-256.
    A file that came with a report (an e-mail and its attachments) is evidence from the moment it
    arrives: it belongs to the report until the report becomes or joins an incident."""

    __tablename__ = "evidence"
    __table_args__ = (
        Index("ix_evidence_incident", "incident_id", "id"),
        CheckConstraint("size >= 0", name="size_not_negative"),
        CheckConstraint("incident_id IS NOT NULL OR report_id IS NOT NULL", name="belongs_somewhere"),
        Index("ix_evidence_report", "report_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded, for display only; never a path
    content_type: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    uploaded_by: Mapped[User | None] = relationship(lazy="joined")
