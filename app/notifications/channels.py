"""Delivery: e-mail over SMTP and signed JSON webhooks. In-app messages need no delivery. What a
message says is its domain's (app/notifications/messages.py); how it travels is here."""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import smtplib
from email.message import Message
from email.mime.text import MIMEText

from flask import current_app

from app.incidents.models import Incident
from app.notifications import webhooks
from app.notifications.models import Notification


class DeliveryError(Exception):
    """str(): what people may see on the incident page; `detail`: what the log gets."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.detail = detail or message


# Written into every message whatever the reader's language (the mail, the chat card).
SEVERITY_JA = {"critical": "緊急", "high": "高", "medium": "中", "low": "低"}

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


def incident_url(incident: Incident) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + f"/incidents/{incident.id}"


def address(message: MIMEText, notification: Notification) -> None:
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


def send_webhook(url: str, body: dict, allow: tuple[str, ...], event_id: str | None = None,
                 extra_headers: dict[str, str] | None = None) -> None:
    """Posts the signed body; what went wrong is told to the log, not to the incident page (the
    answer of a host inside the network is not for people who can set a webhook to learn)."""
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    headers = {"Content-Type": "application/json", "X-Event-Id": event_id or body["event_id"], "X-Signature": sign(raw),
               "User-Agent": "csirt-escalation/1"} | (extra_headers or {})
    try:
        status = webhooks.post(url, allow, raw, headers)
    except webhooks.WebhookRefused as exc:
        raise DeliveryError(WEBHOOK_REFUSED, f"webhook refused: {exc}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(WEBHOOK_FAILED, f"webhook: {exc!r}") from exc
    if not 200 <= status < 300:
        redirect = " (a redirect, not followed)" if 300 <= status < 400 else ""
        raise DeliveryError(f"{WEBHOOK_FAILED}（HTTP {status}）", f"webhook answered {status}{redirect}")
