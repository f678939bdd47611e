"""Delivery: e-mail over SMTP and signed JSON webhooks. In-app messages need no delivery."""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import smtplib
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText

from flask import current_app
from itsdangerous import URLSafeTimedSerializer

from app.core.playbooks import playbooks
from app.core.timeutil import format_display, iso_utc
from app.escalation import webhooks
from app.escalation.models import Notification
from app.incidents.models import Incident

SEVERITY_JA = {"critical": "緊急", "high": "高", "medium": "中", "low": "低"}
ACK_SALT = "incident-acknowledge"


class DeliveryError(Exception):
    """str(): what people may see on the incident page; `detail`: what the log gets."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.detail = detail or message


# Shown on the incident page and in the API instead of the connection's own error.
WEBHOOK_FAILED = "Webhookへの送信に失敗しました。詳細はサーバーのログに記録しています"
SMTP_FAILED = "SMTP: メールサーバーへの送信に失敗しました。詳細はサーバーのログに記録しています"
WEBHOOK_REFUSED = "Webhookの宛先が許可されていないため送信しませんでした。詳細はサーバーのログに記録しています"


def webhook_secret() -> bytes:
    secret = current_app.config.get("WEBHOOK_SECRET")
    if secret:
        return secret.encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"webhook", hashlib.sha256).hexdigest().encode()


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(webhook_secret(), body, hashlib.sha256).hexdigest()


def ack_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=ACK_SALT)


def ack_link(notification: Notification) -> str:
    token = ack_serializer().dumps({"n": notification.id, "u": notification.recipient_id})
    return current_app.config["BASE_URL"].rstrip("/") + f"/ack/{token}"  # built by the ticker, outside any request


def incident_url(incident: Incident) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + f"/incidents/{incident.id}"


def payload(notification: Notification, incident: Incident) -> dict:
    deadline = notification.deadline
    extra = {"deadline": {"kind": deadline.kind, "label": deadline.label, "due_at": iso_utc(deadline.due_at)}} \
        if deadline is not None else {}
    return extra | {
        "event_id": notification.event_id, "event": notification.event, "level": notification.level,
        "recipient": notification.recipient,
        "incident": {"id": incident.id, "reference": incident.reference, "organization": incident.organization.code,
                     "title": incident.title, "severity": incident.severity,
                     "threat_category": incident.threat_category, "stage": incident.stage,
                     "url": incident_url(incident)},
    }


def _withhold_details(incident: Incident) -> bool:
    """A critical incident with personal data: the mail carries a link, not the description."""
    return incident.severity == "critical" and (incident.pd_involved or incident.pd_my_number)


def email_message(notification: Notification, incident: Incident, what_to_do: list[str]) -> MIMEText:
    if notification.deadline is not None:
        return _deadline_message(notification, incident)
    category = next((c.label for c in playbooks().profiles[incident.organization.code].threat_categories
                     if c.code == incident.threat_category), incident.threat_category)
    urgent = "【緊急】" if incident.severity == "critical" else ""
    body = [
        f"{notification.user.name} 様", "",
        f"{incident.organization.name}のインシデントについて、第{notification.level}段階の連絡です。",
        "", f"番号: {incident.reference}", f"件名: {incident.title}", f"脅威区分: {category}",
        f"重大度: {SEVERITY_JA.get(incident.severity, incident.severity)}", "",
    ]
    if _withhold_details(incident):
        body += ["個人情報を含む重大な事案のため、内容はメールに記載していません。下記のリンクから確認してください。", ""]
    elif incident.description:
        body += ["内容:", incident.description[:2000], ""]
    if what_to_do:
        body += ["対応していただくこと:"] + [f"・{item}" for item in what_to_do] + [""]
    body += ["確認した場合は、次のリンクから受領（確認）を登録してください。以降の段階への連絡が止まります。",
             ack_link(notification), "", f"インシデントの画面: {incident_url(incident)}"]
    # MIMEText (compat32) builds a message about four times faster than EmailMessage, which counts
    # when the ticker sends thousands at once; the headers are the same.
    message = MIMEText("\n".join(body), "plain", "utf-8")
    message["Subject"] = Header(f"{urgent}[{incident.reference}] インシデント通知: {incident.title}", "utf-8")
    _address(message, notification)
    return message


def _deadline_message(notification: Notification, incident: Incident) -> MIMEText:
    """A reminder of a reporting deadline: what, by when, and where to record it as filed."""
    deadline = notification.deadline
    overdue = notification.event == "deadline_overdue"
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
    _address(message, notification)
    return message


def _address(message: MIMEText, notification: Notification) -> None:
    message["From"] = current_app.config.get("MAIL_FROM") or "csirt@localhost"
    message["To"] = notification.recipient
    message["Message-ID"] = f"<{notification.event_id}@csirt.local>"  # the same on a retry: receivers can dedupe
    message["X-Event-Id"] = notification.event_id
    message["X-Csirt-Event"] = notification.event  # escalation / nobody_reachable / deadline_approaching / deadline_overdue


class Mailer:
    """One SMTP connection for a batch of messages; reconnects after a failure."""

    def __init__(self):
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.smtp = None

    def send(self, message: Message) -> None:
        host = current_app.config.get("SMTP_HOST")
        if not host:
            raise DeliveryError("SMTP_HOST is not set")
        try:
            if self.smtp is None:
                self.smtp = smtplib.SMTP(host, int(current_app.config.get("SMTP_PORT") or 25), timeout=10)
            self.smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            self.smtp = None  # a broken connection is not reused
            raise DeliveryError(SMTP_FAILED, f"SMTP: {exc!r}") from exc


def send_email(message: Message) -> None:
    with Mailer() as mailer:
        mailer.send(message)


def send_webhook(url: str, body: dict, allow: tuple[str, ...]) -> None:
    """Posts the signed body; what went wrong is told to the log, not to the incident page (the
    answer of a host inside the network is not for people who can set a webhook to learn)."""
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    headers = {"Content-Type": "application/json", "X-Event-Id": body["event_id"], "X-Signature": sign(raw),
               "User-Agent": "csirt-escalation/1"}
    try:
        status = webhooks.post(url, allow, raw, headers)
    except webhooks.WebhookRefused as exc:
        raise DeliveryError(WEBHOOK_REFUSED, f"webhook refused: {exc}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(WEBHOOK_FAILED, f"webhook: {exc!r}") from exc
    if not 200 <= status < 300:
        redirect = " (a redirect, not followed)" if 300 <= status < 400 else ""
        raise DeliveryError(f"{WEBHOOK_FAILED}（HTTP {status}）", f"webhook answered {status}{redirect}")
