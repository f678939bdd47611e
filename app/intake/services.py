"""Every report lands once in its body's triage queue, whatever the channel; the CSIRT opens it
as an incident, merges it into one, or closes it as 非該当. Pages, API and mail intake call these."""
from __future__ import annotations

import datetime as dt
import io
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.audit import services as audit
from app.auth.models import User
from app.core.db import db
from app.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from app.core.locks import begin_writing, hold
from app.core.permissions import Permission
from app.core.timeutil import CLOCK_SKEW, iso_utc, now_utc
from app.incidents import timeline
from app.incidents.access import can, organization_for_input, overseen_organization, overseen_organizations
from app.incidents.evidence import preserve, stored_file
from app.incidents.models import Evidence, Incident, Stage
from app.incidents.schemas import IncidentCreate
from app.incidents.services import open_incident
from app.intake.models import Report, ReportAddition, ReportState
from app.intake.schemas import ReportCreate, ReportOpening
from app.organizations.models import Organization

RECEIPT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone


@dataclass
class Attachment:
    filename: str | None
    content_type: str | None
    data: bytes
    description: str = ""


@dataclass
class Submission:
    organization: Organization
    channel: str
    source: str
    title: str
    body: str
    occurred_at: dt.datetime | None = None
    sender: str | None = None
    contact: str | None = None
    address: str | None = None
    message_id: str | None = None
    dedup_key: str | None = None
    flag_reason: str | None = None
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class Outcome:
    """What a submission became: a new report, or an addition to an open report or incident."""

    report: Report
    created: bool
    incident: Incident | None = None


def new_receipt() -> str:
    code = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
    return f"R-{code[:4]}-{code[4:]}"


def _keep(attachments: list[Attachment], report: Report | None, incident: Incident | None) -> list[Evidence]:
    kept = [preserve(io.BytesIO(item.data), item.filename, item.content_type, item.description,
                     incident=incident, report=report) for item in attachments]
    db.session.flush()
    return kept


def _open_match(submission: Submission) -> Report | None:
    """The report this one belongs to: the same e-mail delivered again, or the same dedup key while
    its report waits or its incident is open."""
    org_id = submission.organization.id
    if submission.message_id:
        found = db.session.scalar(select(Report).where(Report.organization_id == org_id,
                                                       Report.message_id == submission.message_id))
        if found is None:  # or delivered again after it was added to another report
            found = db.session.scalar(select(Report).join(ReportAddition, ReportAddition.report_id == Report.id)
                                      .where(Report.organization_id == org_id,
                                             ReportAddition.message_id == submission.message_id).limit(1))
        if found is not None:
            return found
    if not submission.dedup_key:
        return None
    return db.session.scalar(
        select(Report).outerjoin(Incident, Incident.id == Report.incident_id)
        .where(Report.organization_id == org_id, Report.dedup_key == submission.dedup_key,
               or_(Report.state == ReportState.NEW.value,
                   and_(Report.state.in_((ReportState.OPENED.value, ReportState.MERGED.value)),
                        Incident.stage != Stage.CLOSED.value)))
        .order_by(Report.id.desc()).limit(1))


def _add_to(report: Report, submission: Submission) -> Outcome:
    if submission.message_id and (report.message_id == submission.message_id or db.session.scalar(
            select(ReportAddition.id).where(ReportAddition.report_id == report.id,
                                            ReportAddition.message_id == submission.message_id))):
        return Outcome(report, False, report.incident)
    if report.state == ReportState.NEW.value:
        db.session.add(ReportAddition(report_id=report.id, body=submission.body, message_id=submission.message_id))
        _keep(submission.attachments, report, None)
        return Outcome(report, False)
    incident = report.incident
    kept = _keep(submission.attachments, None, incident)
    timeline.record(incident, None, "report_added",
                    f"続報を受け付けました（{report.receipt}、{submission.channel}）: {submission.title[:80]}",
                    {"receipt": report.receipt, "body": submission.body, "evidence_ids": [e.id for e in kept]})
    return Outcome(report, False, incident)


def submit(submission: Submission) -> Outcome:
    """Files the report, or adds it where it belongs. Two deliveries racing with the same
    Message-ID or dedup key meet at a unique index: the loser adds to the winner."""
    if submission.occurred_at is not None and submission.occurred_at > now_utc() + CLOCK_SKEW:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"occurred_at": _("未来の日時は入力できません。")})
    match = _open_match(submission)
    if match is not None:
        return _add_to(match, submission)
    report = Report(organization_id=submission.organization.id, organization=submission.organization,
                    receipt=new_receipt(), channel=submission.channel, source=submission.source,
                    state=ReportState.NEW.value, title=submission.title[:200], body=submission.body,
                    occurred_at=submission.occurred_at, received_at=now_utc(), sender=submission.sender,
                    contact=submission.contact, address=submission.address, message_id=submission.message_id,
                    dedup_key=submission.dedup_key, flagged=submission.flag_reason is not None,
                    flag_reason=submission.flag_reason)
    begin_writing()  # the savepoint below must not be the outermost transaction
    savepoint = db.session.begin_nested()
    try:
        db.session.add(report)
        db.session.flush()
    except IntegrityError:
        savepoint.rollback()
        match = _open_match(submission)
        if match is None:
            raise
        return _add_to(match, submission)
    savepoint.commit()
    _keep(submission.attachments, report, None)
    audit.append(None, "report.received", "report", report.id, submission.organization.code,
                 {"receipt": report.receipt, "channel": report.channel, "flagged": report.flagged})
    return Outcome(report, True)


def file_report(user: User, data: ReportCreate) -> Outcome:
    """POST /api/v1/reports: a forwarder's report, in a body where the caller may create incidents."""
    org = organization_for_input(user, data.organization)
    if not can(user, Permission.INCIDENT_CREATE, org.id):
        raise Forbidden(_("この団体に報告を登録する権限がありません。"))
    return submit(Submission(organization=org, channel="api", source=data.source, title=data.title, body=data.body,
                             occurred_at=data.occurred_at, sender=user.email, dedup_key=data.dedup_key))


PUBLIC_FORM_LOCK = "public-report-limits"  # one lock: the overall limit counts every address


class TooMany(DomainError):
    status = 429
    code = "too_many_requests"


def _recent(*where) -> int:
    return db.session.scalar(select(func.count()).select_from(Report).where(*where)) or 0


def _title_of(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return (first[:60] + "…") if len(first) > 60 else first or _("（内容なし）")


def submit_public(organization: Organization, what: str, occurred_at: dt.datetime | None, contact: str | None,
                  address: str, attachments: list[Attachment]) -> Outcome:
    """The public report form: rate-limited per address and overall (PUBLIC_REPORT_PER_ADDRESS and
    PUBLIC_REPORT_PER_HOUR reports in the last hour), titled by its first line."""
    hold(PUBLIC_FORM_LOCK)  # counting and filing in one step: concurrent submissions wait here
    config, hour_ago = current_app.config, now_utc() - dt.timedelta(hours=1)
    if _recent(Report.address == address, Report.received_at >= hour_ago) >= config["PUBLIC_REPORT_PER_ADDRESS"] or \
            _recent(Report.channel == "form", Report.received_at >= hour_ago) >= config["PUBLIC_REPORT_PER_HOUR"]:
        raise TooMany(_("送信が集中しているため、受け付けられませんでした。入力内容はそのまま残っています。"
                        "しばらく（1時間ほど）待ってから、もう一度送信してください。お急ぎの場合はお電話でご連絡ください。"))
    return submit(Submission(organization=organization, channel="form", source="external", title=_title_of(what),
                             body=what, occurred_at=occurred_at, contact=(contact or "").strip() or None,
                             address=address, attachments=attachments))


# --- triage -----------------------------------------------------------------------------------


def get_report(user: User, report_id: int) -> Report:
    report = db.session.get(Report, report_id) if 0 < report_id < 2**31 else None
    if report is None or report.organization_id not in user.organization_ids():
        raise NotFound(_("報告が見つかりません。"))
    if not can(user, Permission.INCIDENT_READ_ALL, report.organization_id):
        raise Forbidden(_("報告を閲覧する権限がありません。"))
    return report


def additions_of(report: Report) -> list[ReportAddition]:
    return list(db.session.scalars(select(ReportAddition).where(ReportAddition.report_id == report.id)
                                   .order_by(ReportAddition.id)))


def attachments_of(report: Report) -> list[Evidence]:
    return list(db.session.scalars(select(Evidence).where(Evidence.report_id == report.id).order_by(Evidence.id)))


def require_decider(user: User | None, report: Report) -> None:
    if user is not None and not can(user, Permission.INCIDENT_EDIT, report.organization_id):
        raise Forbidden(_("報告を振り分ける権限がありません。"))


def _decide(user: User | None, report: Report, state: ReportState, reason: str | None, incident: Incident | None) -> None:
    """Once, by compare-and-set on the state: a person, or None for the system (a mail reply)."""
    require_decider(user, report)
    changed = db.session.execute(
        update(Report).where(Report.id == report.id, Report.state == ReportState.NEW.value)
        .values(state=state.value, decided_by_id=user.id if user else None, decided_at=now_utc(), decision_reason=reason,
                incident_id=incident.id if incident else None)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict(_("この報告は、すでに他の担当者が振り分けました。"))
    db.session.refresh(report)
    if incident is not None:
        db.session.execute(update(Evidence).where(Evidence.report_id == report.id)
                           .values(incident_id=incident.id).execution_options(synchronize_session=False))
    audit.append(user, f"report.{state.value}", "report", report.id, report.organization.code,
                 {"receipt": report.receipt, "incident": incident.reference if incident else None, "reason": reason})


def _report_text(report: Report) -> str:
    parts = [report.body] + [a.body for a in additions_of(report)]
    return "\n\n---\n\n".join(p for p in parts if p)


def detected_default(report: Report) -> dt.datetime:
    """When the reporter noticed, else when the report arrived (never later than that)."""
    return min(report.occurred_at or report.received_at, report.received_at)


def open_from_report(user: User, report: Report, data: ReportOpening) -> Incident:
    """Opens the report as an incident of its body, reported when the report arrived (so its
    deadlines count from the start from what the body knew by then), and marks the report opened:
    its files become the incident's evidence, audited. The contract's order: invalid input (422),
    then a role that may not open it (403), then a report no longer waiting (409); a refusal after
    the incident was written is undone with the request's transaction."""
    detected_at = data.detected_at or detected_default(report)
    if detected_at > report.received_at:
        raise ValidationFailed(_("入力内容に誤りがあります。"),
                               {"detected_at": _("報告を受け付けた日時より後にはできません。")})
    fields = data.model_dump(exclude_unset=True) | {"organization": report.organization.code, "detected_at": detected_at}
    incident = open_incident(user, IncidentCreate.model_validate(fields), reported_at=report.received_at)
    opened_as(user, report, incident)
    return incident


def opened_as(user: User, report: Report, incident: Incident) -> None:
    """The report became `incident` (just created from it, see open_from_report): decided once,
    its files become the incident's evidence, the timeline says where the incident came from."""
    if incident.organization_id != report.organization_id:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"organization": _("報告と同じ団体を選んでください。")})
    _decide(user, report, ReportState.OPENED, None, incident)
    timeline.record(incident, user, "report_opened", f"報告 {report.receipt}（{report.channel}）からインシデントとして登録しました",
                    {"receipt": report.receipt, "sender": report.sender, "body": _report_text(report)})


def merged_by_reply(report: Report, incident: Incident, reason: str) -> None:
    """A mail whose subject names an open incident joins it at once, decided by the system."""
    _decide(None, report, ReportState.MERGED, reason, incident)


def merge(user: User, report: Report, reference: str) -> Incident:
    """Into the open incident of the same body whose reference is given (AGEO-2026-0001)."""
    require_decider(user, report)
    reference = (reference or "").strip().upper()
    incident = db.session.scalar(select(Incident).where(Incident.organization_id == report.organization_id,
                                                        Incident.reference == reference)) if reference else None
    if incident is None:
        raise ValidationFailed(_("入力内容に誤りがあります。"),
                               {"reference": _("同じ団体のインシデント番号（例: AGEO-2026-0001）を入力してください。")})
    if incident.stage == Stage.CLOSED.value:
        raise Conflict(_("終結したインシデントには統合できません。"))
    _decide(user, report, ReportState.MERGED, None, incident)
    timeline.record(incident, user, "report_merged", f"報告 {report.receipt}（{report.channel}）を統合しました: {report.title[:80]}",
                    {"receipt": report.receipt, "sender": report.sender, "body": _report_text(report)})
    return incident


def dismiss(user: User, report: Report, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason or len(reason) > 2000 or "\x00" in reason:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"reason": _("非該当とする理由を入力してください（2,000文字以内）。")})
    _decide(user, report, ReportState.DISMISSED, reason, None)


def queue_of(user: User, organization: str | None, state: str, page: int, per_page: int) -> tuple[list[Report], int]:
    """GET /api/v1/reports: the queue of one body the user oversees (404 not theirs, 403 not as a
    whole), or of every such body."""
    organizations = [overseen_organization(user, organization)] if organization is not None \
        else overseen_organizations(user)
    return queue([o.id for o in organizations], state, page, per_page)


def queue(organization_ids: list[int], state: str, page: int, per_page: int) -> tuple[list[Report], int]:
    """A page of the bodies' reports in `state`, oldest first (the order they must be looked at);
    the bodies are those the user oversees (access.overseen_organizations)."""
    scope = (Report.organization_id.in_(organization_ids), Report.state == state)
    total = db.session.scalar(select(func.count()).select_from(Report).where(*scope)) or 0
    rows = db.session.scalars(select(Report).where(*scope).options(selectinload(Report.incident))
                              .order_by(Report.received_at, Report.id)
                              .limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


def report_json(report: Report, incident: Incident | None = None) -> dict:
    incident = incident or report.incident
    return {
        "id": report.id, "receipt": report.receipt, "organization": report.organization.code, "state": report.state,
        "channel": report.channel, "source": report.source, "title": report.title, "body": report.body,
        "occurred_at": iso_utc(report.occurred_at), "received_at": iso_utc(report.received_at),
        "sender": report.sender, "contact": report.contact, "dedup_key": report.dedup_key,
        "flagged": report.flagged, "flag_reason": report.flag_reason,
        "incident": {"id": incident.id, "reference": incident.reference} if incident else None,
        "decision_reason": report.decision_reason,
    }


def report_file(user: User, report: Report, evidence_id: int) -> tuple[Evidence, Path]:
    """A file of a report still waiting (afterwards it is the incident's evidence, downloaded and
    logged there), its download audited: chain of custody before there is an incident."""
    item = db.session.get(Evidence, evidence_id) if 0 < evidence_id < 2**31 else None
    if item is None or item.report_id != report.id or report.incident_id is not None:
        raise NotFound(_("ファイルが見つかりません。"))
    path = stored_file(item)
    audit.append(user, "report.file_downloaded", "report", report.id, report.organization.code,
                 {"receipt": report.receipt, "evidence_id": item.id, "sha256": item.sha256})
    return item, path
