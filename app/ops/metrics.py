"""GET /metrics in the Prometheus text format: request latency, messages due but not sent, and
how late the ticker is. The last two are read from the database at scrape time, so they are
right whichever process (or server) is scraped."""
from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Response, abort, current_app, g, request
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from app.core.db import database_now, db
from app.escalation.models import Escalation, EscalationState
from app.notifications.models import Notification, NotificationStatus

bp = Blueprint("metrics", __name__)
LATENCY = Histogram("csirt_request_seconds", "Request latency", ["method", "endpoint", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class OutboxCollector:
    """Gauges from the database: a stalled ticker shows as growing lag and due messages."""

    def collect(self):
        now = database_now()
        due = db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.status == NotificationStatus.PENDING.value, Notification.next_attempt_at <= now))
        oldest_step = db.session.scalar(select(func.min(Escalation.next_at)).where(
            Escalation.state == EscalationState.ACTIVE.value, Escalation.next_at <= now))
        oldest_message = db.session.scalar(select(func.min(Notification.next_attempt_at)).where(
            Notification.status == NotificationStatus.PENDING.value, Notification.next_attempt_at <= now))
        failed = db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.status == NotificationStatus.FAILED.value))
        lag = max([(now - t).total_seconds() for t in (oldest_step, oldest_message) if t is not None], default=0.0)
        yield GaugeMetricFamily("csirt_notifications_due_unsent", "Messages due and not yet sent", value=due)
        yield GaugeMetricFamily("csirt_notifications_failed", "Messages given up after every retry", value=failed)
        yield GaugeMetricFamily("csirt_ticker_lag_seconds", "How long the oldest due step or message has waited",
                                value=lag)


def init_metrics(app) -> None:
    app.register_blueprint(bp)

    @app.after_request
    def _observe(response):
        started = g.get("request_started")  # set by app.ops.requests before any other hook
        if started is not None and request.endpoint != "metrics.metrics":
            LATENCY.labels(request.method, request.endpoint or "unknown", str(response.status_code)).observe(
                time.perf_counter() - started)
        return response


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), token.encode())
    return request.remote_addr in ("127.0.0.1", "::1")  # without a token: the local scraper only


@bp.get("/metrics")
def metrics():
    if not _allowed():
        abort(404)
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # the latency of every gunicorn worker
    else:
        registry.register(_ProcessLatency())
    registry.register(OutboxCollector())
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")


class _ProcessLatency:
    def collect(self):
        yield from LATENCY.collect()
