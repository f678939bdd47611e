"""The outbox: SMTP down then up (retries with backoff, delivered once), giving up after
MAX_ATTEMPTS, signed webhooks retried with the same event id, and the notifications endpoint."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json

import pytest
from aiosmtpd.controller import Controller

from app.core.timeutil import now_utc
from app.jobs.ticker import tick
from app.notifications.channels import SMTP_FAILED, webhook_secret
from app.notifications.delivery import MAX_ATTEMPTS, backoff
from tests.escalation.conftest import Inbox, free_port
from tests.escalation.support import LOW, headers, load_roster, notifications, open_incident, person, started

S = dt.timedelta(seconds=1)
CSIRT = "csirt@ageo.example.jp"
ONE_LEVEL = {"low": [{"notify": ["csirt"], "after": "0s"}]}


@pytest.fixture
def mail_down(app, monkeypatch):
    """E-mail is configured, but nothing listens on the port yet."""
    port = free_port()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", port)
    return port


def _one_level(client, factory, tmp_path, **extra):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"], **extra)], escalation=ONE_LEVEL)
    incident = open_incident(client, headers(factory, CSIRT), LOW)
    return incident, started(incident["id"])


def test_smtp_down_then_up_delivers_exactly_once_with_attempts_counted(app, client, factory, tmp_path, mail_down):
    incident, t0 = _one_level(client, factory, tmp_path)
    before = now_utc()
    result = tick(t0 + S)
    assert result["failed"] == 1
    [mail] = notifications(incident["id"], channel="email")
    assert mail.status == "pending" and mail.attempts == 1 and mail.sent_at is None
    assert mail.last_error == SMTP_FAILED  # the connection's own error only in the log
    assert mail.next_attempt_at > now_utc()  # backed off into the future
    assert mail.next_attempt_at >= before + backoff(1)
    assert [n.status for n in notifications(incident["id"], channel="in_app")] == ["sent"]

    tick(t0 + 2 * S)  # before the backoff is over: not retried
    assert notifications(incident["id"], channel="email")[0].attempts == 1

    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=mail_down)
    server.start()
    try:
        retry_at = mail.next_attempt_at + S
        assert tick(retry_at)["sent"] == 1
        tick(retry_at)
        tick(retry_at + dt.timedelta(hours=2))
    finally:
        server.stop()
    assert [m["To"] for m in inbox.messages] == [CSIRT]
    assert inbox.messages[0]["X-Event-Id"] == mail.event_id
    [mail] = notifications(incident["id"], channel="email")
    assert (mail.status, mail.attempts, mail.last_error) == ("sent", 2, None) and mail.sent_at is not None


def test_gives_up_after_max_attempts_with_growing_backoff(app, client, factory, tmp_path, mail_down):
    incident, t0 = _one_level(client, factory, tmp_path)
    at, waits = t0 + S, []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        tick(at)
        [mail] = notifications(incident["id"], channel="email")
        assert mail.attempts == attempt and mail.last_error.startswith("SMTP")
        if attempt < MAX_ATTEMPTS:
            assert mail.status == "pending"
            waits.append(mail.next_attempt_at - now_utc())
            at = mail.next_attempt_at + S
    assert mail.status == "failed" and mail.next_attempt_at is None and mail.sent_at is None
    assert all(later > earlier for earlier, later in itertools.pairwise(waits))  # 30 s, 60 s, 120 s, ...
    assert waits[-1] <= dt.timedelta(hours=1)

    tick(at + dt.timedelta(days=1))  # a failed message is not retried any more
    assert notifications(incident["id"], channel="email")[0].attempts == MAX_ATTEMPTS

    answer = client.get(f"/api/v1/incidents/{incident['id']}/notifications", headers=headers(factory, CSIRT)).json
    [row] = [n for n in answer["items"] if n["channel"] == "email"]
    assert row["status"] == "failed" and row["attempts"] == MAX_ATTEMPTS and row["last_error"].startswith("SMTP")
    assert row["sent_at"] is None


def _verify(request) -> dict:
    expected = "sha256=" + hmac.new(webhook_secret(), request["raw"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Signature"] == expected
    assert request["headers"]["X-Event-Id"] == request["json"]["event_id"]
    assert request["headers"]["Content-Type"] == "application/json"
    return request["json"]


def test_webhook_is_signed_over_the_raw_body_and_carries_the_event_id(app, client, factory, tmp_path,
                                                                      webhook_receiver):
    incident, t0 = _one_level(client, factory, tmp_path, webhook=webhook_receiver.url)
    tick(t0 + S)
    [request] = webhook_receiver.requests
    body = _verify(request)
    [row] = notifications(incident["id"], channel="webhook")
    assert row.status == "sent" and row.attempts == 1
    assert body["event_id"] == row.event_id and body["event"] == "escalation"
    assert body["level"] == 1 and body["recipient"] == CSIRT
    assert body["incident"] == {
        "id": incident["id"], "reference": incident["reference"], "organization": "ageo",
        "title": incident["title"], "severity": "low", "threat_category": "intentional", "stage": incident["stage"],
        "url": app.config["BASE_URL"].rstrip("/") + f"/incidents/{incident['id']}"}
    # the signature covers the exact bytes: a re-serialised or altered body does not verify
    altered = json.dumps(body | {"level": 2}, ensure_ascii=False, sort_keys=True).encode()
    assert request["headers"]["X-Signature"] != "sha256=" + hmac.new(webhook_secret(), altered, hashlib.sha256).hexdigest()


def test_webhook_answering_500_is_retried_later_with_the_same_event_id(app, client, factory, tmp_path,
                                                                       webhook_receiver):
    incident, t0 = _one_level(client, factory, tmp_path, webhook=webhook_receiver.url)
    webhook_receiver.status = 500
    tick(t0 + S)
    [row] = notifications(incident["id"], channel="webhook")
    assert (row.status, row.attempts) == ("pending", 1) and "500" in row.last_error
    assert row.next_attempt_at > now_utc()
    tick(t0 + 2 * S)
    assert len(webhook_receiver.requests) == 1  # not before the backoff

    webhook_receiver.status = 200
    tick(row.next_attempt_at + S)
    tick(row.next_attempt_at + 2 * S)
    first, second = webhook_receiver.requests
    assert len(webhook_receiver.requests) == 2
    assert _verify(first)["event_id"] == _verify(second)["event_id"] == row.event_id
    assert first["headers"]["X-Event-Id"] == second["headers"]["X-Event-Id"]
    [row] = notifications(incident["id"], channel="webhook")
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_notifications_endpoint_lists_the_outbox_and_hides_it_from_other_bodies(app, client, factory, tmp_path,
                                                                               mail_down):
    incident, t0 = _one_level(client, factory, tmp_path)
    tick(t0 + S)
    url = f"/api/v1/incidents/{incident['id']}/notifications"
    response = client.get(url, headers=headers(factory, CSIRT))
    assert response.status_code == 200
    answer = response.json
    assert answer["total"] == len(answer["items"]) == 2
    by_channel = {n["channel"]: n for n in answer["items"]}
    email, in_app = by_channel["email"], by_channel["in_app"]
    assert (email["level"], email["recipient"], email["role"]) == (1, CSIRT, "csirt")
    assert (email["status"], email["attempts"], email["sent_at"]) == ("pending", 1, None)
    assert email["last_error"].startswith("SMTP")
    assert (in_app["status"], in_app["attempts"], in_app["last_error"]) == ("sent", 1, None)
    assert in_app["sent_at"].endswith("Z")
    assert {"id", "level", "recipient", "role", "channel", "status", "attempts", "last_error", "sent_at"} <= email.keys()

    outsider = factory.user({"kumamoto": ["csirt"]}, email="csirt@kumamoto.example.jp")
    assert client.get(url, headers=factory.headers(outsider)).status_code == 404
    assert client.post(f"/api/v1/incidents/{incident['id']}/acknowledge",
                       headers=factory.headers(outsider)).status_code == 404
    assert client.get(url).status_code == 401
