"""Deadlines on incidents: kept in step with the facts, filed by handlers, listed soonest first."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.auth.models import User
from app.core.db import db
from app.core.durations import parse_duration
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.playbooks import playbooks
from app.core.timeutil import CLOCK_SKEW, format_display, now_utc
from app.deadlines.models import Deadline
from app.deadlines.rules import (
    BodyOptions,
    DeadlineRule,
    ReportingFacts,
    RuleSet,
    counts_from,
    due_deadlines,
    excluded_by_encryption,
    reportable,
)
from app.incidents import timeline
from app.incidents.access import authorize, visibility_clause
from app.incidents.models import Incident, Stage
from app.notifications.models import Notification, NotificationStatus
from app.organizations.services import get_profile

STAGE_ORDER = [s.value for s in Stage]


def rules_for(organization_code: str, organ: str | None = None) -> tuple[RuleSet, BodyOptions]:
    """The reporting rules of the body, or of its 機関 `organ` (profile reporting.organs), and the
    body's options."""
    reporting = get_profile(organization_code).reporting
    return (playbooks().reporting_rules[reporting.rules_for(organ)],
            BodyOptions(preliminary_days=reporting.preliminary_days, ordinance_sensitive=reporting.ordinance_sensitive))


def incident_rules(incident: Incident) -> tuple[RuleSet, BodyOptions]:
    return rules_for(incident.organization.code, incident.organ)


def facts_of(incident: Incident) -> ReportingFacts:
    return ReportingFacts(
        detected_at=incident.detected_at, recognized_at=incident.recognized_at, involved=incident.pd_involved,
        persons=incident.pd_persons or 0, sensitive=incident.pd_sensitive, my_number=incident.pd_my_number,
        financial_damage=incident.pd_financial_damage, malicious=incident.pd_malicious,
        ordinance_sensitive=incident.pd_ordinance_sensitive, segments=frozenset(incident.network_segments or ()),
        held_in=frozenset(incident.pd_held_in or ()), encrypted=incident.pd_encrypted,
        public_exposure=incident.pd_public_exposure, severity=incident.severity,
    )


def reporting_conditions(incident: Incident) -> set[str]:
    """`reportable` (for the checklist's items such as 本人への通知) when the facts call for a
    report outside the office."""
    rules, options = incident_rules(incident)
    return {"reportable"} if not incident.not_incident and reportable(rules, facts_of(incident), options) else set()


def excluded_deadlines(incident: Incident) -> list[dict]:
    """The duties that the facts would call for but the encryption withdraws, each with its reason
    (from the rules, so also those never created)."""
    rules, options = incident_rules(incident)
    if incident.not_incident:
        return []
    excluded = excluded_by_encryption(rules, facts_of(incident), options)
    return [{"kind": kind, "label": rules.rule(kind).label, "authority": rules.rule(kind).authority,
             "source": rules.rule(kind).source, "reason": reason} for kind, reason in excluded.items()]


def deadlines_of(incident: Incident, withdrawn: bool = False) -> list[Deadline]:
    query = select(Deadline).where(Deadline.incident_id == incident.id)
    if not withdrawn:
        query = query.where(Deadline.withdrawn_at.is_(None))
    return list(db.session.scalars(query.order_by(Deadline.due_at, Deadline.id)))


def _auto_met(rule: DeadlineRule, incident: Incident, now: dt.datetime) -> tuple[dt.datetime, int | None] | None:
    """When the incident's own record shows an internal duty done: (when, by whom)."""
    if rule.met_when == "acknowledged" and incident.acknowledged_at:
        return incident.acknowledged_at, incident.acknowledged_by_id
    if rule.met_when is not None and rule.met_when != "acknowledged" and not incident.not_incident \
            and STAGE_ORDER.index(incident.stage) >= STAGE_ORDER.index(rule.met_when.stage_reached):
        return now, None
    return None


def _cancel_reminders(deadline: Deadline) -> None:
    """Unsent reminders of a deadline that was met, withdrawn or moved are not sent any more."""
    db.session.execute(update(Notification).where(
        Notification.deadline_id == deadline.id, Notification.status == NotificationStatus.PENDING.value)
        .values(status=NotificationStatus.CANCELLED.value).execution_options(synchronize_session=False))


def sync_deadlines(incident: Incident) -> list[str]:
    """Creates, moves and withdraws the incident's deadlines to match its facts (a deadline
    already met stays as filed; closing as 非該当 withdraws every unmet one). Returns what changed
    in what is owed outside the office, for the timeline entry of the action that changed the
    facts (one entry per action); the internal chain's target times follow silently (a duty the
    record shows done is marked met with a note)."""
    rules, options = incident_rules(incident)
    facts = facts_of(incident)
    wanted = {} if incident.not_incident else due_deadlines(rules, facts, options)
    encrypted = {} if incident.not_incident else excluded_by_encryption(rules, facts, options)
    existing = {d.kind: d for d in deadlines_of(incident, withdrawn=True)}
    now, changes = now_utc(), []
    for kind, due in wanted.items():
        rule = rules.rule(kind)
        deadline = existing.get(kind)
        if deadline is None:
            deadline = Deadline(incident_id=incident.id, organization_id=incident.organization_id, kind=kind,
                                category=rule.category, origin="rule", label=rule.label, authority=rule.authority,
                                source=rule.source, due_at=due, round=1, created_at=now, updated_at=now)
            db.session.add(deadline)
            changes.append((rule.category, f"設定: {rule.label}（{format_display(due)}まで）"))
        elif deadline.withdrawn_at is not None:
            deadline.withdrawn_at, deadline.updated_at = None, now
            _move(deadline, due, now)
            changes.append((rule.category, f"設定: {rule.label}（{format_display(due)}まで）"))
        elif deadline.met_at is None and deadline.due_at != due:
            changes.append((rule.category, f"変更: {rule.label}（{format_display(deadline.due_at)} → {format_display(due)}）"))
            _move(deadline, due, now)
        if deadline.met_at is None:
            deadline.counts_from = counts_from(rule, facts)
        met = _auto_met(rule, incident, now) if deadline.met_at is None else None
        if met:
            deadline.met_at, deadline.met_by_id = met
            deadline.note, deadline.updated_at = _("インシデントの記録から自動的に記録しました。"), now
    for kind, deadline in existing.items():
        dropped = (kind not in wanted and deadline.origin == "rule") or (incident.not_incident and deadline.origin == "manual")
        if dropped and deadline.met_at is None and deadline.withdrawn_at is None:
            deadline.withdrawn_at = deadline.updated_at = now
            _cancel_reminders(deadline)
            why = "非該当" if incident.not_incident else encrypted.get(kind, "事実が変わり対象外")
            changes.append((deadline.category, f"取消: {deadline.label}（{why}）"))
    db.session.flush()
    return [text for category, text in changes if category != "internal"]


def _move(deadline: Deadline, due: dt.datetime, now: dt.datetime) -> None:
    """A new due time is a new round: its reminders are due again, the old round's are cancelled."""
    if deadline.id is not None:
        _cancel_reminders(deadline)
    deadline.due_at, deadline.round, deadline.updated_at = due, deadline.round + 1, now
    deadline.approaching_notified_at = deadline.overdue_notified_at = None


def get_deadline(incident: Incident, deadline_id: int) -> Deadline:
    deadline = db.session.scalar(select(Deadline).where(Deadline.id == deadline_id, Deadline.incident_id == incident.id,
                                                        Deadline.withdrawn_at.is_(None))) \
        if 0 < deadline_id < 2**31 else None
    if deadline is None:
        raise NotFound(_("期限が見つかりません。"))
    return deadline


def mark_met(user: User, incident: Incident, deadline: Deadline, reference: str | None = None,
             met_at: dt.datetime | None = None, note: str | None = None) -> Deadline:
    """Records that a report was filed or a duty done: who, when, and the filing's reference."""
    now = now_utc()
    if met_at is not None and met_at > now + CLOCK_SKEW:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"met_at": _("未来の日時は指定できません。")})
    if met_at is not None and met_at < incident.detected_at:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"met_at": _("検知日時より前の日時は指定できません。")})
    authorize(user, incident.organization_id, "deadline.met", {"met_at"} if met_at is not None else (),
              _l("期限を完了にする権限がありません。"))
    if deadline.met_at is not None:
        raise Conflict(_("この期限はすでに完了しています。"), {"met_at": format_display(deadline.met_at)})
    deadline.met_at, deadline.met_by = met_at or now, user
    _cancel_reminders(deadline)
    deadline.filed_reference = (reference or "").strip() or None
    deadline.note = (note or "").strip() or None
    deadline.updated_at = now
    db.session.flush()
    late = deadline.met_at > deadline.due_at
    summary = f"{deadline.label} を完了（{format_display(deadline.met_at)}{'、期限超過' if late else ''}）" + \
        (f" {reference_label(incident, deadline)}: {deadline.filed_reference}" if deadline.filed_reference else "")
    timeline.record(incident, user, "deadline_met", summary,
                    {"kind": deadline.kind, "due_at": deadline.due_at, "met_at": deadline.met_at,
                     "reference": deadline.filed_reference, "late": late})
    return deadline


def reference_label(incident: Incident, deadline: Deadline) -> str:
    """What the filing's reference is called for this deadline (警察: 受理番号), else 受付番号等."""
    rule = incident_rules(incident)[0].rule(deadline.kind)
    return (rule.reference_label if rule is not None else None) or "受付番号等"


def add_notice(user: User, incident: Incident, kind: str, due: dt.datetime | None = None, note: str | None = None) -> Deadline:
    """A notice the handler decides is needed (本人への通知, 総務省・都道府県, 住基ネット・LGWAN の
    J-LIS, 警察, 公表)."""
    rules, _options = incident_rules(incident)
    notice = rules.notice(kind)
    if notice is None:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"kind": _("この団体で追加できる報告・通知の種類ではありません。")})
    authorize(user, incident.organization_id, "notice.create", {"due_at"} if due is not None else (),
              _l("報告・通知を追加する権限がありません。"))
    deadline = db.session.scalar(select(Deadline).where(Deadline.incident_id == incident.id, Deadline.kind == kind))
    if deadline is not None and deadline.withdrawn_at is None:
        raise Conflict(_("この報告・通知はすでに追加されています。"), {"kind": kind})
    now = now_utc()
    if deadline is None:
        deadline = Deadline(incident_id=incident.id, organization_id=incident.organization_id, kind=kind,
                            category="notice", origin="manual", label=notice.label, authority=notice.authority,
                            source=notice.source, round=0, created_at=now)
        db.session.add(deadline)
    deadline.withdrawn_at, deadline.note = None, (note or "").strip() or None
    _move(deadline, due or now + parse_duration(notice.after), now)
    db.session.flush()
    timeline.record(incident, user, "deadline_added", f"追加: {notice.label}（{format_display(deadline.due_at)}まで）",
                    {"kind": kind, "due_at": deadline.due_at})
    return deadline


def open_deadlines(user: User, organization_ids: list[int] | None, page: int, per_page: int) -> tuple[list, int]:
    """Every unmet deadline of incidents the user can read, soonest first (the dashboard)."""
    where = [Deadline.met_at.is_(None), Deadline.withdrawn_at.is_(None), visibility_clause(user)]
    if organization_ids is not None:
        where.append(Deadline.organization_id.in_(organization_ids))
    base = select(Deadline, Incident).join(Incident, Incident.id == Deadline.incident_id).where(*where)
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    rows = db.session.execute(base.order_by(Deadline.due_at, Deadline.id).limit(per_page)
                              .offset((page - 1) * per_page)).all()
    return [tuple(r) for r in rows], total
