"""Durations as written in playbooks and rosters: 30s, 15m, 2h, 1d."""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator

DURATION = re.compile(r"^(\d{1,6})([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"'{text}' is not a duration like 30s, 15m, 2h, 1d")
    return dt.timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def _checked(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[str, AfterValidator(_checked)]  # a field of a YAML document that holds one, kept as written
