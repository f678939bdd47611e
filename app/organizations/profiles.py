"""Policy profiles (one YAML per body in playbooks/organizations), validated at start-up.

A profile is written from the body's 情報セキュリティ基本方針 and quotes it. An assembly that
follows its city's plan names the city as `parent` and lists the inherited sections in
`inherit`; `resolve_profiles` copies them from the parent so inheritance is explicit.
"""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from app.core.permissions import Role
from app.core.schemas import StrictDocument
from app.core.yamlfile import Problems, YamlFileError

CATEGORY_CODES = ("intentional", "unintentional", "disaster", "pandemic", "infrastructure", "other")
SEGMENT_CODES = ("mynumber", "lgwan", "internet")
INHERITABLE = ("network_segments", "asset_classification", "emergency_plan")
CODE_PATTERN = r"^[a-z][a-z0-9-]{1,39}$"
ROLE_CODES = tuple(role.value for role in Role)
BodyKind = Literal["city", "assembly", "association"]


class ProfileError(YamlFileError):
    """A profile file is invalid: names file, field and problem."""


class Coded(StrictDocument):
    code: str = Field(pattern=r"^[a-z0-9_-]+$")
    label: str = Field(min_length=1)


class Subcategory(Coded):
    pass


class ThreatCategory(StrictDocument):
    code: Literal[CATEGORY_CODES]  # type: ignore[valid-type]
    label: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    clause: str | None = None
    quote: str | None = None
    subcategories: tuple[Subcategory, ...] = ()


class NetworkSegment(StrictDocument):
    code: Literal[SEGMENT_CODES]  # type: ignore[valid-type]
    label: str = Field(min_length=1)
    clause: str | None = None
    quote: str | None = None


class ClassLevel(StrictDocument):
    code: str = Field(min_length=1, max_length=8)
    label: str = Field(min_length=1)
    rank: int = Field(ge=1, le=3)


class ClassAxis(StrictDocument):
    code: str = Field(pattern=r"^[a-z_]+$")
    label: str
    kind: Literal["confidentiality", "integrity", "availability", "overall"]
    levels: tuple[ClassLevel, ...] = Field(min_length=1)


class AssetClassification(StrictDocument):
    clause: str | None = None
    quote: str | None = None
    note: str | None = None
    axes: tuple[ClassAxis, ...] = Field(min_length=1)


class EmergencyPlan(StrictDocument):
    owner: str = Field(pattern=CODE_PATTERN)
    clause: str | None = None
    quote: str | None = None


class PolicyClause(StrictDocument):
    code: str = Field(pattern=r"^[0-9]+(-[0-9]+)*$")
    label: str = Field(min_length=1)
    clause: str | None = None


class Scope(StrictDocument):
    clause: str | None = None
    bodies: tuple[str, ...] = ()
    quote: str | None = None


class Basis(StrictDocument):
    """The law the policy is made under (熊本市議会: 地方自治法 第244条の6), as the seed quotes it."""

    law: str = Field(min_length=1)
    clause: str | None = None
    quote: str | None = None


class Source(StrictDocument):
    title: str
    file: str
    adopted: str | None = None
    basis: Basis | None = None


class Staff(StrictDocument):
    """Who the policy's 職員等 are: whom it binds, read from the seed's own definition."""

    clause: str | None = None
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    quote: str | None = None


class PolicyReview(StrictDocument):
    """When the policy itself is reviewed (見直し), where the seed says so apart from its audits."""

    frequency: str = Field(min_length=1)
    clause: str | None = None
    quote: str | None = None


class Review(StrictDocument):
    audit: bool
    self_inspection: bool
    frequency: str | None = None
    clause: str | None = None
    quote: str | None = None
    policy_review: PolicyReview | None = None


RULES_PATTERN = r"^[a-z][a-z0-9-]{1,39}$"


class Organ(StrictDocument):
    """A 機関 in the body's scope whose incidents follow other reporting rules than the body's
    (a city's 議会 or 議会事務局: not one of the 行政機関等 of 個人情報保護法). Chosen on the incident."""

    code: str = Field(pattern=CODE_PATTERN)
    label: str = Field(min_length=1)  # as the profile's scope names it
    rules: str = Field(pattern=RULES_PATTERN)
    note: str | None = None


class Reporting(StrictDocument):
    """Which reporting rules apply (playbooks/reporting/<rules>.yaml) and the body's own settings."""

    rules: str = Field(default="national", pattern=RULES_PATTERN)
    preliminary_days: int | None = Field(default=None, ge=1, le=30)
    ordinance_sensitive: bool = False  # the body's ordinance defines 条例要配慮個人情報
    organs: tuple[Organ, ...] = ()
    clause: str | None = None
    quote: str | None = None

    def organ(self, code: str | None) -> Organ | None:
        return next((o for o in self.organs if o.code == code), None) if code else None

    def rules_for(self, organ: str | None) -> str:
        """The rules of the incident's 機関: the organ's where it names one, else the body's."""
        chosen = self.organ(organ)
        return chosen.rules if chosen else self.rules


class Security(StrictDocument):
    """Sign-in rules of the body: roles that must use a second factor (TOTP). The guideline asks
    for multi-factor authentication for work in the マイナンバー利用事務系."""

    mfa_required_roles: tuple[Literal[ROLE_CODES], ...] = ()  # type: ignore[valid-type]


HOST_PATTERN = r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"


class Webhooks(StrictDocument):
    """Webhook hosts that are not on the public internet but are meant (an on-premise chat server
    in the LGWAN): networks like 10.20.0.0/16 or exact host names. Everything else that resolves to
    a loopback, link-local, private or otherwise special address is refused."""

    allow: tuple[str, ...] = ()

    @field_validator("allow")
    @classmethod
    def _entries(cls, entries: tuple[str, ...]) -> tuple[str, ...]:
        for entry in entries:
            if "/" in entry or entry.replace(".", "").isdigit() or ":" in entry:
                try:
                    ipaddress.ip_network(entry, strict=True)
                except ValueError as exc:
                    raise ValueError(f"{entry!r}: not a network ({exc})") from None
            elif not re.match(HOST_PATTERN, entry):
                raise ValueError(f"{entry!r}: neither a network (10.20.0.0/16) nor a host name in lower case")
        return entries


class Profile(StrictDocument):
    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    kind: BodyKind
    parent: str | None = Field(default=None, pattern=CODE_PATTERN)
    reference_prefix: str = Field(pattern=r"^[A-Z][A-Z0-9-]{1,19}$")
    inherits_only: bool = False
    note: str | None = None
    source: Source | None = None
    scope: Scope
    staff: Staff | None = None
    inherit: tuple[Literal[INHERITABLE], ...] = ()  # type: ignore[valid-type]
    # inherited sections that the seed does not state but the team infers (shown as an inference)
    inferred: tuple[Literal[INHERITABLE], ...] = ()  # type: ignore[valid-type]
    inference_note: str | None = None
    emergency_plan: EmergencyPlan | None = None
    threat_categories: tuple[ThreatCategory, ...] = Field(min_length=1)
    network_segments: tuple[NetworkSegment, ...] | None = None
    asset_classification: AssetClassification | None = None
    policy_clauses: tuple[PolicyClause, ...] = ()
    reporting: Reporting = Reporting()
    security: Security = Security()
    webhooks: Webhooks = Webhooks()
    review: Review

    @model_validator(mode="after")
    def _check(self) -> Profile:
        for name, items in (
            ("threat_categories", self.threat_categories),
            ("policy_clauses", self.policy_clauses),
            ("network_segments", self.network_segments or ()),
        ):
            codes = [item.code for item in items]
            if len(codes) != len(set(codes)):
                raise ValueError(f"{name}: duplicate code")
        for section in INHERITABLE:
            inherited = section in self.inherit
            present = getattr(self, section) is not None
            if inherited and present:
                raise ValueError(f"{section}: inherited from the parent, so it must not be given here")
            if not inherited and not present:
                raise ValueError(f"{section}: missing (give it, or list it in `inherit` with a parent)")
        if self.inherit and not self.parent:
            raise ValueError("inherit: needs a parent")
        if not set(self.inferred) <= set(self.inherit):
            raise ValueError("inferred: only inherited sections can be inferred")
        if self.inferred and not self.inference_note:
            raise ValueError("inference_note: say what the inference rests on")
        organs = [o.code for o in self.reporting.organs]
        if len(organs) != len(set(organs)):
            raise ValueError("reporting.organs: duplicate code")
        for organ in self.reporting.organs:
            if organ.label not in self.scope.bodies:
                raise ValueError(f"reporting.organs: {organ.label!r} is not one of scope.bodies")
        return self

    # Lookups used by validation and pages.
    def category(self, code: str) -> ThreatCategory | None:
        return next((c for c in self.threat_categories if c.code == code), None)

    def segment_codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.network_segments or ())

    def clause_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.policy_clauses)


def _read_profile(path: Path, found: Problems) -> Profile | None:
    profile = found.load(path, Profile)
    if profile is not None and profile.code != path.stem:
        found.add(path.name, f"code: '{profile.code}' does not match the file name")
    return profile


def load_profile_file(path: Path) -> Profile:
    found = Problems()
    profile = _read_profile(path, found)
    found.raise_if_any(ProfileError)
    return profile


def resolve_profiles(profiles: dict[str, Profile], found: Problems, broken: set[str]) -> dict[str, Profile]:
    """Copies inherited sections from parents; checks parents and plan owners exist. A body whose
    file is `broken` (its problems already found) exists: naming it is no second mistake."""
    resolved: dict[str, Profile] = {}
    for code, profile in profiles.items():
        if profile.parent and profile.parent not in profiles:
            if profile.parent not in broken:
                found.add(f"{code}.yaml", f"parent: unknown organization '{profile.parent}'")
            continue
        parent = profiles.get(profile.parent) if profile.parent else None
        if parent and parent.parent:
            found.add(f"{code}.yaml", f"parent: '{parent.code}' has a parent itself; one level only")
            continue
        updates = {section: getattr(parent, section) for section in profile.inherit} if parent else {}
        resolved[code] = profile.model_copy(update=updates)
        owner = resolved[code].emergency_plan.owner
        if owner not in profiles and owner not in broken:
            found.add(f"{code}.yaml", f"emergency_plan.owner: unknown organization '{owner}'")
    return resolved


def load_profiles(directory: Path) -> dict[str, Profile]:
    """Every profile of the directory, parents' sections inherited; every problem of every file at once."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ProfileError(f"{directory}: no organization profiles (*.yaml)")
    found = Problems()
    profiles: dict[str, Profile] = {}
    broken: set[str] = set()
    for path in files:
        profile = _read_profile(path, found)
        if profile is not None and profile.code == path.stem:
            profiles[profile.code] = profile
        else:
            broken |= {path.stem} | ({profile.code} if profile else set())
    resolved = resolve_profiles(profiles, found, broken)
    found.raise_if_any(ProfileError)
    return resolved
