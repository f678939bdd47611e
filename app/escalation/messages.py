"""The words of an escalation page (a level of the chain, or the warning that nobody was
reachable), and the acknowledgement link it carries."""
from __future__ import annotations

from email.header import Header
from email.mime.text import MIMEText

from flask import current_app
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from app.core.db import db
from app.incidents.models import Incident, Task
from app.notifications.channels import SEVERITY_JA, address, incident_url
from app.notifications.messages import MessageKind
from app.notifications.models import Channel, Notification
from app.organizations.services import get_profile

EVENTS = ("escalation", "escalation_inform", "nobody_reachable")
ACK_SALT = "incident-acknowledge"


def ack_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=ACK_SALT)


def ack_link(notification: Notification) -> str:
    token = ack_serializer().dumps({"n": notification.id, "u": notification.recipient_id})
    return current_app.config["BASE_URL"].rstrip("/") + f"/ack/{token}"  # built by the ticker, outside any request


def open_required_titles(incident_ids: list[int], limit: int = 5) -> dict[int, list[str]]:
    """Up to `limit` open required tasks of each incident's current stage: what to do now."""
    todo: dict[int, list[str]] = {incident_id: [] for incident_id in incident_ids}
    if not todo:
        return todo
    found = db.session.execute(
        select(Task.incident_id, Task.title).join(Incident, Incident.id == Task.incident_id)
        .where(Task.incident_id.in_(list(todo)), Task.stage == Incident.stage, Task.required.is_(True),
               Task.done.is_(False)).order_by(Task.incident_id, Task.position, Task.id))
    for incident_id, title in found:
        if len(todo[incident_id]) < limit:
            todo[incident_id].append(title)
    return todo


def what_to_do(rows: list[Notification], _incidents: dict[int, Incident]) -> dict[int, list[str]]:
    """The e-mails of a delivery batch: their incidents' open required tasks, in one query."""
    return open_required_titles(list({n.incident_id for n in rows if n.channel == Channel.EMAIL.value}))


def withhold_details(incident: Incident) -> bool:
    """A critical incident with personal data: the mail carries a link, not the description."""
    return incident.severity == "critical" and (incident.pd_involved or incident.pd_my_number)


def email_message(notification: Notification, incident: Incident, todo: dict[int, list[str]]) -> MIMEText:
    found = get_profile(incident.organization.code).category(incident.threat_category)
    category = found.label if found else incident.threat_category
    urgent = "【緊急】" if incident.severity == "critical" else ""
    body = [
        f"{notification.user.name} 様", "",
        f"{incident.organization.name}のインシデントについて、第{notification.level}段階の"
        f"{'報告' if notification.event == 'escalation_inform' else '連絡'}です。",
        "", f"番号: {incident.reference}", f"件名: {incident.title}", f"脅威区分: {category}",
        f"重大度: {SEVERITY_JA.get(incident.severity, incident.severity)}", "",
    ]
    if withhold_details(incident):
        body += ["個人情報を含む重大な事案のため、内容はメールに記載していません。下記のリンクから確認してください。", ""]
    elif incident.description:
        body += ["内容:", incident.description[:2000], ""]
    if items := todo.get(incident.id):
        body += ["対応していただくこと:"] + [f"・{item}" for item in items] + [""]
    if notification.event == "escalation_inform" and incident.acknowledged_at is not None:
        body += ["この事案はすでに受領（確認）されています。報告としてお知らせします。", ""]
    else:
        body += ["確認した場合は、次のリンクから受領（確認）を登録してください。以降の段階への連絡が止まります"
                 "（報告の段階は受領後も送られます）。" if notification.event == "escalation_inform" else
                 "確認した場合は、次のリンクから受領（確認）を登録してください。以降の段階への連絡が止まります。",
                 ack_link(notification), ""]
    body.append(f"インシデントの画面: {incident_url(incident)}")
    # MIMEText (compat32) builds a message about four times faster than EmailMessage, which counts
    # when the ticker sends thousands at once; the headers are the same.
    message = MIMEText("\n".join(body), "plain", "utf-8")
    message["Subject"] = Header(f"{urgent}[{incident.reference}] インシデント通知: {incident.title}", "utf-8")
    address(message, notification)
    return message


def summary(notification: Notification, incident: Incident, _todo: dict) -> str:
    if notification.event == "nobody_reachable":
        return f"第{notification.level}段階で連絡できる人がいません（管理者への警告）"
    what = "報告" if notification.event == "escalation_inform" else "連絡"
    return f"第{notification.level}段階の{what}（重大度 {SEVERITY_JA.get(incident.severity, incident.severity)}）"


PAGE = MessageKind(email=email_message, summary=summary, prepare=what_to_do)
