"""Login throttling: too many failed sign-ins for one account, or from one address, within a
window refuse further attempts until the window has passed. Failures live in the database, so
every application server counts the same ones; a success clears the account's failures."""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import delete, func, or_, select

from app.auth.models import LoginFailure
from app.core.db import db
from app.core.timeutil import now_utc


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
