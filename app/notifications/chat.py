"""Chat presets for a person's webhook (the roster's `webhook_preset`): the message a chat service
accepts, carrying the facts the e-mail carries (what happened, the incident, its body, severity and
category, the link). Descriptions and personal data are not sent to a chat service: the link leads
to them. `generic` is the signed JSON of API.md.

- teams: a Microsoft Teams incoming webhook (Workflows): a message with one Adaptive Card.
- slack: a Slack incoming webhook: `text` (the notification's fallback) and Block Kit blocks.
- lineworks: a LINE WORKS bot message (`POST …/bots/{botId}/channels/{channelId}/messages`, the
  roster's URL) with the bot's access token from LINEWORKS_BOT_TOKEN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from app.incidents.models import Incident
from app.notifications import messages
from app.notifications.channels import SEVERITY_JA, incident_url
from app.notifications.models import Notification
from app.organizations.services import get_profile

PRESETS = ("generic", "teams", "slack", "lineworks")
LINEWORKS_TEXT_LIMIT = 2000  # characters of a text message


@dataclass(frozen=True)
class ChatFacts:
    headline: str
    reference: str
    title: str
    organization: str
    severity: str
    category: str
    url: str

    @property
    def context(self) -> str:
        return f"{self.organization} / 重大度: {self.severity} / 脅威区分: {self.category}"


def facts(notification: Notification, incident: Incident, context: Any) -> ChatFacts:
    category = get_profile(incident.organization.code).category(incident.threat_category)
    return ChatFacts(
        headline=messages.kind_of(notification).summary(notification, incident, context),
        reference=incident.reference, title=incident.title, organization=incident.organization.name,
        severity=SEVERITY_JA.get(incident.severity, incident.severity),
        category=category.label if category else incident.threat_category, url=incident_url(incident))


def teams(f: ChatFacts) -> dict:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": f.headline, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": f"[{f.reference}] {f.title}", "wrap": True},
            {"type": "FactSet", "facts": [{"title": "団体", "value": f.organization},
                                          {"title": "重大度", "value": f.severity},
                                          {"title": "脅威区分", "value": f.category}]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "インシデントを開く", "url": f.url}],
    }
    return {"type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def slack(f: ChatFacts) -> dict:
    text = f"{f.headline}: [{f.reference}] {f.title}"
    return {"text": text, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack_escape(f.headline)}*\n"
                                                            f"<{f.url}|[{_slack_escape(f.reference)}] {_slack_escape(f.title)}>"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(f.context)}]},
    ]}


def lineworks(f: ChatFacts) -> dict:
    text = "\n".join([f.headline, f"[{f.reference}] {f.title}", f.context, f.url])
    return {"content": {"type": "text", "text": text[:LINEWORKS_TEXT_LIMIT]}}


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn reads &, < and > as markup: escaped as its documentation asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chat_message(preset: str, notification: Notification, incident: Incident, context: Any) -> tuple[dict, dict]:
    """(body, extra headers) of a preset's message."""
    found = facts(notification, incident, context)
    if preset == "teams":
        return teams(found), {}
    if preset == "slack":
        return slack(found), {}
    token = current_app.config.get("LINEWORKS_BOT_TOKEN")
    return lineworks(found), ({"Authorization": f"Bearer {token}"} if token else {})
