"""What the escalation does when an incident announces (app/incidents/events.py)."""
from __future__ import annotations

from app.escalation.messages import EVENTS, PAGE
from app.escalation.services import start_escalation
from app.incidents import events
from app.notifications import messages


def _opened(incident, actor=None, **_data) -> None:
    if incident.acknowledged_at is None:  # acknowledged on paper: nobody is to be paged now
        start_escalation(incident, actor, "登録")


def _severity_raised(incident, actor=None, **_data) -> None:
    start_escalation(incident, actor, "重大度の引き上げ")


def connect() -> None:
    messages.register(EVENTS, PAGE)
    events.opened.connect(_opened)
    events.severity_raised.connect(_severity_raised)
