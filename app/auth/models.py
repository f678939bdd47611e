from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from app.core.permissions import Role
from app.core.timeutil import now_utc

ROLE_VALUES = ", ".join(f"'{r.value}'" for r in Role)


class User(UserMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("webhook_preset IN ('generic', 'teams', 'slack', 'lineworks')",
                                      name="webhook_preset_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(40))
    webhook: Mapped[str | None] = mapped_column(String(500))
    # what the webhook expects: our signed JSON, or a chat service's message (app/notifications/chat.py)
    webhook_preset: Mapped[str] = mapped_column(String(12), default="generic", server_default="generic")
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    deputy_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    locale: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    # TOTP (RFC 6238): the base32 secret once confirmed, and the last time step used (no replay)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[dt.datetime | None]
    totp_last_step: Mapped[int | None]
    # Kept in the signed session cookie at sign-in and compared at every request: raising it ends
    # every session of the person on every server (sign-out, password/TOTP change, deactivation).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")  # loaded where needed

    # Set for a request made with a token scoped to one body: the person acts only there.
    token_organization_id = None  # not a column

    @property
    def is_active(self) -> bool:
        return any(m.active for m in self.memberships)

    def _acting(self) -> list[Membership]:
        scope = self.token_organization_id
        return [m for m in self.memberships if m.active and (scope is None or m.organization_id == scope)]

    def roles_in(self, organization_id: int) -> set[str]:
        return {m.role for m in self._acting() if m.organization_id == organization_id}

    def organization_ids(self) -> set[int]:
        return {m.organization_id for m in self._acting()}


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
    # set: the token acts only in this body, whatever else its person may do
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class RevokedSession(Base):
    """A signed-out session: its id (kept in the signed session cookie) is refused by every server
    until the session would have ended anyway (SESSION_MAX_HOURS after the sign-out)."""

    __tablename__ = "revoked_sessions"
    __table_args__ = (Index("ix_revoked_sessions_expires_at", "expires_at"),)

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    expires_at: Mapped[dt.datetime]


class LoginFailure(Base):
    """A failed sign-in (password or second factor): counted per account and per address to
    throttle guessing. Kept in the database so that every application server sees them."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_account_at", "account", "failed_at"),
        Index("ix_login_failures_address_at", "address", "failed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(254))  # the e-mail as typed, normalised
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
