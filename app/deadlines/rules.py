"""Reporting rules as data (playbooks/reporting/*.yaml) and what they make of an incident's facts.

`due_deadlines` is a pure function of the facts, so the rules can be tested (and fuzzed) without
a database: which duties apply, and when each is due.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from app.core.durations import Duration, parse_duration
from app.core.permissions import Role
from app.core.schemas import StrictDocument
from app.core.yamlfile import Problems, YamlFileError
from app.incidents.models import HeldIn

KIND_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
FLAG_TRIGGERS = ("sensitive", "financial_damage", "malicious", "ordinance_sensitive", "public_exposure")
# personal_data.held_in (API.md): the systems that held the data, as 番号法 規則 第2条第1号 names them
HELD_IN = tuple(h.value for h in HeldIn)
COUNTS_FROM = ("detected_at", "recognized_at")


class RulesError(YamlFileError):
    """A reporting rules file is invalid: names the file, the field and the problem."""


class PersonsOver(StrictDocument):
    persons_over: int = Field(ge=0)


class Segment(StrictDocument):
    segment: Literal["mynumber", "lgwan", "internet"]


class HeldInSystem(StrictDocument):
    held_in: Literal[HELD_IN]  # type: ignore[valid-type]


Trigger = Literal[FLAG_TRIGGERS] | PersonsOver | Segment | HeldInSystem  # type: ignore[valid-type]


def trigger_name(trigger) -> str:
    """`sensitive`, `persons_over`, `segment`, `held_in` …: what `encryption.excludes` names."""
    return trigger if isinstance(trigger, str) else next(iter(type(trigger).model_fields))


class When(StrictDocument):
    personal_data: bool | None = None
    my_number: bool | None = None
    any_of: tuple[Trigger, ...] | None = Field(default=None, min_length=1)


class Due(StrictDocument):
    after: Duration
    after_when_malicious: Duration | None = None
    # a target time that depends on the incident's severity (the internal chain's ciso_report: the
    # guideline's 「速やかに」 is sooner for a critical incident); severities not named use `after`
    by_severity: dict[Literal["critical", "high", "medium", "low"], Duration] | None = None


class Encryption(StrictDocument):
    """The triggers that do not count when the data was protected by 高度な暗号化等
    (personal_data.encrypted), and the reason shown on every duty this withdraws."""

    excludes: tuple[str, ...] = Field(min_length=1)
    reason: str = Field(min_length=1)


class StageReached(StrictDocument):
    stage_reached: Literal["report", "preserve", "contain", "recover", "prevent", "closed"]


class DeadlineRule(StrictDocument):
    kind: str = Field(pattern=KIND_PATTERN)
    category: Literal["regulatory", "internal"]
    label: str = Field(min_length=1)
    authority: str | None = None
    source: str = Field(min_length=1)
    quote: str | None = None
    note: str | None = None
    when: When
    due: Due
    counts_from: Literal[COUNTS_FROM] = "detected_at"  # type: ignore[valid-type]
    encryption: Encryption | None = None
    reference_label: str | None = None  # what the filing's reference is called (受付番号 …)
    met_when: Literal["acknowledged"] | StageReached | None = None

    @model_validator(mode="after")
    def _excludes_own_triggers(self) -> DeadlineRule:
        if self.encryption is not None:
            own = {trigger_name(t) for t in self.when.any_of or ()}
            unknown = sorted(set(self.encryption.excludes) - own)
            if unknown:
                raise ValueError(f"encryption.excludes: not a trigger of this rule's when.any_of: {', '.join(unknown)}")
        return self


class Notice(StrictDocument):
    kind: str = Field(pattern=KIND_PATTERN)
    label: str = Field(min_length=1)
    authority: str | None = None
    source: str = Field(min_length=1)
    after: Duration
    reference_label: str | None = None  # what the filing's reference is called (警察: 受理番号)


class Remind(StrictDocument):
    before: Duration
    notify: tuple[str, ...] = Field(min_length=1)

    @field_validator("notify")
    @classmethod
    def _roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for role in value:
            Role(role)
        return value


class RuleFile(StrictDocument):
    name: str = Field(min_length=1)
    extends: str | None = None
    remove: tuple[str, ...] = ()
    deadlines: tuple[DeadlineRule, ...] = ()
    notices: tuple[Notice, ...] = ()
    remind: Remind | None = None


class RuleSet(StrictDocument):
    code: str
    name: str
    deadlines: tuple[DeadlineRule, ...]
    notices: tuple[Notice, ...]
    remind: Remind

    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        kinds = [d.kind for d in self.deadlines] + [n.kind for n in self.notices]
        duplicates = sorted({k for k in kinds if kinds.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate kinds: {', '.join(duplicates)}")
        return self

    def rule(self, kind: str) -> DeadlineRule | Notice | None:
        return next((r for r in (*self.deadlines, *self.notices) if r.kind == kind), None)

    def notice(self, kind: str) -> Notice | None:
        return next((n for n in self.notices if n.kind == kind), None)


def load_rule_sets(directory: Path) -> dict[str, RuleSet]:
    """Every *.yaml in the directory, `extends` resolved (one level: a file extends a base); every
    problem of every file at once."""
    found = Problems()
    files = {path.stem: found.load(path, RuleFile) for path in sorted(directory.glob("*.yaml"))}
    sets: dict[str, RuleSet] = {}
    for code, rule_file in files.items():
        if rule_file is None:
            continue
        deadlines, notices, remind = list(rule_file.deadlines), list(rule_file.notices), rule_file.remind
        if rule_file.extends:
            if rule_file.extends in files and files[rule_file.extends] is None:
                continue  # the base is broken, and reported
            base = files.get(rule_file.extends)
            if base is None or base.extends:
                found.add(f"{code}.yaml", f"extends: {rule_file.extends!r} is not a base rules file")
                continue
            unknown = set(rule_file.remove) - {d.kind for d in base.deadlines} - {n.kind for n in base.notices}
            if unknown:
                found.add(f"{code}.yaml", f"remove: unknown kinds {', '.join(sorted(unknown))}")
            keep = [d for d in base.deadlines if d.kind not in rule_file.remove]
            deadlines = [d for d in keep if d.kind not in {x.kind for x in deadlines}] + deadlines
            notices = [n for n in base.notices if n.kind not in rule_file.remove and
                       n.kind not in {x.kind for x in notices}] + notices
            remind = remind or base.remind
        if remind is None:
            if not rule_file.extends:  # else the base misses it too, and is reported
                found.add(f"{code}.yaml", "remind: missing")
            continue
        rule_set = found.validate(RuleSet, {"code": code, "name": rule_file.name, "deadlines": tuple(deadlines),
                                            "notices": tuple(notices), "remind": remind}, f"{code}.yaml")
        if rule_set is not None:
            sets[code] = rule_set
    if not files:
        found.add(str(directory), "no reporting rules")
    found.raise_if_any(RulesError)
    return sets


# --- what the rules make of the facts ---------------------------------------------------------

@dataclass(frozen=True)
class ReportingFacts:
    detected_at: dt.datetime
    # when the body knew of a reportable situation (API.md `recognized_at`); None: detected_at
    recognized_at: dt.datetime | None = None
    involved: bool = False
    persons: int = 0
    sensitive: bool = False
    my_number: bool = False
    financial_damage: bool = False
    malicious: bool = False
    ordinance_sensitive: bool = False
    segments: frozenset[str] = frozenset()
    held_in: frozenset[str] = frozenset()
    encrypted: bool = False
    public_exposure: bool = False
    severity: str | None = None

    @property
    def personal_data(self) -> bool:
        return self.involved or self.persons > 0 or self.sensitive or self.my_number or self.ordinance_sensitive


@dataclass(frozen=True)
class BodyOptions:
    """What a body's profile changes: the days for 速報 and whether its ordinance defines
    条例要配慮個人情報."""

    preliminary_days: int | None = None
    ordinance_sensitive: bool = False


def _triggered(trigger, facts: ReportingFacts, options: BodyOptions) -> bool:
    if isinstance(trigger, PersonsOver):
        return facts.persons > trigger.persons_over
    if isinstance(trigger, Segment):
        return trigger.segment in facts.segments
    if isinstance(trigger, HeldInSystem):
        return trigger.held_in in facts.held_in
    if trigger == "ordinance_sensitive":
        return options.ordinance_sensitive and facts.ordinance_sensitive
    return bool(getattr(facts, trigger))


def applies(rule: DeadlineRule, facts: ReportingFacts, options: BodyOptions) -> bool:
    when = rule.when
    if when.personal_data is not None and when.personal_data != facts.personal_data:
        return False
    if when.my_number is not None and when.my_number != facts.my_number:
        return False
    excluded = set(rule.encryption.excludes) if facts.encrypted and rule.encryption else set()
    return when.any_of is None or any(_triggered(t, facts, options) for t in when.any_of
                                      if trigger_name(t) not in excluded)


def counts_from(rule: DeadlineRule, facts: ReportingFacts) -> str:
    """Which of the incident's times the rule's due time counts from: `recognized_at` for the
    statutes' 「知った」 when the incident records it, else `detected_at`."""
    return "recognized_at" if rule.counts_from == "recognized_at" and facts.recognized_at is not None else "detected_at"


def due_at(rule: DeadlineRule, facts: ReportingFacts, options: BodyOptions) -> dt.datetime:
    after = rule.due.after_when_malicious if facts.malicious and rule.due.after_when_malicious else rule.due.after
    if rule.due.by_severity and facts.severity in rule.due.by_severity:
        after = rule.due.by_severity[facts.severity]
    delay = parse_duration(after)
    if rule.kind.endswith("_preliminary") and options.preliminary_days:
        delay = dt.timedelta(days=options.preliminary_days)
    start = facts.recognized_at if counts_from(rule, facts) == "recognized_at" else facts.detected_at
    return start + delay


def due_deadlines(rules: RuleSet, facts: ReportingFacts, options: BodyOptions) -> dict[str, dt.datetime]:
    """{kind: due time} of every duty that applies to these facts."""
    return {rule.kind: due_at(rule, facts, options) for rule in rules.deadlines if applies(rule, facts, options)}


def excluded_by_encryption(rules: RuleSet, facts: ReportingFacts, options: BodyOptions) -> dict[str, str]:
    """{kind: reason} of every duty that the same facts without the encryption would call for:
    what personal_data.encrypted withdraws, each with the rule's reason."""
    if not facts.encrypted:
        return {}
    plain = replace(facts, encrypted=False)
    return {rule.kind: rule.encryption.reason for rule in rules.deadlines
            if rule.encryption and applies(rule, plain, options) and not applies(rule, facts, options)}


def reportable(rules: RuleSet, facts: ReportingFacts, options: BodyOptions) -> bool:
    """The facts call for a report outside the office (a regulatory duty applies)."""
    return any(rule.category == "regulatory" and applies(rule, facts, options) for rule in rules.deadlines)


def check_profiles(rule_sets: dict[str, RuleSet], profiles: dict) -> None:
    """Every body's `reporting.rules`, and its 機関's (`reporting.organs`), names a rules file
    (checked at start-up, like the playbooks)."""
    found = Problems()
    for code, profile in profiles.items():
        if profile.reporting.rules not in rule_sets:
            found.add(f"{code}.yaml", f"reporting.rules: no playbooks/reporting/{profile.reporting.rules}.yaml")
        for n, organ in enumerate(profile.reporting.organs):
            if organ.rules not in rule_sets:
                found.add(f"{code}.yaml", f"reporting.organs.{n}.rules: no playbooks/reporting/{organ.rules}.yaml")
    found.raise_if_any(RulesError)
