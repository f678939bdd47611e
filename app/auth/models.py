from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from app.core.permissions import Role
from app.core.timeutil import now_utc

ROLE_VALUES = ", ".join(f"'{r.value}'" for r in Role)


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(40))
    webhook: Mapped[str | None] = mapped_column(String(500))
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    deputy_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    locale: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")  # loaded where needed

    @property
    def is_active(self) -> bool:
        return any(m.active for m in self.memberships)

    def roles_in(self, organization_id: int) -> set[str]:
        return {m.role for m in self.memberships if m.active and m.organization_id == organization_id}

    def organization_ids(self) -> set[int]:
        return {m.organization_id for m in self.memberships if m.active}


class Membership(Base):
    """A person holding one role in one organization; deactivated, never deleted."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "organization_id", "role", name="uq_memberships_user_org_role"),
        CheckConstraint(f"role IN ({ROLE_VALUES})", name="role_known"),
        Index("ix_memberships_organization_role", "organization_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    user: Mapped[User] = relationship(back_populates="memberships")


class ApiToken(Base):
    """Only the SHA-256 of a token is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()
