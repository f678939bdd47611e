"""Login throttling: too many failed sign-ins for one account, or from one address, within a
window refuse further attempts until the window has passed. Failures live in the database, so
every application server counts the same ones; a success clears the account's failures.

Each attempt is counted and recorded as a failure before the password or code is checked, in a
short transaction of its own under the account's and the address's locks: simultaneous guesses are
counted one after the other, and nobody waits for another person's password hash (0.3 s) — not
even on SQLite, whose one write lock every writer shares. A success removes that record with the
account's other failures in the request's own transaction."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Connection, delete, func, insert, or_, select

from app.auth.models import LoginFailure
from app.core.db import db
from app.core.errors import DomainError
from app.core.locks import hold
from app.core.timeutil import now_utc

T = TypeVar("T")


class Throttled(DomainError):
    status = 429
    code = "too_many_requests"


def _window() -> dt.timedelta:
    return dt.timedelta(minutes=current_app.config["LOGIN_THROTTLE_MINUTES"])


def normalise_account(email: str | None) -> str:
    return (email or "").strip().lower()[:254]


def _is_throttled(connection: Connection, account: str, address: str) -> bool:
    since = now_utc() - _window()
    config = current_app.config
    by_account, by_address = connection.execute(
        select(func.count().filter(LoginFailure.account == account), func.count().filter(LoginFailure.address == address))
        .where(LoginFailure.failed_at > since, or_(LoginFailure.account == account, LoginFailure.address == address))
    ).one()
    return by_account >= config["LOGIN_MAX_FAILURES_ACCOUNT"] or by_address >= config["LOGIN_MAX_FAILURES_ADDRESS"]


def _reserve_attempt(account: str, address: str) -> None:
    """Counts the recent failures and records this attempt as one, committed at once (see above);
    raises Throttled instead when the account or the address has reached its limit."""
    now = now_utc()
    with db.engine.connect() as connection:
        hold(f"login-account:{account}", f"login-address:{address}", connection=connection)
        if _is_throttled(connection, account, address):
            connection.rollback()
            raise Throttled(_("ログインの失敗が続いたため、しばらくログインできません。%(minutes)s分ほど待ってから、もう一度お試しください。",
                              minutes=current_app.config["LOGIN_THROTTLE_MINUTES"]))
        # the table only ever holds the recent failures: older ones no longer count
        connection.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - 2 * _window()))
        connection.execute(insert(LoginFailure).values(account=account, address=address[:64], failed_at=now))
        connection.commit()


def clear_failures(account: str) -> None:
    db.session.execute(delete(LoginFailure).where(LoginFailure.account == account))


def guarded(account: str, address: str, attempt: Callable[[], T]) -> T:
    """Runs a sign-in step (a password, a code) unless the account or address is throttled: a
    falsy result stays counted as a failure, a truthy one clears the account's failures (in the
    caller's transaction)."""
    _reserve_attempt(account, address)
    result = attempt()
    if result:
        clear_failures(account)
    return result
