"""The post-incident record (事後報告): drafted from the incident, saved by CSIRT, approved by the
CISO or 統括情報セキュリティ責任者 when they close the incident."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.models import User
from app.core.db import db
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.permissions import Permission
from app.core.timeutil import format_display, iso_utc, now_utc
from app.incidents import timeline
from app.incidents.access import can
from app.incidents.models import IMPACT_LABELS, Impact, Incident, Task
from app.organizations.services import get_profile
from app.records.models import PostIncidentRecord, Recommendation
from app.records.schemas import RecordInput

TIME_LABELS = {
    "detected_at": "検知", "reported_at": "受付（登録）", "acknowledged_at": "受領（確認）",
    "contained_at": "被害拡大の防止", "recovered_at": "復旧",
}
CONTAINMENT_STAGES = ("preserve", "contain", "recover")


def record_for(incident: Incident) -> PostIncidentRecord | None:
    return db.session.scalar(select(PostIncidentRecord).where(PostIncidentRecord.incident_id == incident.id))


def key_times(incident: Incident) -> dict[str, str | None]:
    """The times the record states, taken from the incident's own record, never retyped."""
    return {"detected_at": iso_utc(incident.detected_at), "reported_at": iso_utc(incident.reported_at or incident.created_at),
            "acknowledged_at": iso_utc(incident.acknowledged_at), "contained_at": iso_utc(incident.contained_at),
            "recovered_at": iso_utc(incident.recovered_at)}


def draft(incident: Incident) -> dict[str, str]:
    """What a new record starts from: the facts and the measures already logged as done tasks."""
    done = db.session.scalars(select(Task).where(Task.incident_id == incident.id, Task.done.is_(True),
                                                 Task.stage.in_(CONTAINMENT_STAGES))
                              .order_by(Task.done_at, Task.id)).all()
    measures = "\n".join(f"- {format_display(t.done_at)} {t.title}" for t in done)
    impact = []
    if incident.pd_involved:
        flags = [label for flag, label in (("pd_sensitive", "要配慮個人情報"), ("pd_my_number", "特定個人情報"),
                                           ("pd_financial_damage", "財産的被害のおそれ"), ("pd_malicious", "不正の目的のおそれ"),
                                           ("pd_ordinance_sensitive", "条例要配慮個人情報")) if getattr(incident, flag)]
        impact.append(f"- 個人情報: 本人の数 {incident.pd_persons} 名" + (f"（{'、'.join(flags)}）" if flags else ""))
    if incident.impacts:
        impact.append(f"- 被害の種類: {'、'.join(str(IMPACT_LABELS[Impact(i)]) for i in incident.impacts)}")
    return {"cause": "", "impact": "\n".join(impact), "measures": measures, "prevention": ""}


def _check(incident: Incident, data: RecordInput) -> None:
    clauses = {c.code for c in get_profile(incident.organization.code).policy_clauses}
    fields = {}
    unknown = [c for c in data.policy_clauses if c not in clauses]
    if unknown:
        fields["policy_clauses"] = _("この団体の基本方針にない条項です: %(codes)s", codes=", ".join(unknown))
    for index, item in enumerate(data.recommendations):
        if item.clause is not None and item.clause not in clauses:
            fields[f"recommendations.{index}.clause"] = _("この団体の基本方針にない条項です: %(codes)s", codes=item.clause)
    if fields:
        raise ValidationFailed(_("入力内容に誤りがあります。"), fields)


def save(user: User, incident: Incident, data: RecordInput) -> PostIncidentRecord:
    """Creates or replaces the record. Recommendations sent with their `id` keep it (and their
    history in the review); those left out are removed. An approved record is final."""
    _check(incident, data)
    if not can(user, Permission.INCIDENT_EDIT, incident.organization_id):
        raise Forbidden(_("事後報告を編集する権限がありません。"))
    record = record_for(incident)
    if record is not None and record.approved_at is not None:
        raise Conflict(_("承認済みの事後報告は変更できません（再開すると編集できます）。"), {"approved_at": iso_utc(record.approved_at)})
    if record is not None and data.version is not None and data.version != record.version:
        raise Conflict(_("他の担当者が先に更新しました。再読み込みしてください。"), {"version": str(record.version)})
    known = {r.id: r for r in record.recommendations} if record else {}
    sent = [item.id for item in data.recommendations if item.id is not None]
    if len(sent) != len(set(sent)):
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"recommendations": _("同じ提言が二度送られています。")})
    missing = [item_id for item_id in sent if item_id not in known]
    if missing:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"recommendations": _("この事後報告にない提言です: %(ids)s",
                                                                                ids=", ".join(map(str, missing)))})
    now, created = now_utc(), record is None
    if record is None:
        record = PostIncidentRecord(incident_id=incident.id, version=0, recommendations=[])
        db.session.add(record)
    record.cause, record.impact, record.measures, record.prevention = data.cause, data.impact, data.measures, data.prevention
    record.policy_clauses = list(dict.fromkeys(data.policy_clauses))
    record.times = key_times(incident)
    record.saved_at, record.saved_by_id, record.version = now, user.id, record.version + 1
    kept = []
    for position, item in enumerate(data.recommendations):
        row = known.pop(item.id) if item.id is not None else Recommendation(
            incident_id=incident.id, organization_id=incident.organization_id)
        if (row.text, row.clause, row.status, row.position) != (item.text, item.clause, item.status, position):
            row.text, row.clause, row.status, row.position, row.updated_at = item.text, item.clause, item.status, position, now
        kept.append(row)
    record.recommendations = kept
    db.session.flush()
    timeline.record(incident, user, "record_saved", f"事後報告を{'作成' if created else '更新'}しました（第{record.version}版）",
                    {"version": record.version, "policy_clauses": record.policy_clauses,
                     "recommendations": len(kept)})
    return record


def approve(user: User, incident: Incident, at: dt.datetime) -> PostIncidentRecord:
    """Called by the stage move to `closed` (which has checked the role and that a record exists)."""
    record = record_for(incident)
    if record is None:
        raise Conflict(_("終結には事後報告（原因・影響・対応措置・再発防止策）が必要です。"), {"to": "closed"})
    record.approved_at, record.approved_by_id = at, user.id
    record.times = key_times(incident)
    return record


def withdraw_approval(incident: Incident) -> None:
    """Reopening an incident makes its record editable again; it must be approved anew."""
    record = record_for(incident)
    if record is not None:
        record.approved_at = record.approved_by_id = None


def set_recommendation_status(user: User, incident: Incident, recommendation_id: int, status: str) -> Recommendation:
    """The review's decisions (採用 / 不採用) and their implementation (実施済), also after approval."""
    record = record_for(incident)
    row = next((r for r in record.recommendations if r.id == recommendation_id), None) if record else None
    if row is None:
        raise NotFound(_("提言が見つかりません。"))
    if not can(user, Permission.INCIDENT_EDIT, incident.organization_id):
        raise Forbidden(_("提言の状態を変更する権限がありません。"))
    if row.status != status:
        before, row.status, row.updated_at = row.status, status, now_utc()
        db.session.flush()
        timeline.record(incident, user, "recommendation_status", f"提言「{row.text[:40]}」: {STATUS_LABELS[before]} → {STATUS_LABELS[status]}",
                        {"recommendation": row.id, "from": before, "to": status})
    return row


STATUS_LABELS = {"proposed": "提案", "adopted": "採用", "rejected": "不採用", "done": "実施済"}
