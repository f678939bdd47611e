"""playbooks/risk.yaml: the register's scales, finding ratings, kinds of change and the rules by
which incident history disagrees with an assessment; validated at start-up."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from app.core.schemas import StrictDocument
from app.core.yamlfile import YamlFileError, load_document

SEVERITIES = ("critical", "high", "medium", "low")


class RiskRulesError(YamlFileError):
    """playbooks/risk.yaml is invalid: names the file, the field and the problem."""


class Level(StrictDocument):
    value: int = Field(ge=1, le=5)
    label: str = Field(min_length=1)
    description: str = ""


class Scale(StrictDocument):
    likelihood: tuple[Level, ...]
    loss: tuple[Level, ...]

    @field_validator("likelihood", "loss")
    @classmethod
    def _one_to_five(cls, levels: tuple[Level, ...]) -> tuple[Level, ...]:
        if [level.value for level in levels] != [1, 2, 3, 4, 5]:
            raise ValueError("five levels, valued 1 to 5 in order")
        return levels

    def likelihood_label(self, value: int) -> str:
        return self.likelihood[value - 1].label

    def loss_label(self, value: int) -> str:
        return self.loss[value - 1].label


class Choice(StrictDocument):
    code: str = Field(pattern=r"^[a-z][a-z_]{1,29}$")
    label: str = Field(min_length=1)


class SeverityOverLoss(StrictDocument):
    severity: Literal[SEVERITIES]  # type: ignore[valid-type]
    loss_below: int = Field(ge=2, le=5)


class Thresholds(StrictDocument):
    """Incidents in a period at or above which an assessed likelihood (1–4) is too low."""

    quarter: dict[Literal[1, 2, 3, 4], int]
    fiscal_year: dict[Literal[1, 2, 3, 4], int]

    @field_validator("quarter", "fiscal_year")
    @classmethod
    def _rising(cls, limits: dict[int, int]) -> dict[int, int]:
        values = [limits[k] for k in sorted(limits)]
        if any(v < 1 for v in values) or values != sorted(values):
            raise ValueError("thresholds of at least 1 that do not fall as the likelihood rises")
        return limits


class Disagreement(StrictDocument):
    incidents_at_least: Thresholds
    severity_over_loss: tuple[SeverityOverLoss, ...] = ()
    unassessed_at_least: int | None = Field(default=None, ge=1)


class RiskRules(StrictDocument):
    scales: dict[str, Scale]
    bodies: dict[str, str] = {}
    finding_ratings: tuple[Choice, ...] = Field(min_length=1)
    circumstance_kinds: tuple[Choice, ...] = Field(min_length=1)
    disagreement: Disagreement

    @field_validator("finding_ratings", "circumstance_kinds")
    @classmethod
    def _distinct(cls, choices: tuple[Choice, ...]) -> tuple[Choice, ...]:
        codes = [c.code for c in choices]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate code")
        return choices

    @model_validator(mode="after")
    def _scales_named(self) -> RiskRules:
        if "default" not in self.scales:
            raise ValueError("scales: needs a `default` scale")
        unknown = sorted(f"{code}: {name}" for code, name in self.bodies.items() if name not in self.scales)
        if unknown:
            raise ValueError(f"bodies: unknown scale ({', '.join(unknown)})")
        return self

    def scale_for(self, code: str) -> Scale:
        return self.scales[self.bodies.get(code, "default")]

    def rating_label(self, code: str) -> str:
        return next((c.label for c in self.finding_ratings if c.code == code), code)

    def kind_label(self, code: str) -> str:
        return next((c.label for c in self.circumstance_kinds if c.code == code), code)


def load_risk_rules(path: Path) -> RiskRules:
    return load_document(path, RiskRules, RiskRulesError)


def check_risk_bodies(rules: RiskRules, profiles: dict) -> None:
    """The bodies given a scale of their own exist (every unknown one named)."""
    unknown = sorted(code for code in rules.bodies if code not in profiles)
    if unknown:
        raise RiskRulesError(f"risk.yaml: bodies: unknown organization {', '.join(unknown)}")
