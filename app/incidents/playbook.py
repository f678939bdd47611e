"""Playbooks as data: the stages (playbooks/stages.yaml) and checklists (playbooks/checklists/).

`default.yaml` is the national default. A body's file `extends` the default or another body's
playbook and may `add`, `remove` and `override` items. A body without a file follows the
playbook of whoever owns its 緊急時対応計画 (its profile's `emergency_plan.owner`), else the
default. Every file is validated at start-up; errors name the file, the path and the problem.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from app.core.permissions import Role
from app.core.schemas import StrictDocument
from app.core.yamlfile import Problems, YamlFileError, load_document
from app.incidents.models import Stage
from app.organizations.profiles import CATEGORY_CODES, Profile

WORK_STAGES = tuple(s.value for s in Stage if s is not Stage.CLOSED)
StageCode = Literal[WORK_STAGES]  # type: ignore[valid-type]
CODE = r"^[a-z0-9][a-z0-9-]{1,79}$"


class PlaybookError(YamlFileError):
    pass


class StageDef(StrictDocument):
    code: Stage
    label: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    purpose: str = Field(min_length=1)


class StagesFile(StrictDocument):
    stages: tuple[StageDef, ...]


class ItemWhen(StrictDocument):
    """An item only some incidents get: `reportable` when the facts call for a report outside the
    office (the deadlines answer it, events.checklist_conditions); `rules` when the incident's
    reporting rules are these (its body's, or its 機関's: profile reporting)."""

    reportable: Literal[True] | None = None
    rules: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{1,39}$")

    def conditions(self) -> frozenset[str]:
        return frozenset({"reportable"} if self.reportable else set()) | \
            frozenset({f"rules:{self.rules}"} if self.rules else set())


class ItemDef(StrictDocument):
    code: str = Field(pattern=CODE)
    title: str = Field(min_length=1, max_length=300)
    guidance: str = ""
    required: bool = False
    role: Role | None = None
    when: ItemWhen | None = None


class ItemChange(StrictDocument):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    guidance: str | None = None
    required: bool | None = None
    role: Role | None = None


StageItems = dict[StageCode, tuple[ItemDef, ...]]


class Items(StrictDocument):
    common: StageItems = {}
    categories: dict[Literal[CATEGORY_CODES], StageItems] = {}  # type: ignore[valid-type]
    subcategories: dict[str, StageItems] = {}


class ChecklistFile(Items):
    name: str = Field(min_length=1)
    extends: str | None = None
    organization: str | None = None
    add: Items | None = None
    remove: tuple[str, ...] = ()
    override: dict[str, ItemChange] = {}


@dataclass(frozen=True)
class Item:
    code: str
    stage: str
    source: str  # "common", "<category>" or "<category>.<subcategory>"
    title: str
    guidance: str
    required: bool
    role: str | None
    conditions: frozenset[str] = frozenset()  # ItemWhen.conditions(): all must hold for the incident


@dataclass(frozen=True)
class Playbook:
    name: str
    items: tuple[Item, ...]
    extends: str | None = None  # the playbook it was built on

    def items_for(self, category: str, subcategory: str | None, holds: frozenset[str] = frozenset()) -> list[Item]:
        """The items of that category and subcategory whose conditions all hold (`holds`:
        "reportable", "rules:<code>")."""
        sources = {"common", category} | ({f"{category}.{subcategory}"} if subcategory else set())
        order = {code: n for n, code in enumerate(WORK_STAGES)}
        chosen = [item for item in self.items if item.source in sources and item.conditions <= holds]
        return sorted(chosen, key=lambda item: order[item.stage])  # stable: keeps file order per stage


def load_stages(path: Path) -> tuple[StageDef, ...]:
    stages = load_document(path, StagesFile, PlaybookError).stages
    if tuple(s.code for s in stages) != tuple(Stage):
        raise PlaybookError(f"{path.name}: stages: must be exactly {', '.join(Stage)} in this order")
    return stages


def _flatten(items: Items, filename: str, where: str, found: Problems) -> list[Item]:
    flat: list[Item] = []
    groups = [("common", items.common)] + list(items.categories.items()) + list(items.subcategories.items())
    for source, by_stage in groups:
        if "." in source and source.split(".", 1)[0] not in CATEGORY_CODES:
            found.add(filename, f"{where}subcategories.{source}: unknown category")
            continue
        for stage, defs in by_stage.items():
            flat += [Item(d.code, stage, source, d.title, d.guidance, d.required, d.role.value if d.role else None,
                          d.when.conditions() if d.when else frozenset()) for d in defs]
    return flat


def _check_unique(inherited: list[Item], own: list[Item], filename: str, found: Problems) -> None:
    """The file's own items against each other and what it inherits (the inherited file answers
    for its own repeats)."""
    seen = {item.code for item in inherited}
    for item in own:
        if item.code in seen:
            found.add(filename, f"{item.source}.{item.stage}: item code '{item.code}' is used twice")
        seen.add(item.code)


def load_checklists(directory: Path) -> dict[str, Playbook]:
    """Every checklist, `extends` resolved. Every problem of every file is reported at once; a file
    whose items cannot be known (invalid, or extending an unknown or broken one) is left out of the
    checks of the files that extend it, so that one mistake is reported once."""
    found = Problems()
    files = {path.stem: (path.name, found.load(path, ChecklistFile)) for path in sorted(directory.glob("*.yaml"))}
    if "default" not in files:  # what the others extend: nothing more to check without it
        found.add(str(directory), "default.yaml is missing")
        found.raise_if_any(PlaybookError)
    resolved: dict[str, Playbook | None] = {}

    def resolve(key: str, chain: tuple[str, ...]) -> Playbook | None:
        if key in resolved:
            return resolved[key]
        filename, spec = files[key]
        resolved[key] = playbook = None if spec is None else build(key, filename, spec, chain)
        return playbook

    def build(key: str, filename: str, spec: ChecklistFile, chain: tuple[str, ...]) -> Playbook | None:
        if spec.organization not in (None, key):
            found.add(filename, f"organization: '{spec.organization}' does not match the file name")
        if spec.extends is None:
            items = _flatten(spec, filename, "", found)
            _check_unique([], items, filename, found)
            return Playbook(spec.name, tuple(items))
        if spec.extends not in files:
            found.add(filename, f"extends: unknown playbook '{spec.extends}'")
            return None
        if spec.extends in chain + (key,):
            found.add(filename, f"extends: circular ({' → '.join(chain + (key, spec.extends))})")
            return None
        if spec.common or spec.categories or spec.subcategories:
            found.add(filename, "a playbook that extends another gives its items under `add`")
        base = resolve(spec.extends, chain + (key,))
        if base is None:
            return None
        known = {item.code for item in base.items}
        for code in list(spec.remove) + list(spec.override):
            if code not in known:
                found.add(filename, f"remove/override: no inherited item '{code}'")
        inherited = [_changed(item, spec.override.get(item.code)) for item in base.items if item.code not in spec.remove]
        added = _flatten(spec.add, filename, "add.", found) if spec.add else []
        _check_unique(inherited, added, filename, found)
        return Playbook(spec.name, tuple(inherited + added), spec.extends)

    for key in files:
        resolve(key, ())
    found.raise_if_any(PlaybookError)
    return {key: playbook for key, playbook in resolved.items() if playbook is not None}


def _changed(item: Item, change: ItemChange | None) -> Item:
    if change is None:
        return item
    updates = {k: v for k, v in change.model_dump(exclude_unset=True).items() if v is not None}
    if "role" in updates:
        updates["role"] = Role(updates["role"]).value
    return Item(**{**item.__dict__, **updates})


def check_subcategories(playbooks: dict[str, Playbook], profiles: dict[str, Profile]) -> None:
    known = {f"{c.code}.{s.code}" for p in profiles.values() for c in p.threat_categories for s in c.subcategories}
    found = Problems()
    for key, playbook in playbooks.items():
        inherited = {item.source for item in playbooks[playbook.extends].items} if playbook.extends else set()
        for source in dict.fromkeys(item.source for item in playbook.items):
            if "." in source and source not in known and source not in inherited:  # reported with the playbook it came from
                found.add(f"{key}.yaml", f"subcategories.{source}: no profile has this subcategory")
    found.raise_if_any(PlaybookError)


def check_rules_conditions(playbooks: dict[str, Playbook], rule_sets) -> None:
    """Every item's `when.rules` names a reporting rules file (else the item would never show)."""
    for key, playbook in playbooks.items():
        for item in playbook.items:
            for condition in item.conditions:
                if condition.startswith("rules:") and condition[6:] not in rule_sets:
                    raise PlaybookError(f"{key}.yaml: {item.code}: when.rules: no playbooks/reporting/{condition[6:]}.yaml")


def playbook_for(playbooks: dict[str, Playbook], profile: Profile) -> Playbook:
    for key in (profile.code, profile.emergency_plan.owner, profile.parent):
        if key and key in playbooks:
            return playbooks[key]
    return playbooks["default"]
