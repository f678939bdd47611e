"""The signed-in session: a fresh one at every sign-in (no fixation), the pending half-way state
between password and second factor, and the idle and absolute timeouts."""
from __future__ import annotations

import datetime as dt
import secrets
import time

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import delete, select

from app.auth.models import RevokedSession, User
from app.core.db import db
from app.core.timeutil import now_utc

PENDING_SECONDS = 300  # between a correct password and the second factor


def _fresh_session() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def start_session(user: User) -> None:
    _fresh_session()
    login_user(user)
    session["auth_at"] = session["seen_at"] = int(time.time())
    session["sid"] = secrets.token_hex(16)  # this session's own id, refused once it signs out
    keep_session(user)


def keep_session(user: User) -> None:
    """This session stays signed in after its person's generation was raised (by themselves)."""
    db.session.flush()  # a raised generation is an SQL expression until flushed, then read back
    session["generation"] = user.session_generation or 0


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the session's person, if still active, the session not signed out and
    not revoked since it began (sign-out everywhere, a password or TOTP change, a deactivation).
    One query: the person and whether this session was signed out."""
    sid = session.get("sid")
    if not user_id.isdigit() or not isinstance(sid, str):
        return None
    signed_out = select(RevokedSession.sid).where(RevokedSession.sid == sid).exists()
    row = db.session.execute(select(User, signed_out).where(User.id == int(user_id))).first()
    return None if row is None or row[1] else _unrevoked(row[0])


def _unrevoked(user: User | None) -> User | None:
    if user is None or not user.is_active or session.get("generation") != (user.session_generation or 0):
        return None
    return user


def end_session() -> None:
    logout_user()
    _fresh_session()


def sign_out(user: User) -> None:
    """Ends this session on every server (a copy of its cookie is signed out too); the person's
    other sessions, on other devices, go on. Not committed."""
    sid, now = session.get("sid"), now_utc()
    db.session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
    if isinstance(sid, str):
        hours = current_app.config["SESSION_MAX_HOURS"]
        db.session.merge(RevokedSession(sid=sid, user_id=user.id, revoked_at=now, expires_at=now + dt.timedelta(hours=hours)))
    end_session()


def begin_second_step(user: User, next_url: str) -> None:
    """The password was right; the session holds only who is half-way in, until the code."""
    _fresh_session()
    session["pending_user"], session["pending_at"], session["pending_next"] = user.id, int(time.time()), next_url
    keep_session(user)  # a password change meanwhile ends this half-way state too


def pending_user() -> User | None:
    user_id, started = session.get("pending_user"), session.get("pending_at", 0)
    if not isinstance(user_id, int) or time.time() - started > PENDING_SECONDS:
        return None
    return _unrevoked(db.session.get(User, user_id))


def pending_next() -> str:
    return session.get("pending_next") or url_for("incidents.index")


def enforce_timeouts():
    """Before every page request: sign out a session idle too long or older than its maximum age."""
    if request.blueprint == "api" or request.endpoint == "static" or not current_user.is_authenticated:
        return None
    now, config = int(time.time()), current_app.config
    auth_at, seen_at = session.get("auth_at"), session.get("seen_at")
    if not isinstance(auth_at, int) or not isinstance(seen_at, int) \
            or now - seen_at > config["SESSION_IDLE_MINUTES"] * 60 or now - auth_at > config["SESSION_MAX_HOURS"] * 3600:
        end_session()
        flash(_("一定時間が経過したため、ログアウトしました。もう一度ログインしてください。"), "error")
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target))
    if now - seen_at >= 60:  # not every request: each write resends the cookie, and concurrent ones race
        session["seen_at"] = now
    return None
