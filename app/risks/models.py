"""The risk register (リスク登録簿) of a body: assessed likelihood and loss per threat × asset class ×
network segment, every past assessment kept; and its inputs besides the incidents: near misses
(reports closed as 非該当 kept as ヒヤリハット), findings of 監査 and 自己点検, and dated changes of
circumstance."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.db import Base
from app.core.timeutil import now_utc
from app.intake.models import Report

# '' in subcategory, asset_class or segment: the row covers all of them (the whole category, every
# class, every segment). Not NULL, so that the one-current-row index below holds on both engines.
ROW_KEY = ("organization_id", "threat_category", "subcategory", "asset_class", "segment")
SOURCES = ("audit", "self_inspection")


class RiskAssessment(Base):
    """One assessment of one register row. A new assessment of the same row supersedes the current
    one (superseded_at is set, the new one points back at it): the current row is the one not
    superseded, the history is the chain."""

    __tablename__ = "risk_assessments"
    __table_args__ = (
        CheckConstraint("likelihood BETWEEN 1 AND 5", name="likelihood_range"),
        CheckConstraint("loss BETWEEN 1 AND 5", name="loss_range"),
        CheckConstraint("version >= 1", name="version_positive"),
        UniqueConstraint(*ROW_KEY, "version", name="uq_risk_assessments_row_version"),
        UniqueConstraint("supersedes_id", name="uq_risk_assessments_supersedes"),
        # one current assessment per row: two people assessing it at once meet here (409)
        Index("uq_risk_assessments_current", *ROW_KEY, unique=True,
              sqlite_where=text("superseded_at IS NULL"), postgresql_where=text("superseded_at IS NULL")),
        # the register as it stood at a moment (a review's end, the previous review's end)
        Index("ix_risk_assessments_org_assessed", "organization_id", "assessed_at", "superseded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    threat_category: Mapped[str] = mapped_column(String(20))
    subcategory: Mapped[str] = mapped_column(String(40), default="")
    asset_class: Mapped[str] = mapped_column(String(50), default="")  # "axis:level" of the body's classification
    segment: Mapped[str] = mapped_column(String(20), default="")
    likelihood: Mapped[int] = mapped_column(Integer)
    loss: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    assessed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assessed_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("risk_assessments.id"))
    superseded_at: Mapped[dt.datetime | None]

    assessed_by: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.threat_category, self.subcategory, self.asset_class, self.segment)

    @property
    def score(self) -> int:
        return self.likelihood * self.loss


class NearMiss(Base):
    """ヒヤリハット: a report closed as 非該当 that is kept as an input of the register, with the
    threat it came close to."""

    __tablename__ = "risk_near_misses"
    __table_args__ = (
        UniqueConstraint("report_id", name="uq_risk_near_misses_report_id"),
        Index("ix_risk_near_misses_org_occurred", "organization_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    threat_category: Mapped[str] = mapped_column(String(20))
    subcategory: Mapped[str | None] = mapped_column(String(40))
    segment: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[dt.datetime]  # the report's occurred_at, else its arrival: the period it counts in
    marked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    marked_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    report: Mapped[Report] = relationship(lazy="joined", innerjoin=True)


class Finding(Base):
    """A finding of 監査 (audit) or 自己点検 (self-inspection) against a clause of the policy."""

    __tablename__ = "risk_findings"
    __table_args__ = (
        CheckConstraint(f"source IN ({', '.join(repr(s) for s in SOURCES)})", name="source_known"),
        CheckConstraint("resolved_on IS NULL OR resolved_on >= found_on", name="resolved_after_found"),
        Index("ix_risk_findings_org_found", "organization_id", "found_on"),
        Index("ix_risk_findings_org_open", "organization_id", "resolved_on", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    source: Mapped[str] = mapped_column(String(20))
    clause: Mapped[str] = mapped_column(String(40))  # a policy clause code of the body's profile
    rating: Mapped[str] = mapped_column(String(30))   # playbooks/risk.yaml finding_ratings
    text: Mapped[str] = mapped_column(Text)
    threat_category: Mapped[str | None] = mapped_column(String(20))  # shown beside that category's rows
    found_on: Mapped[dt.date]
    due_on: Mapped[dt.date]
    resolved_on: Mapped[dt.date | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)


class CircumstanceChange(Base):
    """A dated change of circumstance (「情報セキュリティに関する状況の変化」): a law or guideline
    revised, a new system."""

    __tablename__ = "risk_circumstances"
    __table_args__ = (Index("ix_risk_circumstances_org_noted", "organization_id", "noted_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    noted_on: Mapped[dt.date]
    kind: Mapped[str] = mapped_column(String(20))  # playbooks/risk.yaml circumstance_kinds
    text: Mapped[str] = mapped_column(Text)
    threat_category: Mapped[str | None] = mapped_column(String(20))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
