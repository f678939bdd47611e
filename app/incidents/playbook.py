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
from app.core.yamlfile import load_document
from app.incidents.models import Stage
from app.organizations.profiles import CATEGORY_CODES, Profile

WORK_STAGES = tuple(s.value for s in Stage if s is not Stage.CLOSED)
StageCode = Literal[WORK_STAGES]  # type: ignore[valid-type]
CODE = r"^[a-z0-9][a-z0-9-]{1,79}$"


class PlaybookError(Exception):
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


def _flatten(items: Items, filename: str, where: str) -> list[Item]:
    flat: list[Item] = []
    groups = [("common", items.common)] + list(items.categories.items()) + list(items.subcategories.items())
    for source, by_stage in groups:
        if "." in source and source.split(".", 1)[0] not in CATEGORY_CODES:
            raise PlaybookError(f"{filename}: {where}subcategories.{source}: unknown category")
        for stage, defs in by_stage.items():
            flat += [Item(d.code, stage, source, d.title, d.guidance, d.required, d.role.value if d.role else None,
                          d.when.conditions() if d.when else frozenset()) for d in defs]
    return flat


def _check_unique(items: list[Item], filename: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.code in seen:
            raise PlaybookError(f"{filename}: {item.source}.{item.stage}: item code '{item.code}' is used twice")
        seen.add(item.code)


def load_checklists(directory: Path) -> dict[str, Playbook]:
    files = {path.stem: (path.name, load_document(path, ChecklistFile, PlaybookError)) for path in sorted(directory.glob("*.yaml"))}
    if "default" not in files:
        raise PlaybookError(f"{directory}: default.yaml is missing")
    resolved: dict[str, Playbook] = {}

    def resolve(key: str, chain: tuple[str, ...]) -> Playbook:
        if key in resolved:
            return resolved[key]
        filename, spec = files[key]
        if spec.organization not in (None, key):
            raise PlaybookError(f"{filename}: organization: '{spec.organization}' does not match the file name")
        if spec.extends is None:
            items = _flatten(spec, filename, "")
        else:
            if spec.extends not in files:
                raise PlaybookError(f"{filename}: extends: unknown playbook '{spec.extends}'")
            if spec.extends in chain:
                raise PlaybookError(f"{filename}: extends: circular ({' → '.join(chain + (key, spec.extends))})")
            if spec.common or spec.categories or spec.subcategories:
                raise PlaybookError(f"{filename}: a playbook that extends another gives its items under `add`")
            items = list(resolve(spec.extends, chain + (key,)).items)
            known = {item.code for item in items}
            for code in list(spec.remove) + list(spec.override):
                if code not in known:
                    raise PlaybookError(f"{filename}: remove/override: no inherited item '{code}'")
            items = [item for item in items if item.code not in spec.remove]
            items = [_changed(item, spec.override.get(item.code)) for item in items]
            items += _flatten(spec.add, filename, "add.") if spec.add else []
        _check_unique(items, filename)
        resolved[key] = Playbook(spec.name, tuple(items))
        return resolved[key]

    for key in files:
        resolve(key, ())
    return resolved


def _changed(item: Item, change: ItemChange | None) -> Item:
    if change is None:
        return item
    updates = {k: v for k, v in change.model_dump(exclude_unset=True).items() if v is not None}
    if "role" in updates:
        updates["role"] = Role(updates["role"]).value
    return Item(**{**item.__dict__, **updates})


def check_subcategories(playbooks: dict[str, Playbook], profiles: dict[str, Profile]) -> None:
    known = {f"{c.code}.{s.code}" for p in profiles.values() for c in p.threat_categories for s in c.subcategories}
    for key, playbook in playbooks.items():
        for item in playbook.items:
            if "." in item.source and item.source not in known:
                raise PlaybookError(f"{key}.yaml: subcategories.{item.source}: no profile has this subcategory")


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
