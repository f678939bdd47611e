"""Passwords, login and API tokens."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import inspect, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from app.auth.models import ApiToken, User
from app.core.db import db
from app.core.errors import NotFound, ValidationFailed
from app.core.timeutil import now_utc
from app.organizations.models import Organization

MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "csirt_"
DEFAULT_TOKEN_LIFETIME = dt.timedelta(days=365)
# Compared against when the e-mail is unknown, so a login takes as long either way.
_DUMMY_HASH = generate_password_hash("not-a-password-at-all")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("password too short", {"password": f"at least {MIN_PASSWORD_LENGTH} characters"})
    return generate_password_hash(password)


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def authenticate(email: str, password: str) -> User | None:
    user = user_by_email(email)
    if user is None or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.is_active:
        return None
    return user


def revoke_sessions(user: User) -> None:
    """Every signed-in session of the person, on every server, is signed out at its next request."""
    if inspect(user).persistent:  # a person not yet stored has no sessions
        user.session_generation = User.session_generation + 1  # in SQL: never lost to a stale copy of the row


def deactivated(user: User) -> None:
    """A role of the person was deactivated: their sessions end, and their API tokens that can no
    longer act anywhere (or in the token's body) are revoked, so that a later reactivation does not
    bring them back. The memberships must be current (flushed and reloaded)."""
    revoke_sessions(user)
    active = {m.organization_id for m in user.memberships if m.active}
    now = now_utc()
    for row in db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
        if not active or (row.organization_id is not None and row.organization_id not in active):
            row.revoked_at = now


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(email: str, name: str | None = None, organization: str | None = None,
                     expires_in: dt.timedelta | None = DEFAULT_TOKEN_LIFETIME) -> str:
    """A new token for that person, valid for `expires_in` (None: until revoked), optionally
    acting only in one of their bodies. Only its SHA-256 is kept; the token is returned once."""
    user = user_by_email(email)
    if user is None:
        raise NotFound(f"no person with e-mail {email}")
    organization_id = None
    if organization is not None:
        org = db.session.scalar(select(Organization).where(Organization.code == organization))
        if org is None or org.id not in user.organization_ids():
            raise ValidationFailed(f"{email} holds no role in organization {organization!r}",
                                   {"organization": "not one of the person's organizations"})
        organization_id = org.id
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now_utc() + expires_in if expires_in is not None else None
    db.session.add(ApiToken(user_id=user.id, token_hash=_digest(token), name=name, organization_id=organization_id,
                            expires_at=expires_at))
    db.session.flush()
    return token


def tokens_of(email: str) -> list[ApiToken]:
    user = user_by_email(email)
    if user is None:
        raise NotFound(f"no person with e-mail {email}")
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def revoke_token(token_id: int) -> ApiToken:
    """Revoked at once on every server (each request looks the token up); revoking twice keeps the first time."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no API token with id {token_id}")
    row.revoked_at = row.revoked_at or now_utc()
    return row


def user_for_token(token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    # One query: the token, its person and their memberships (every API request starts here).
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _digest(token))
        .options(joinedload(ApiToken.user).joinedload(User.memberships))
    )
    now = now_utc()
    if row is None or row.revoked_at or (row.expires_at and row.expires_at <= now):
        return None
    user = row.user
    user.token_organization_id = row.organization_id
    return user if user.organization_ids() else None
