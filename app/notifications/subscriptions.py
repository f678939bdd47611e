"""What the notifications do when an incident announces (app/incidents/events.py): tell the people
a change concerns. The words of each personal notice are registered with the outbox here too."""
from __future__ import annotations

from app.incidents import events
from app.notifications import messages, personal


def _note_added(incident, actor=None, note=None, **_data) -> None:
    people = [p for p in personal.mentioned_in(note.data.get("body", ""), personal.readers_of(incident))
              if actor is None or p.id != actor.id]
    author = actor.name if actor else "システム"
    personal.tell(people, incident, "mentioned", f"{author} 様がメモであなたに言及しました", about=note.id, cause=note.id)


def _task_assigned(incident, actor=None, task=None, assignee=None, entry=None, **_data) -> None:
    if actor is not None and assignee.id == actor.id:
        return
    who = actor.name if actor else "システム"
    personal.tell([assignee], incident, "task_assigned", f"{who} 様がタスク「{task.title}」の担当にあなたを指定しました",
                  about=task.id, cause=entry.id)


def _assigned(incident, actor=None, people=(), cause=None, **_data) -> None:
    who = actor.name if actor else "システム"
    for role, label in (("owner", "主担当"), ("member", "担当メンバー")):
        chosen = [person for person, as_what in people if as_what == role and (actor is None or person.id != actor.id)]
        personal.tell(chosen, incident, "assigned", f"{who} 様があなたを{label}に指定しました", about=incident.id, cause=cause)


def connect() -> None:
    messages.register(personal.KINDS, personal.NOTICE)
    events.note_added.connect(_note_added)
    events.task_assigned.connect(_task_assigned)
    events.assigned.connect(_assigned)
