"""Severity derived from an incident's facts by the rules in playbooks/severity.yaml."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from app.core.schemas import StrictDocument
from app.core.yamlfile import load_document
from app.incidents.models import Impact, Severity
from app.organizations.profiles import SEGMENT_CODES, Profile

AxisKind = Literal["confidentiality", "integrity", "availability"]
Flag = Literal["involved", "sensitive", "my_number", "financial_damage", "malicious"]


class Conditions(StrictDocument):
    segments_any: tuple[Literal[SEGMENT_CODES], ...] = ()  # type: ignore[valid-type]
    impacts_any: tuple[Impact, ...] = ()
    personal_data: tuple[Flag, ...] = ()
    persons_over: int | None = Field(default=None, ge=0)
    rank_at_least: dict[AxisKind, int] = {}


class Rule(StrictDocument):
    severity: Severity
    reason: str = Field(min_length=1)
    when: Conditions


class SeverityRules(StrictDocument):
    default: Severity
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Facts:
    segments: frozenset[str]
    impacts: frozenset[str]
    flags: frozenset[str]
    persons: int
    ranks: dict[str, int]


def load_severity_rules(path: Path) -> SeverityRules:
    return load_document(path, SeverityRules)


def asset_ranks(profile: Profile, asset_classes: dict[str, str]) -> dict[str, int]:
    """Highest rank per axis kind; an `overall` axis (佐賀市's 重要度) counts for every kind."""
    ranks: dict[str, int] = {}
    for axis in profile.asset_classification.axes:
        level = next((lv for lv in axis.levels if lv.code == asset_classes.get(axis.code)), None)
        if level is None:
            continue
        kinds = ("confidentiality", "integrity", "availability") if axis.kind == "overall" else (axis.kind,)
        for kind in kinds:
            ranks[kind] = max(ranks.get(kind, 0), level.rank)
    return ranks


def _holds(when: Conditions, facts: Facts) -> bool:
    if when.segments_any and not facts.segments.intersection(when.segments_any):
        return False
    if when.impacts_any and not facts.impacts.intersection(when.impacts_any):
        return False
    if not facts.flags.issuperset(when.personal_data):
        return False
    if when.persons_over is not None and facts.persons <= when.persons_over:
        return False
    return all(facts.ranks.get(kind, 0) >= rank for kind, rank in when.rank_at_least.items())


def derive_severity(rules: SeverityRules, facts: Facts) -> tuple[Severity, str | None]:
    for rule in rules.rules:
        if _holds(rule.when, facts):
            return rule.severity, rule.reason
    return rules.default, None
