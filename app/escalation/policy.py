"""Escalation policies: the default in playbooks/escalation.yaml, a body's from its roster."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from sqlalchemy import select

from app.core.db import db
from app.core.durations import Duration, parse_duration
from app.core.permissions import Role
from app.core.playbooks import playbooks
from app.core.schemas import StrictDocument
from app.core.yamlfile import YamlFileError, load_document
from app.escalation.models import RosterPolicy
from app.notifications.models import Channel

SEVERITIES = ("critical", "high", "medium", "low")


def _target(value: str) -> str:
    role = value.split(":", 1)[1] if value.startswith("oncall:") else value
    Role(role)  # raises ValueError for an unknown role
    return value


class Repeat(StrictDocument):
    times: int = Field(ge=1, le=10)
    every: str

    @field_validator("every")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) < dt.timedelta(minutes=1):
            raise ValueError("repeat.every must be at least 1m")
        return value


class Level(StrictDocument):
    notify: tuple[str, ...] = Field(min_length=1)
    after: Duration
    repeat: Repeat | None = None
    only: Literal["office_hours", "off_hours"] | None = None
    channels: tuple[Channel, ...] | None = None
    # an inform level is a report, not a request: it is sent even after someone acknowledged (once,
    # without its repeats), so the 統括 and the CISO hear of a serious incident whoever answered first
    inform: bool = False

    @field_validator("notify")
    @classmethod
    def _targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_target(v) for v in value)


class OfficeHours(StrictDocument):
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: str = Field(default="08:30", pattern=r"^\d\d:\d\d$")
    end: str = Field(default="17:15", pattern=r"^\d\d:\d\d$")


class EscalationFile(StrictDocument):
    office_hours: OfficeHours = OfficeHours()
    policies: dict[Literal[SEVERITIES], tuple[Level, ...]]  # type: ignore[valid-type]


def load_escalation(path: Path) -> EscalationFile:
    spec = load_document(path, EscalationFile)
    missing = set(SEVERITIES) - spec.policies.keys()
    if missing:
        raise YamlFileError(f"{path.name}: policies: missing {', '.join(sorted(missing))}")
    return spec


def expand(levels: list[Level] | tuple[Level, ...]) -> list[dict]:
    """The snapshot stored on an escalation: one step per firing, ordered by time."""
    steps = []
    for number, level in enumerate(levels, start=1):
        after = parse_duration(level.after)
        times = [after] + ([after + parse_duration(level.repeat.every) * k for k in range(1, level.repeat.times + 1)]
                           if level.repeat else [])
        for repeat, offset in enumerate(times):
            steps.append({"level": number, "repeat": repeat, "offset_s": int(offset.total_seconds()),
                          "notify": list(level.notify), "only": level.only, "inform": level.inform,
                          "channels": [c.value for c in level.channels] if level.channels else None})
    return sorted(steps, key=lambda s: (s["offset_s"], s["level"], s["repeat"]))


def following_step(steps: list[dict], index: int, acknowledged: bool) -> int:
    """The step that fires after step `index`: the next one; once acknowledged, the next first
    firing of an inform level. len(steps) when there is none."""
    following = index + 1
    if acknowledged:
        while following < len(steps) and not (steps[following].get("inform") and steps[following]["repeat"] == 0):
            following += 1
    return following


def step_event(step: dict) -> str:
    """The outbox event of a step's messages: an inform level's are never cancelled by acknowledgement."""
    return "escalation_inform" if step.get("inform") else "escalation"


def levels_for(organization_id: int, severity: str) -> tuple[list[Level], str]:
    """The body's roster chain for that severity if it has one, else the default."""
    row = db.session.scalar(select(RosterPolicy).where(RosterPolicy.organization_id == organization_id,
                                                       RosterPolicy.severity == severity))
    if row is not None:
        return [Level.model_validate(level) for level in row.levels], "roster"
    return list(playbooks().escalation.policies[severity]), "default"
