"""Login throttling: too many failed sign-ins for one account, or from one address, within a
window refuse further attempts until the window has passed. Failures live in the database, so
every application server counts the same ones; a success clears the account's failures."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select

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


def is_throttled(account: str, address: str) -> bool:
    since = now_utc() - _window()
    config = current_app.config
    by_account, by_address = db.session.execute(
        select(func.count().filter(LoginFailure.account == account), func.count().filter(LoginFailure.address == address))
        .where(LoginFailure.failed_at > since, or_(LoginFailure.account == account, LoginFailure.address == address))
    ).one()
    return by_account >= config["LOGIN_MAX_FAILURES_ACCOUNT"] or by_address >= config["LOGIN_MAX_FAILURES_ADDRESS"]


def record_failure(account: str, address: str) -> None:
    now = now_utc()
    # the table only ever holds the recent failures: older ones no longer count
    db.session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - 2 * _window()))
    db.session.add(LoginFailure(account=account, address=address[:64], failed_at=now))


def clear_failures(account: str) -> None:
    db.session.execute(delete(LoginFailure).where(LoginFailure.account == account))


def guarded(account: str, address: str, attempt: Callable[[], T]) -> T:
    """Runs a sign-in step (a password, a code) unless the account or address is throttled: a
    falsy result counts as a failure, a truthy one clears the account's failures. Not committed:
    the account's and the address's locks are held until the caller commits, so that simultaneous
    guesses are counted one after the other rather than all against the same earlier count."""
    hold(f"login-account:{account}", f"login-address:{address}")
    if is_throttled(account, address):
        raise Throttled(_("ログインの失敗が続いたため、しばらくログインできません。%(minutes)s分ほど待ってから、もう一度お試しください。",
                          minutes=current_app.config["LOGIN_THROTTLE_MINUTES"]))
    result = attempt()
    if result:
        clear_failures(account)
    else:
        record_failure(account, address)
    return result
