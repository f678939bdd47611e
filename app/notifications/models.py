"""Reaching people: who is on call for a role, and the outbox of messages to them. Escalation steps,
deadline reminders and (later) in-app notices all write here; the ticker delivers."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.db import Base
from app.core.timeutil import now_utc


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one ticker; back to pending if that process died
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"



class Channel(enum.StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    IN_APP = "in_app"



class OnCallRotation(Base):
    """A weekly rotation for a role: member n is on call from starts + n weeks, round robin."""

    __tablename__ = "oncall_rotations"
    __table_args__ = (UniqueConstraint("organization_id", "role", name="uq_oncall_rotations_org_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    role: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[dt.datetime]
    period_days: Mapped[int] = mapped_column(Integer, default=7)
    member_ids: Mapped[list[Any]] = mapped_column(default=list)



class OnCallOverride(Base):
    """Someone covers a role for a period (a swap, a holiday cover), ahead of the rotation."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (Index("ix_oncall_overrides_org_role", "organization_id", "role", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    role: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]



class NotificationChoice(Base):
    """A person's choice of channels for one kind of personal notice (app/notifications/personal.py);
    no row: both."""

    __tablename__ = "notification_choices"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    in_app: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=True)


class Notification(Base):
    """The outbox: one row per intended message, sent by the ticker with retries."""

    __tablename__ = "notifications"
    __table_args__ = (
        # an escalation message: (cycle, step) of the escalation; a deadline reminder: (the
        # deadline's round, the deadline's id) with the event approaching/overdue
        UniqueConstraint("incident_id", "event", "cycle", "step", "recipient_id", "channel", name="uq_notifications_message"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')", name="status_known"),
        CheckConstraint("channel IN ('email', 'webhook', 'in_app')", name="channel_known"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_incident", "incident_id", "id"),
        Index("ix_notifications_inbox", "recipient_id", "channel", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"))
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("deadlines.id"))
    cycle: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)    # position in the expanded steps (levels × repeats)
    level: Mapped[int] = mapped_column(Integer)   # 1-based level of the policy; 0 for a deadline reminder
    event: Mapped[str] = mapped_column(String(40), default="escalation")
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recipient: Mapped[str] = mapped_column(String(254))
    role: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default=NotificationStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None]
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)  # a personal notice's sentence (who mentioned me, which task)
    read_at: Mapped[dt.datetime | None]  # an in-app message opened (or marked read) in the notification centre
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    user: Mapped[User] = relationship(lazy="joined")

