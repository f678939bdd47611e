"""An edit that lost the race (optimistic lock): what the other person changed, beside what this
person typed, so they can merge by eye instead of retyping."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from app.core.db import db
from app.core.timeutil import format_display
from app.incidents.models import Incident, TimelineEvent
from app.incidents.services import FIELD_LABELS

COMPARED = ("title", "description", "threat_category", "subcategory", "detected_at", "recognized_at", "organ", "source",
            "network_segments", "impacts", "asset_classes", "personal_data")


def _current(incident: Incident) -> dict[str, Any]:
    return {"title": incident.title, "description": incident.description or "", "threat_category": incident.threat_category,
            "subcategory": incident.subcategory, "detected_at": incident.detected_at,
            "recognized_at": incident.recognized_at, "organ": incident.organ, "source": incident.source,
            "network_segments": incident.network_segments or [], "impacts": incident.impacts or [],
            "asset_classes": incident.asset_classes or {},
            "personal_data": incident.personal_data | {"ordinance_sensitive": incident.pd_ordinance_sensitive}}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a.replace(second=0, microsecond=0) == b.astimezone(a.tzinfo).replace(second=0, microsecond=0)
    if isinstance(a, list) and isinstance(b, list):
        return sorted(a) == sorted(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: v for k, v in a.items() if v} == {k: v for k, v in b.items() if v}
    return (a or None) == (b or None)


def _shown(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return format_display(value)
    if isinstance(value, list):
        return "、".join(value) or "—"
    if isinstance(value, dict):
        return "、".join(f"{k}: {v}" for k, v in value.items() if v) or "—"
    return "—" if value in (None, "") else str(value)


def differences(incident: Incident, mine: dict[str, Any]) -> list[dict[str, str]]:
    """The fields where the stored incident (after the other person's save) differs from the form."""
    current = _current(incident)
    return [{"field": FIELD_LABELS.get(name, name), "theirs": _shown(current[name]), "mine": _shown(mine.get(name))}
            for name in COMPARED if name in mine and not _same(current[name], mine.get(name))]


def last_change(incident: Incident) -> TimelineEvent | None:
    return db.session.scalar(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id,
                                                         TimelineEvent.kind == "updated")
                             .order_by(TimelineEvent.id.desc()).limit(1))
