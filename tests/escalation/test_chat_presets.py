"""Chat presets (issue 18, §2): each person's webhook may be a Microsoft Teams, Slack or LINE WORKS
endpoint. The message each preset posts is checked against the shape that service documents
(below, as strict models), posted to a real local receiver; every preset carries the same facts
as the e-mail's header (what happened, reference, title, body, severity, category, link) and never
the description."""
from __future__ import annotations

import re
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from app.core.timeutil import now_utc
from app.jobs.ticker import tick
from tests.escalation.support import HIGH, headers, load_roster, notifications, open_incident, person, started

CSIRT = "csirt@ageo.example.jp"
SECRET = "住民票の写し35件を誤って別の事業者へ送付した。"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Microsoft Teams incoming webhook (Workflows): a message whose attachment is an Adaptive Card
# (adaptivecards.io schema: type AdaptiveCard, version "1.x", body elements, actions).
class TextBlock(Strict):
    type: Literal["TextBlock"]
    text: str = Field(min_length=1)
    weight: Literal["Default", "Lighter", "Bolder"] | None = None
    size: Literal["Default", "Small", "Medium", "Large", "ExtraLarge"] | None = None
    wrap: bool | None = None


class Fact(Strict):
    title: str
    value: str


class FactSet(Strict):
    type: Literal["FactSet"]
    facts: list[Fact] = Field(min_length=1)


class OpenUrl(Strict):
    type: Literal["Action.OpenUrl"]
    title: str
    url: HttpUrl


class AdaptiveCard(Strict):
    schema_: str = Field(alias="$schema")
    type: Literal["AdaptiveCard"]
    version: Annotated[str, Field(pattern=r"^1\.\d$")]
    body: list[Annotated[TextBlock | FactSet, Field(discriminator="type")]] = Field(min_length=1)
    actions: list[OpenUrl] = []


class TeamsAttachment(Strict):
    contentType: Literal["application/vnd.microsoft.card.adaptive"]  # noqa: N815 - the service's name
    contentUrl: None = None  # noqa: N815
    content: AdaptiveCard


class TeamsMessage(Strict):
    type: Literal["message"]
    attachments: list[TeamsAttachment] = Field(min_length=1, max_length=1)


# Slack incoming webhook: `text` (the notification fallback), Block Kit blocks (≤ 50; a section's
# text ≤ 3000 characters; a context block ≤ 10 elements).
class SlackText(Strict):
    type: Literal["mrkdwn", "plain_text"]
    text: str = Field(min_length=1, max_length=3000)


class SlackSection(Strict):
    type: Literal["section"]
    text: SlackText


class SlackContext(Strict):
    type: Literal["context"]
    elements: list[SlackText] = Field(min_length=1, max_length=10)


class SlackMessage(Strict):
    text: str = Field(min_length=1)
    blocks: list[Annotated[SlackSection | SlackContext, Field(discriminator="type")]] = Field(max_length=50)


# LINE WORKS bot message (Bot API "Send message"): content of type text, at most 2000 characters.
class WorksText(Strict):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=2000)


class WorksMessage(Strict):
    content: WorksText


SHAPES = {"teams": TeamsMessage, "slack": SlackMessage, "lineworks": WorksMessage}


def _text_of(preset: str, body: dict) -> str:
    if preset == "teams":
        card = body["attachments"][0]["content"]
        return " ".join([b.get("text", "") for b in card["body"]] + [f["value"] for b in card["body"] for f in b.get("facts", [])]
                        + [a["url"] for a in card["actions"]])
    if preset == "slack":
        return body["blocks"][0]["text"]["text"] + " " + body["blocks"][1]["elements"][0]["text"]
    return body["content"]["text"]


@pytest.mark.parametrize("preset", ["teams", "slack", "lineworks"])
def test_each_preset_posts_what_its_service_accepts_with_the_mails_facts(app, client, factory, tmp_path,
                                                                        webhook_receiver, preset, monkeypatch):
    monkeypatch.setitem(app.config, "LINEWORKS_BOT_TOKEN", "works-token-123")
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"], webhook=webhook_receiver.url, webhook_preset=preset)])
    incident = open_incident(client, headers(factory, CSIRT), HIGH, title="USBメモリの紛失 <b>&</b>", description=SECRET,
                             detected_at=now_utc().isoformat())  # no deadline near: the page is the one message
    tick(started(incident["id"]))
    assert len(webhook_receiver.requests) == 1
    request = webhook_receiver.requests[0]
    SHAPES[preset].model_validate(request["json"])
    text = _text_of(preset, request["json"])
    for fact in (incident["reference"], "上尾市", "高", "意図的な要因", "第1段階の連絡", f"/incidents/{incident['id']}"):
        assert fact in text, (preset, fact)
    assert SECRET[:8] not in request["raw"].decode()
    sent = notifications(incident["id"], channel="webhook")
    assert [n.status for n in sent] == ["sent"] and request["headers"]["X-Event-Id"] == sent[0].event_id
    if preset == "slack":
        assert "&lt;b&gt;&amp;&lt;/b&gt;" in text  # the title's markup is escaped for mrkdwn
    if preset == "lineworks":
        assert request["headers"]["Authorization"] == "Bearer works-token-123"
    else:
        assert "Authorization" not in request["headers"]


def test_the_generic_preset_stays_the_signed_json(app, client, factory, tmp_path, webhook_receiver):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"], webhook=webhook_receiver.url)])
    incident = open_incident(client, headers(factory, CSIRT), HIGH, detected_at=now_utc().isoformat())
    tick(started(incident["id"]))
    body = webhook_receiver.requests[0]["json"]
    assert set(body) == {"event_id", "event", "level", "recipient", "incident"}
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", webhook_receiver.requests[0]["headers"]["X-Signature"])


def test_an_unknown_preset_is_refused_by_the_roster_naming_the_entry(app, tmp_path):
    from app.roster.file import RosterError
    with pytest.raises(RosterError, match=r"webhook_preset"):
        load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"], webhook="https://chat.example.jp/hook",
                                      webhook_preset="teamz")])
