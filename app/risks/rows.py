"""A register row is a threat category (and subcategory) × an asset class × a network segment of
the body's profile; '' in a dimension means all of it. What a row may name, how it reads, and
which incidents it covers."""
from __future__ import annotations

from flask_babel import gettext as _

from app.organizations.profiles import Profile

WHOLE = ""
Key = tuple[str, str, str, str]  # threat_category, subcategory, asset_class, segment


def asset_class_choices(profile: Profile) -> dict[str, str]:
    """"axis:level" → label, every level of every axis of the body's classification scheme."""
    return {f"{axis.code}:{level.code}": level.label for axis in profile.asset_classification.axes
            for level in axis.levels}


def segment_choices(profile: Profile) -> dict[str, str]:
    return {segment.code: segment.label for segment in profile.network_segments or ()}


def subcategory_choices(profile: Profile, category: str) -> dict[str, str]:
    found = profile.category(category)
    return {sub.code: sub.label for sub in found.subcategories} if found else {}


def category_errors(profile: Profile, category: str, subcategory: str | None) -> dict[str, str]:
    if profile.category(category) is None:
        return {"threat_category": _("%(org)sの脅威区分にない値です。", org=profile.name)}
    if subcategory and subcategory not in subcategory_choices(profile, category):
        return {"subcategory": _("この脅威区分の小区分にない値です。")}
    return {}


def row_errors(profile: Profile, category: str, subcategory: str | None, asset_class: str | None,
               segment: str | None) -> dict[str, str]:
    errors = category_errors(profile, category, subcategory)
    if asset_class and asset_class not in asset_class_choices(profile):
        errors["asset_class"] = _("%(org)sの情報資産の分類にない値です。", org=profile.name)
    if segment and segment not in segment_choices(profile):
        errors["segment"] = _("%(org)sのネットワーク区分にない値です。", org=profile.name)
    return errors


def category_label(profile: Profile, code: str) -> str:
    found = profile.category(code)
    return found.label if found else code


def row_label(profile: Profile, key: Key) -> str:
    category, subcategory, asset_class, segment = key
    parts = [category_label(profile, category)]
    if subcategory:
        parts[0] += " / " + subcategory_choices(profile, category).get(subcategory, subcategory)
    parts.append(asset_class_choices(profile).get(asset_class, asset_class) if asset_class else "すべての分類")
    parts.append(segment_choices(profile).get(segment, segment) if segment else "すべてのネットワーク")
    return "・".join(parts)


def covers(key: Key, category: str, subcategory: str | None, classes: dict) -> bool:
    """Whether the row counts incidents (or near misses) of this category, subcategory and asset
    classes, segments aside. A row that names a subcategory or a class counts only what is recorded
    as being of it: an incident without a class on that axis is not claimed for any level."""
    row_category, row_subcategory, row_class, _segment = key
    if row_category != category or (row_subcategory and row_subcategory != subcategory):
        return False
    if row_class:
        axis, _sep, level = row_class.partition(":")
        return classes.get(axis) == level
    return True
