"""What the post-incident records do when an incident announces (app/incidents/events.py)."""
from __future__ import annotations

from app.incidents import events
from app.records.services import approve, withdraw_approval


def _closing(incident, actor=None, at=None, **_data):
    """Closing approves the record; without one the move is refused (Conflict)."""
    return approve(actor, incident, at)


def _reopened(incident, **_data) -> None:
    withdraw_approval(incident)


def connect() -> None:
    events.closing.connect(_closing)
    events.reopened.connect(_reopened)
