"""Second factor: time-based one-time passwords (RFC 6238, 30-second steps, 6 digits), as any
authenticator app makes them. A code is accepted one step early or late (clock drift) and only
once: the last step used is stored, so a code seen over someone's shoulder cannot be replayed."""
from __future__ import annotations

import hmac
import time

import pyotp
import segno
from sqlalchemy import select

from app.auth.models import User
from app.auth.services import revoke_sessions
from app.core.db import db
from app.core.timeutil import now_utc
from app.organizations.models import Organization
from app.organizations.services import get_profile

ISSUER = "CSIRT"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(email: str, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The enrolment QR code as an SVG data: URI (allowed by the page's img-src; no script, no CDN)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(time.time()) // totp.interval
    for step in (current - 1, current, current + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def verify(user: User, code: str) -> bool:
    """The person's current code, once; records the step so the same code is refused next time."""
    if not user.totp_secret:
        return False
    step = _matching_step(user.totp_secret, code, user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def enable(user: User, secret: str, code: str) -> bool:
    """Turns TOTP on once the person proves their app holds `secret`."""
    step = _matching_step(secret, code, None)
    if step is None:
        return False
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = secret, now_utc(), step
    revoke_sessions(user)
    return True


def disable(user: User) -> None:
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    revoke_sessions(user)


def required_for(user: User) -> bool:
    """A role the person holds in some body is listed in that body's `security.mfa_required_roles`."""
    active = [m for m in user.memberships if m.active]
    if not active:
        return False
    ids = {m.organization_id for m in active}
    codes = {row.id: row.code for row in db.session.execute(select(Organization.id, Organization.code)
                                                            .where(Organization.id.in_(ids)))}
    return any(m.role in get_profile(codes[m.organization_id]).security.mfa_required_roles for m in active)
