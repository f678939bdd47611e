"""Notes on an incident: Markdown in the timeline, sanitized when shown."""
from __future__ import annotations

from flask_babel import gettext as _

from app.auth.models import User
from app.core.db import db
from app.core.errors import Forbidden, ValidationFailed
from app.core.permissions import Permission
from app.incidents import events, timeline
from app.incidents.access import can
from app.incidents.models import Incident, TimelineEvent

MAX_NOTE = 50_000


def add_note(user: User, incident: Incident, body: str) -> TimelineEvent:
    body = (body or "").strip()
    if not body or len(body) > MAX_NOTE or "\x00" in body:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"body": _("1〜50,000文字で入力してください。")})
    if not can(user, Permission.INCIDENT_WORK, incident.organization_id):
        raise Forbidden(_("メモを追加する権限がありません。"))
    first_line = body.splitlines()[0][:80]
    note = timeline.record(incident, user, "note", f"メモ: {first_line}", {"body": body})
    db.session.flush()  # the answer names the note's id
    events.announce(events.note_added, incident, actor=user, note=note)
    return note
