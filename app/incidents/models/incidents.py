from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from app.core.timeutil import now_utc
from app.organizations.models import Organization


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


SEVERITY_ORDER = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
SEVERITY_LABELS = {Severity.CRITICAL: _l("緊急"), Severity.HIGH: _l("高"), Severity.MEDIUM: _l("中"), Severity.LOW: _l("低")}


class Stage(enum.StrEnum):
    TRIAGE = "triage"
    REPORT = "report"
    PRESERVE = "preserve"
    CONTAIN = "contain"
    RECOVER = "recover"
    PREVENT = "prevent"
    CLOSED = "closed"


STAGE_LABELS = {
    Stage.TRIAGE: _l("受付・評価"), Stage.REPORT: _l("連絡・報告"), Stage.PRESERVE: _l("証拠保全"),
    Stage.CONTAIN: _l("被害拡大の防止"), Stage.RECOVER: _l("復旧"), Stage.PREVENT: _l("再発防止"),
    Stage.CLOSED: _l("終結"),
}


class Source(enum.StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"
    AGENCY = "agency"


SOURCE_LABELS = {Source.INTERNAL: _l("庁内"), Source.EXTERNAL: _l("住民等外部"), Source.AGENCY: _l("関係機関")}


class Impact(enum.StrEnum):
    LEAK = "leak"
    DESTRUCTION = "destruction"
    TAMPERING = "tampering"
    ERASURE = "erasure"
    FRAUD = "fraud"
    OUTAGE = "outage"


IMPACT_LABELS = {
    Impact.LEAK: _l("漏えい"), Impact.DESTRUCTION: _l("破壊"), Impact.TAMPERING: _l("改ざん"),
    Impact.ERASURE: _l("消去"), Impact.FRAUD: _l("詐取"), Impact.OUTAGE: _l("停止"),
}


class HeldIn(enum.StrEnum):
    """Which system held the personal data (番号法 規則 第2条第1号 イ・ロ・ハ)."""

    INFORMATION_PROVISION_NETWORK = "information_provision_network"
    MY_NUMBER_USE = "my_number_use"
    MY_NUMBER_RELATED = "my_number_related"


HELD_IN_LABELS = {
    HeldIn.INFORMATION_PROVISION_NETWORK: _l("情報提供ネットワークシステム又はこれに接続された電子計算機"),
    HeldIn.MY_NUMBER_USE: _l("個人番号利用事務の情報システム"),
    HeldIn.MY_NUMBER_RELATED: _l("個人番号関係事務（給与事務等）の情報システム"),
}


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("organization_id", "ref_year", "ref_number", name="uq_incidents_org_year_number"),
        CheckConstraint(f"severity IN ({_in(Severity)})", name="severity_known"),
        CheckConstraint(f"computed_severity IN ({_in(Severity)})", name="computed_severity_known"),
        CheckConstraint(f"stage IN ({_in(Stage)})", name="stage_known"),
        CheckConstraint(f"source IN ({_in(Source)})", name="source_known"),
        CheckConstraint("pd_persons >= 0", name="pd_persons_not_negative"),
        Index("ix_incidents_org_detected", "organization_id", "detected_at", "id"),
        Index("ix_incidents_detected", "detected_at", "id"),
        # a list filter in the list's order (newest first): the page and its count read only what they show
        Index("ix_incidents_org_stage", "organization_id", "stage", "detected_at", "id"),
        Index("ix_incidents_org_severity", "organization_id", "severity", "detected_at", "id"),
        Index("ix_incidents_org_category", "organization_id", "threat_category", "detected_at", "id"),
        Index("ix_incidents_reporter", "reporter_id"),
        # covers the quarterly review's grouped queries (app/reviews/queries.py): a body-quarter and
        # the three-year risk window are read from the index alone (the JSON lists, which cannot
        # be btree keys, are included on PostgreSQL)
        Index("ix_incidents_review", "organization_id", "detected_at", "not_incident", "threat_category", "subcategory",
              "severity", "source", "pd_persons", "pd_my_number", "impact_outage", "acknowledged_at", "contained_at",
              "recovered_at", "closed_at", postgresql_include=["network_segments", "impacts"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    ref_year: Mapped[int] = mapped_column(Integer)
    ref_number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # NFKC + casefold of reference, title and description, so that ＵＳＢ finds usb on every engine.
    search_text: Mapped[str] = mapped_column(Text, default="")
    threat_category: Mapped[str] = mapped_column(String(20))
    subcategory: Mapped[str | None] = mapped_column(String(40))
    detected_at: Mapped[dt.datetime]
    # when the body knew of a reportable situation (報告対象事態を知った時): the statutes' reports count
    # from it; None: not recorded, they count from detected_at
    recognized_at: Mapped[dt.datetime | None]
    # the 機関 of the body it concerns (profile reporting.organs), which chooses the reporting rules
    organ: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(10), default=Source.INTERNAL.value)
    network_segments: Mapped[list[str]] = mapped_column(default=list)
    impacts: Mapped[list[str]] = mapped_column(default=list)
    # impacts holds "outage": a plain column so the review's risk scan reads years of rows from its index
    impact_outage: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    asset_classes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pd_involved: Mapped[bool] = mapped_column(Boolean, default=False)
    pd_persons: Mapped[int] = mapped_column(Integer, default=0)
    pd_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    pd_my_number: Mapped[bool] = mapped_column(Boolean, default=False)
    pd_financial_damage: Mapped[bool] = mapped_column(Boolean, default=False)
    pd_malicious: Mapped[bool] = mapped_column(Boolean, default=False)
    # 条例要配慮個人情報: personal information the body's own ordinance treats as sensitive
    pd_ordinance_sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    pd_held_in: Mapped[list[str]] = mapped_column(default=list, server_default=text("'[]'"))  # HeldIn codes
    pd_encrypted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # 高度な暗号化等
    pd_public_exposure: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # 不特定多数閲覧
    severity: Mapped[str] = mapped_column(String(10))
    computed_severity: Mapped[str] = mapped_column(String(10))
    severity_reason: Mapped[str | None] = mapped_column(Text)
    severity_overridden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    severity_overridden_at: Mapped[dt.datetime | None]
    stage: Mapped[str] = mapped_column(String(10), default=Stage.TRIAGE.value)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[dt.datetime | None]  # the first acknowledgement (for response-time figures)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[dt.datetime | None]  # reported on paper before it was entered (else: created_at)
    recorded_late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # entered after the fact
    contained_at: Mapped[dt.datetime | None]  # 被害拡大の防止 completed (first move past `contain`)
    recovered_at: Mapped[dt.datetime | None]  # 復旧 completed (first move past `recover`)
    closed_at: Mapped[dt.datetime | None]
    not_incident: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # closed at triage as 非該当
    closed_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)
    version: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": version}  # optimistic locking: UPDATE … WHERE version = ?

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)

    @property
    def severity_overridden(self) -> bool:
        return self.severity_overridden_at is not None

    @property
    def personal_data(self) -> dict[str, Any]:
        return {
            "involved": self.pd_involved, "persons": self.pd_persons, "sensitive": self.pd_sensitive,
            "my_number": self.pd_my_number, "financial_damage": self.pd_financial_damage,
            "malicious": self.pd_malicious, "held_in": list(self.pd_held_in or ()), "encrypted": self.pd_encrypted,
            "public_exposure": self.pd_public_exposure,
        }



class IncidentMember(Base):
    """A person who works the incident: its owner (主担当, one at most) or a member (担当メンバー).
    A table of its own, so that the incidents table (and its count triggers) is never rebuilt."""

    __tablename__ = "incident_people"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'member')", name="role_known"),
        Index("uq_incident_people_one_owner", "incident_id", unique=True,
              sqlite_where=text("role = 'owner'"), postgresql_where=text("role = 'owner'")),
        Index("ix_incident_people_user", "user_id", "role", "incident_id"),  # my work; the list's owner=me
    )

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(10))
    added_at: Mapped[dt.datetime] = mapped_column(default=now_utc)


class ReferenceCounter(Base):
    """Last reference number per body and year; incremented under a row lock, so gapless."""

    __tablename__ = "reference_counters"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class IncidentCount(Base):
    """How many incidents a body has per category, stage and severity: the exact `total` of a list
    filtered by those alone, read from at most a few hundred rows instead of counting the incidents.
    Maintained by the database itself (triggers of migration 0010), so bulk loads, restores and every
    code path keep it right; on PostgreSQL the triggers are deferred to the commit, when the writer
    already holds the audit head, so they add no lock order of their own. Derived data: not backed up."""

    __tablename__ = "incident_counts"
    __table_args__ = ({"info": {"derived": True}},)

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    threat_category: Mapped[str] = mapped_column(String(20), primary_key=True)
    stage: Mapped[str] = mapped_column(String(10), primary_key=True)
    severity: Mapped[str] = mapped_column(String(10), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
