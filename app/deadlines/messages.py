"""The words of a deadline reminder: what is owed, by when, and where to record it as filed."""
from __future__ import annotations

from email.header import Header
from email.mime.text import MIMEText

from sqlalchemy import select

from app.core.db import db
from app.core.timeutil import format_display, iso_utc
from app.deadlines.models import Deadline
from app.incidents.models import Incident
from app.notifications.channels import address, incident_url
from app.notifications.messages import MessageKind
from app.notifications.models import Notification

APPROACHING, OVERDUE = "deadline_approaching", "deadline_overdue"


def deadlines_of(rows: list[Notification], _incidents: dict[int, Incident]) -> dict[int, Deadline]:
    ids = {n.deadline_id for n in rows if n.deadline_id is not None}
    return {d.id: d for d in db.session.scalars(select(Deadline).where(Deadline.id.in_(ids)))} if ids else {}


def payload_extra(notification: Notification, _incident: Incident, deadlines: dict[int, Deadline]) -> dict:
    deadline = deadlines[notification.deadline_id]
    return {"deadline": {"kind": deadline.kind, "label": deadline.label, "due_at": iso_utc(deadline.due_at)}}


def email_message(notification: Notification, incident: Incident, deadlines: dict[int, Deadline]) -> MIMEText:
    deadline = deadlines[notification.deadline_id]
    overdue = notification.event == OVERDUE
    what = "期限超過" if overdue else "期限が近づいています"
    body = [
        f"{notification.user.name} 様", "",
        f"{incident.organization.name}のインシデント {incident.reference} の期限について{'、期限を過ぎました' if overdue else 'お知らせします'}。",
        "", f"期限: {deadline.label}", f"提出先等: {deadline.authority or '—'}",
        f"期日: {format_display(deadline.due_at, with_zone=True)}", f"根拠: {deadline.source or '—'}", "",
        "提出・実施したら、インシデントの画面で「完了」として受付番号等を記録してください。以降の通知が止まります。",
        "", f"インシデントの画面: {incident_url(incident)}",
    ]
    message = MIMEText("\n".join(body), "plain", "utf-8")
    message["Subject"] = Header(f"【{what}】[{incident.reference}] {deadline.label}", "utf-8")
    address(message, notification)
    return message


def summary(notification: Notification, _incident: Incident, deadlines: dict[int, Deadline]) -> str:
    deadline = deadlines[notification.deadline_id]
    what = "期限を過ぎました" if notification.event == OVERDUE else "期限が近づいています"
    return f"{what}: {deadline.label}（{format_display(deadline.due_at)}）"


REMINDER = MessageKind(email=email_message, summary=summary, payload_extra=payload_extra, prepare=deadlines_of)
