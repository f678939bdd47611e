from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

SYSTEM_CHAIN = ":system"  # entries without a body; body codes cannot start with ":"
LEGACY_CHAIN = ":legacy"  # entries written before 0012, hashed without a key (sealed)


class AuditEntry(Base):
    """One audit entry; `hash` is the HMAC (key `key_id`) of every field and the previous entry's hash.

    Each body has its own chain (`chain` = its code) numbered by `seq` without gaps, handed out
    by that chain's `audit_head` row under a lock: bodies do not wait on each other, and a deleted
    entry leaves a gap that verification finds.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),
                      UniqueConstraint("chain", "seq", name="uq_audit_log_chain_seq"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int]
    key_id: Mapped[str | None] = mapped_column(String(40))
    at: Mapped[dt.datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))  # e-mail or "system", kept even if the person goes
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80))
    organization: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row per chain: its last sequence number and hash. Updating it first serializes the
    appends of that chain only."""

    __tablename__ = "audit_head"
    __table_args__ = (UniqueConstraint("chain", name="uq_audit_head_chain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))
    last_id: Mapped[int] = mapped_column(Integer, default=0)  # the chain's last `seq` (named when there was one chain)
    last_hash: Mapped[str] = mapped_column(String(64))
