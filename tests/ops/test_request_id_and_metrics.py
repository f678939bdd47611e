"""Request ids in headers and logs, JSON log lines, and the /metrics endpoint's gauges and access."""
from __future__ import annotations

import datetime as dt
import json
import logging
import re

from sqlalchemy import update

from app.core.db import db
from app.escalation.models import Escalation
from app.notifications.models import Notification
from app.ops.requests import JsonFormatter, RequestIdFilter
from tests.escalation.support import open_incident

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def _gauge(text: str, name: str) -> float:
    return float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))


def test_a_plausible_request_id_is_kept_and_a_bad_one_replaced(client):
    assert client.get("/healthz", headers={"X-Request-Id": "proxy-1234.abcd"}).headers["X-Request-Id"] == "proxy-1234.abcd"
    for bad in ("short", "has space in it", "<script>alert(1)</script>", "x" * 65):
        answered = client.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert answered != bad and re.fullmatch(r"[0-9a-f]{32}", answered)
    first, second = (client.get("/healthz").headers["X-Request-Id"] for _ in range(2))
    assert first != second


class _Lines(logging.Handler):
    """The production handler's filter and formatter, writing into a list."""

    def __init__(self):
        super().__init__()
        self.lines: list[dict] = []
        self.addFilter(RequestIdFilter())
        self.setFormatter(JsonFormatter())

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


def test_every_request_is_one_json_log_line_with_its_id(client):
    handler = _Lines()
    logging.getLogger("app.requests").addHandler(handler)
    try:
        response = client.get("/api/v1/incidents", headers={"X-Request-Id": "trace-0001-abc"})
    finally:
        logging.getLogger("app.requests").removeHandler(handler)
    [line] = handler.lines
    assert (line["method"], line["path"], line["status"], line["level"]) == ("GET", "/api/v1/incidents", 401, "INFO")
    assert line["request_id"] == "trace-0001-abc" and line["endpoint"] == "api.list_incidents"
    assert line["duration_ms"] >= 0 and line["logger"] == "app.requests" and response.status_code == 401


def test_metrics_only_for_the_local_scraper_or_with_the_token(app, client, monkeypatch):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
    local = client.get("/metrics", environ_base=LOCAL)
    assert local.status_code == 200 and local.mimetype == "text/plain"
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-secret-2026")
    assert client.get("/metrics", environ_base=LOCAL).status_code == 404  # a token, once set, is required
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert wrong.status_code == 404
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-2026"},
                       environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert right.status_code == 200 and "csirt_ticker_lag_seconds" in right.text


def test_request_latency_is_counted_per_endpoint(client):
    before = client.get("/metrics", environ_base=LOCAL).text
    count = re.compile(r'^csirt_request_seconds_count\{endpoint="healthz",method="GET",status="200"\} (\S+)$', re.M)
    start = float(count.search(before).group(1)) if count.search(before) else 0.0
    for _ in range(3):
        client.get("/healthz")
    assert float(count.search(client.get("/metrics", environ_base=LOCAL).text).group(1)) == start + 3


def test_a_stalled_ticker_shows_as_due_messages_and_lag(app, client, factory, monkeypatch):
    csirt = factory.user({"ageo": ["csirt"]})
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    incident = open_incident(client, factory.headers(csirt))
    text = client.get("/metrics", environ_base=LOCAL).text
    assert _gauge(text, "csirt_ticker_lag_seconds") < 60  # level 1 is due now: nobody has ticked yet
    # an hour passes without a tick: the first level and a pending message are an hour late
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    db.session.execute(update(Escalation).where(Escalation.incident_id == incident["id"]).values(next_at=hour_ago))
    db.session.add(Notification(event_id="metrics-test-1", incident_id=incident["id"], cycle=1, step=0, level=1,
                                event="escalation", recipient_id=csirt.id, recipient=csirt.email, channel="email",
                                status="pending", attempts=0, next_attempt_at=hour_ago, created_at=hour_ago))
    db.session.commit()
    text = client.get("/metrics", environ_base=LOCAL).text
    assert _gauge(text, "csirt_notifications_due_unsent") == 1
    assert 3590 < _gauge(text, "csirt_ticker_lag_seconds") < 3700
    assert _gauge(text, "csirt_notifications_failed") == 0
