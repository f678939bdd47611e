"""What an incident announces, for the domains that react to it (deadlines, escalation, records).

The incidents package knows nothing of them: each subscribes in its own `subscriptions.py`, and
`app/__init__.py` connects those registries at start-up (`connect_subscribers`). Receivers run in
the same transaction as the announcement, flush and never commit. Each signal has at most one
receiver per domain, so their relative order never matters; the order of the side effects is the
order of the announcements, which is this, per service:

- open_incident (incidents.services): `facts_changed` (deadlines: worked out from the facts,
  described in the "created" entry) → the playbook's tasks (asking `checklist_conditions`) →
  `opened` (escalation: paging starts, unless the incident was acknowledged on paper).
- update_incident: `facts_changed` (deadlines, described in the "updated" entry) → the playbook's
  tasks when the category or a reporting fact changed (asking `checklist_conditions`) →
  `severity_raised` when the severity went up (escalation: a new cycle at the new severity).
- move_stage (incidents.stages): `closing` (records: the post-incident record is approved, or the
  move is refused without one) or `reopened` (records: the approval withdrawn) →
  `facts_changed` (deadlines: the chain's internal duties met by the stage).
- acknowledge (escalation.services): `facts_changed` (deadlines: the clocks that run from the
  acknowledgement), described in the "acknowledged" entry.
- open_incident / update_incident with owner or members (incidents.people): `assigned`
  (notifications: who was made owner or member is told, unless they did it themselves).
- add_note (incidents.notes): `note_added` (notifications: the people it mentions are told).
- update_task / add_task with an assignee (incidents.tasks): `task_assigned` (notifications: the
  assignee is told, unless they assigned it themselves).

A receiver's answer comes back to the announcer: `facts_changed` answers the deadline changes (a
list of texts), `closing` the approved record, `checklist_conditions` the conditions of checklist
items that hold for the incident (deadlines: "reportable" when its facts call for a report outside
the office).
"""
from __future__ import annotations

from typing import Any

from blinker import Namespace

_signals = Namespace()

facts_changed = _signals.signal("incident-facts-changed")  # (incident) -> list[str] of deadline changes
opened = _signals.signal("incident-opened")  # (incident, actor)
severity_raised = _signals.signal("incident-severity-raised")  # (incident, actor)
closing = _signals.signal("incident-closing")  # (incident, actor, at) -> the approved record, or raises
reopened = _signals.signal("incident-reopened")  # (incident)
# for the people concerned (app/notifications/subscriptions.py): nothing answers them
note_added = _signals.signal("incident-note-added")  # (incident, actor, note: the timeline entry)
task_assigned = _signals.signal("incident-task-assigned")  # (incident, actor, task, assignee, entry)
assigned = _signals.signal("incident-assigned")  # (incident, actor, people: [(user, "owner"/"member")], cause)
checklist_conditions = _signals.signal("incident-checklist-conditions")  # (incident) -> set[str]


def announce(signal, incident, **data: Any) -> list[Any]:
    """Sends `signal` for `incident`; answers what the receivers returned (None left out)."""
    return [answer for _receiver, answer in signal.send(incident, **data) if answer is not None]


def deadline_changes(incident) -> list[str]:
    """`facts_changed`, answered by the deadlines: what changed in what is owed, in order."""
    return [change for answer in announce(facts_changed, incident) for change in answer]


def describe(changes: list[str]) -> str:
    """The deadline changes as they are appended to a timeline entry's summary."""
    return f"（期限 — {'、'.join(changes)}）" if changes else ""
