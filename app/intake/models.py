"""Reports waiting for triage: from staff e-mail, the public form, or a SOC/SIEM forwarder."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.db import Base
from app.core.timeutil import now_utc
from app.incidents.models import Incident
from app.organizations.models import Organization


class ReportState(enum.StrEnum):
    NEW = "new"
    OPENED = "opened"        # became an incident
    MERGED = "merged"        # added to an existing incident
    DISMISSED = "dismissed"  # 非該当, with a reason


class Channel(enum.StrEnum):
    EMAIL = "email"
    FORM = "form"
    API = "api"


STATE_VALUES = ", ".join(f"'{s.value}'" for s in ReportState)
CHANNEL_VALUES = ", ".join(f"'{c.value}'" for c in Channel)


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("receipt", name="uq_reports_receipt"),
        # each e-mail once per body, however often it is delivered or the intake restarts
        UniqueConstraint("organization_id", "message_id", name="uq_reports_message"),
        CheckConstraint(f"state IN ({STATE_VALUES})", name="state_known"),
        CheckConstraint(f"channel IN ({CHANNEL_VALUES})", name="channel_known"),
        CheckConstraint("source IN ('internal', 'external', 'agency')", name="source_known"),
        Index("ix_reports_queue", "organization_id", "state", "received_at", "id"),
        Index("ix_reports_dedup", "organization_id", "dedup_key"),
        # one waiting report per dedup key: two forwarders racing meet here and the second adds to the first
        Index("uq_reports_waiting_dedup", "organization_id", "dedup_key", unique=True,
              sqlite_where=text("state = 'new' AND dedup_key IS NOT NULL"),
              postgresql_where=text("state = 'new' AND dedup_key IS NOT NULL")),
        Index("ix_reports_address_received", "address", "received_at"),
        Index("ix_reports_channel_received", "channel", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    receipt: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default=ReportState.NEW.value)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")  # plain text; shown escaped, never as HTML
    occurred_at: Mapped[dt.datetime | None]
    received_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    sender: Mapped[str | None] = mapped_column(String(320))    # e-mail From, or the API caller
    contact: Mapped[str | None] = mapped_column(String(500))   # what a form's reporter left to be reached at
    address: Mapped[str | None] = mapped_column(String(64))    # the form's client address (rate limits)
    message_id: Mapped[str | None] = mapped_column(String(500))
    dedup_key: Mapped[str | None] = mapped_column(String(200))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # malformed mail: kept, looked at by a person
    flag_reason: Mapped[str | None] = mapped_column(String(500))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship(lazy="joined")
    decided_by: Mapped[User | None] = relationship()
    incident: Mapped[Incident | None] = relationship()


class ReportAddition(Base):
    """More from the same source while the report waits (the same dedup key, a reply)."""

    __tablename__ = "report_additions"
    __table_args__ = (Index("ix_report_additions_report", "report_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    message_id: Mapped[str | None] = mapped_column(String(500))
