"""Every report lands once in its body's triage queue, whatever the channel; the CSIRT opens it
as an incident, merges it into one, or closes it as 非該当. Pages, API and mail intake call these."""
from __future__ import annotations

import datetime as dt
import io
import secrets
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.audit import services as audit
from app.auth.models import User
from app.core.db import db
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.permissions import Permission
from app.core.timeutil import iso_utc, now_utc
from app.incidents import timeline
from app.incidents.access import can
from app.incidents.evidence import display_name, store_blob
from app.incidents.models import Evidence, Incident, Stage
from app.intake.models import Report, ReportAddition, ReportState
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
    kept = []
    limit = current_app.config["EVIDENCE_MAX_BYTES"]
    for item in attachments:
        sha, size = store_blob(io.BytesIO(item.data), limit)
        evidence = Evidence(report_id=report.id if report else None, incident_id=incident.id if incident else None,
                            sha256=sha, size=size, filename=display_name(item.filename),
                            content_type=(item.content_type or "")[:255] or None, description=item.description[:2000])
        db.session.add(evidence)
        kept.append(evidence)
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
    candidates = db.session.scalars(
        select(Report).where(Report.organization_id == org_id, Report.dedup_key == submission.dedup_key,
                             Report.state.in_((ReportState.NEW.value, ReportState.OPENED.value, ReportState.MERGED.value)))
        .order_by(Report.id.desc()))
    for report in candidates:
        if report.state == ReportState.NEW.value:
            return report
        incident = db.session.get(Incident, report.incident_id)
        if incident is not None and incident.stage != Stage.CLOSED.value:
            return report
    return None


def _add_to(report: Report, submission: Submission) -> Outcome:
    if submission.message_id and (report.message_id == submission.message_id or db.session.scalar(
            select(ReportAddition.id).where(ReportAddition.report_id == report.id,
                                            ReportAddition.message_id == submission.message_id))):
        return Outcome(report, False, db.session.get(Incident, report.incident_id) if report.incident_id else None)
    if report.state == ReportState.NEW.value:
        db.session.add(ReportAddition(report_id=report.id, body=submission.body, message_id=submission.message_id))
        _keep(submission.attachments, report, None)
        return Outcome(report, False)
    incident = db.session.get(Incident, report.incident_id)
    kept = _keep(submission.attachments, None, incident)
    timeline.record(incident, None, "report_added",
                    f"続報を受け付けました（{report.receipt}、{submission.channel}）: {submission.title[:80]}",
                    {"receipt": report.receipt, "body": submission.body, "evidence_ids": [e.id for e in kept]})
    return Outcome(report, False, incident)


def _open_transaction() -> None:
    """pysqlite starts a transaction only at the first INSERT/UPDATE/DELETE: a SAVEPOINT issued
    before any would itself be the outermost transaction, and releasing it would commit the report
    alone, before its evidence and audit entry (and despite a later rollback)."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def submit(submission: Submission) -> Outcome:
    """Files the report, or adds it where it belongs. Two deliveries racing with the same
    Message-ID or dedup key meet at a unique index: the loser adds to the winner."""
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
    _open_transaction()
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


def recent_from(address: str, since: dt.datetime) -> int:
    return db.session.scalar(select(func.count()).select_from(Report)
                             .where(Report.address == address, Report.received_at >= since)) or 0


def recent_on(channel: str, since: dt.datetime) -> int:
    return db.session.scalar(select(func.count()).select_from(Report)
                             .where(Report.channel == channel, Report.received_at >= since)) or 0


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


def require_decider(user: User, report: Report) -> None:
    if not can(user, Permission.INCIDENT_EDIT, report.organization_id):
        raise Forbidden(_("報告を振り分ける権限がありません。"))


def _decide(user: User, report: Report, state: ReportState, reason: str | None, incident: Incident | None) -> None:
    require_decider(user, report)
    changed = db.session.execute(
        update(Report).where(Report.id == report.id, Report.state == ReportState.NEW.value)
        .values(state=state.value, decided_by_id=user.id, decided_at=now_utc(), decision_reason=reason,
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


def opened_as(user: User, report: Report, incident: Incident) -> None:
    """The report became `incident` (just created from it): its files become the incident's
    evidence, and the incident counts its report time from the report's arrival."""
    if incident.organization_id != report.organization_id:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"organization": _("報告と同じ団体を選んでください。")})
    _decide(user, report, ReportState.OPENED, None, incident)
    incident.reported_at = min(report.received_at, incident.reported_at or report.received_at)
    timeline.record(incident, user, "report_opened", f"報告 {report.receipt}（{report.channel}）からインシデントとして登録しました",
                    {"receipt": report.receipt, "sender": report.sender, "body": _report_text(report)})


def merge(user: User, report: Report, incident: Incident) -> None:
    if incident.organization_id != report.organization_id:
        raise NotFound(_("インシデントが見つかりません。"))
    if incident.stage == Stage.CLOSED.value:
        raise Conflict(_("終結したインシデントには統合できません。"))
    _decide(user, report, ReportState.MERGED, None, incident)
    timeline.record(incident, user, "report_merged", f"報告 {report.receipt}（{report.channel}）を統合しました: {report.title[:80]}",
                    {"receipt": report.receipt, "sender": report.sender, "body": _report_text(report)})


def dismiss(user: User, report: Report, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason or len(reason) > 2000 or "\x00" in reason:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"reason": _("非該当とする理由を入力してください（2,000文字以内）。")})
    _decide(user, report, ReportState.DISMISSED, reason, None)


def queue(user: User, organization_ids: list[int], state: str, page: int, per_page: int) -> tuple[list[Report], int]:
    """A page of the bodies' reports in `state`, oldest first (the order they must be looked at)."""
    readable = [o for o in organization_ids if can(user, Permission.INCIDENT_READ_ALL, o)]
    scope = (Report.organization_id.in_(readable), Report.state == state)
    total = db.session.scalar(select(func.count()).select_from(Report).where(*scope)) or 0
    rows = db.session.scalars(select(Report).where(*scope).order_by(Report.received_at, Report.id)
                              .limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


def report_json(report: Report, incident: Incident | None = None) -> dict:
    incident = incident or (db.session.get(Incident, report.incident_id) if report.incident_id else None)
    return {
        "id": report.id, "receipt": report.receipt, "organization": report.organization.code, "state": report.state,
        "channel": report.channel, "source": report.source, "title": report.title, "body": report.body,
        "occurred_at": iso_utc(report.occurred_at), "received_at": iso_utc(report.received_at),
        "sender": report.sender, "contact": report.contact, "dedup_key": report.dedup_key,
        "flagged": report.flagged, "flag_reason": report.flag_reason,
        "incident": {"id": incident.id, "reference": incident.reference} if incident else None,
        "decision_reason": report.decision_reason,
    }


def log_download(user: User, report: Report, item: Evidence) -> None:
    """Chain of custody for a file that has not yet become an incident's evidence."""
    audit.append(user, "report.file_downloaded", "report", report.id, report.organization.code,
                 {"receipt": report.receipt, "evidence_id": item.id, "sha256": item.sha256})
