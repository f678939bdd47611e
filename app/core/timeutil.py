"""UTC in the database, Asia/Tokyo (TZ_DISPLAY) on screen."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

# How far ahead of this server's clock a time sent as "now" may be (another host's clock) before
# it counts as in the future.
CLOCK_SKEW = dt.timedelta(minutes=2)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def display_zone() -> ZoneInfo:
    name = current_app.config.get("TZ_DISPLAY", "Asia/Tokyo") if has_app_context() else "Asia/Tokyo"
    return ZoneInfo(name)


def to_display(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(display_zone()) if value else None


def format_display(value: dt.datetime | None, with_zone: bool = False) -> str:
    if value is None:
        return ""
    local = to_display(value)
    text = local.strftime("%Y-%m-%d %H:%M")
    return f"{text} {local.tzname()}" if with_zone else text


def iso_utc(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.utcoffset():
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat() + "Z"


def parse_iso(value: str | None) -> dt.datetime | None:
    """The inverse of iso_utc, for times kept in JSON columns."""
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
