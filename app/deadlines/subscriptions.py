"""What the deadlines do when an incident announces (app/incidents/events.py)."""
from __future__ import annotations

from app.deadlines.messages import APPROACHING, OVERDUE, REMINDER
from app.deadlines.services import reporting_conditions, sync_deadlines
from app.incidents import events
from app.notifications import messages


def _facts_changed(incident, **_data) -> list[str]:
    return sync_deadlines(incident)


def _checklist_conditions(incident, **_data) -> set[str]:
    return reporting_conditions(incident)


def connect() -> None:
    messages.register((APPROACHING, OVERDUE), REMINDER)
    events.facts_changed.connect(_facts_changed)
    events.checklist_conditions.connect(_checklist_conditions)
