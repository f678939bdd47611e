"""The escalation levels fire in order at their delays, reach people by e-mail, webhook and in-app,
and stop on acknowledgement."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from app.core.db import db
from app.escalation.services import current_escalation
from app.incidents.models import Incident
from app.jobs.ticker import tick
from app.notifications.channels import webhook_secret
from app.notifications.models import Notification


def _critical(client, headers):
    return client.post("/api/v1/incidents", headers=headers, json={
        "organization": "ageo", "title": "マイナンバー利用事務系の不正アクセス", "threat_category": "intentional",
        "detected_at": "2026-11-20T10:00:00+09:00", "network_segments": ["mynumber"],
        "impacts": ["tampering"]}).json


def test_levels_fire_in_order_and_stop_on_ack(app, client, factory, smtp_server, webhook_receiver):
    csirt = factory.user({"ageo": ["csirt"]}, email="csirt@ageo.example.jp")
    chief = factory.user({"ageo": ["chief_officer"]}, email="chief@ageo.example.jp")
    ciso = factory.user({"ageo": ["ciso"]}, email="ciso@ageo.example.jp")
    ciso.webhook = webhook_receiver.url
    db.session.commit()
    incident = _critical(client, factory.headers(csirt))
    assert incident["severity"] == "critical" and incident["escalation"]["state"] == "active"
    started = current_escalation(db.session.get(Incident, incident["id"])).started_at

    tick(started + dt.timedelta(seconds=1))
    assert [m["To"] for m in smtp_server.messages] == ["csirt@ageo.example.jp"]
    mail = smtp_server.messages[0]
    assert incident["reference"] in mail["Subject"] and "【緊急】" in mail["Subject"]
    assert "/ack/" in mail.get_content()

    tick(started + dt.timedelta(minutes=9))
    assert len(smtp_server.messages) == 1  # level 2 is due at 10 minutes
    tick(started + dt.timedelta(minutes=10, seconds=1))
    assert [m["To"] for m in smtp_server.messages] == ["csirt@ageo.example.jp", "chief@ageo.example.jp"]
    tick(started + dt.timedelta(minutes=30, seconds=1))
    assert smtp_server.messages[-1]["To"] == "ciso@ageo.example.jp"
    assert len(webhook_receiver.requests) == 1
    hook = webhook_receiver.requests[0]
    expected = "sha256=" + hmac.new(webhook_secret(), hook["raw"], hashlib.sha256).hexdigest()
    assert hook["headers"]["X-Signature"] == expected
    assert hook["json"]["incident"]["reference"] == incident["reference"] and hook["json"]["level"] == 3

    response = client.post(f"/api/v1/incidents/{incident['id']}/acknowledge", headers=factory.headers(chief))
    assert response.status_code == 200 and response.json["escalation"]["state"] == "acknowledged"
    tick(started + dt.timedelta(hours=5))
    assert len(smtp_server.messages) == 3  # the CISO's repeats were cancelled
    statuses = {n.status for n in db.session.query(Notification).filter(Notification.cycle == 1)}
    assert statuses <= {"sent", "cancelled"}
