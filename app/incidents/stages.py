"""Moving an incident through the stages of the 緊急時対応計画."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.auth.models import User
from app.core.db import db
from app.core.errors import Conflict, Forbidden, ValidationFailed
from app.core.permissions import Permission
from app.core.playbooks import playbooks
from app.core.timeutil import now_utc
from app.incidents import events, timeline
from app.incidents.access import authorize, can
from app.incidents.models import STAGE_LABELS, Incident, Stage
from app.incidents.tasks import open_required

ORDER = [s.value for s in Stage]


def stage_name(code: str) -> str:
    """The Japanese name from playbooks/stages.yaml, as written into the record."""
    return next(s.label for s in playbooks().stages if s.code == code)


def move_stage(user: User, incident: Incident, to: str, reason: str | None = None, override: bool = False,
               not_incident: bool = False) -> Incident:
    """Forward one stage at a time (required tasks done, or an officer's override with a reason);
    back to any earlier stage; from triage, closed as 非該当 with a reason. Checks run in the
    contract's order: invalid (422), not allowed (403), conflict (409)."""
    reason = (reason or "").strip() or None
    if to not in ORDER:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"to": _("不明な段階です。")})
    if override and not reason:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"reason": _("強制移行には理由が必要です。")})
    if not_incident and (to != Stage.CLOSED.value or not reason):
        raise ValidationFailed(_("入力内容に誤りがあります。"),
                               {"reason" if not reason else "to": _("非該当として終結するには、終結を選び理由を記入してください。")})
    current = ORDER.index(incident.stage)
    target = ORDER.index(to)
    closing = to == Stage.CLOSED.value and not not_incident
    reopening = incident.stage == Stage.CLOSED.value
    authorize(user, incident.organization_id, "stage.move", {"override"} if override else (),
              _l("段階を変更する権限がありません。"))
    if (closing or reopening) and not can(user, Permission.INCIDENT_CLOSE, incident.organization_id):
        raise Forbidden(_("終結・再開できるのは統括情報セキュリティ責任者・CISOです。"))
    if target == current:
        raise Conflict(_("すでにこの段階です。"), {"to": to})
    if not_incident:
        if incident.stage != Stage.TRIAGE.value:
            raise Conflict(_("非該当として終結できるのは受付・評価の段階だけです。"), {"to": to})
        return _set_stage(user, incident, to, reason, kind="closed_not_incident", not_incident=True)
    if target > current:
        if target != current + 1:
            raise Conflict(_("段階は一つずつ進めてください（次は「%(next)s」です）。", next=STAGE_LABELS[Stage(ORDER[current + 1])]),
                           {"to": to})
        blocking = open_required(incident, incident.stage)
        if blocking and not override:
            raise Conflict(_("必須タスクが %(n)s 件残っているため次の段階へ進めません。", n=len(blocking)),
                           {"tasks": ", ".join(t.title for t in blocking)})
        data = {"overridden_tasks": [t.id for t in blocking]} if blocking else {}
        return _set_stage(user, incident, to, reason, kind="stage_overridden" if blocking else "stage_changed", data=data)
    return _set_stage(user, incident, to, reason, kind="stage_back")


def _set_stage(user: User, incident: Incident, to: str, reason: str | None, kind: str, not_incident: bool = False,
               data: dict | None = None) -> Incident:
    before, now = incident.stage, now_utc()
    approval = None
    if to == Stage.CLOSED.value and not not_incident:  # before any change: refused without a record
        approval = next(iter(events.announce(events.closing, incident, actor=user, at=now)), None)
    incident.stage = to
    incident.updated_at = now
    forward = ORDER.index(to) > ORDER.index(before)
    if forward and before == Stage.CONTAIN.value and incident.contained_at is None:
        incident.contained_at = now
    if forward and before == Stage.RECOVER.value and incident.recovered_at is None:
        incident.recovered_at = now
    if to == Stage.CLOSED.value:
        incident.closed_at, incident.not_incident, incident.closed_reason = now, not_incident, reason
    elif before == Stage.CLOSED.value:
        incident.closed_at, incident.not_incident, incident.closed_reason = None, False, None
        events.announce(events.reopened, incident)
    db.session.flush()
    deadlines = events.deadline_changes(incident)
    label = "非該当として終結" if not_incident else f"{stage_name(before)} → {stage_name(to)}"
    summary = f"段階: {label}" + (f"（理由: {reason}）" if reason else "") + \
        (f"（事後報告を{user.name}が承認）" if approval else "") + events.describe(deadlines)
    timeline.record(incident, user, kind, summary, {"from": before, "to": to, "reason": reason} | (data or {})
                    | ({"deadlines": deadlines} if deadlines else {}))
    return incident
