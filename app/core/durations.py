"""Durations as written in playbooks and rosters: 30s, 15m, 2h, 1d."""
from __future__ import annotations

import datetime as dt
import re

DURATION = re.compile(r"^(\d{1,6})([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"'{text}' is not a duration like 30s, 15m, 2h, 1d")
    return dt.timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
