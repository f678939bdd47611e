"""A request id on every request and response, and one structured log line per request.

The id comes from the proxy's `X-Request-Id` when it is a plausible id, else a new one; it is in
every log line written during the request, in the response header and in error pages, so that a
report from a user can be found in the logs."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
log = logging.getLogger("app.requests")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any `extra` fields."""

    FIELDS = ("method", "path", "status", "duration_ms", "remote_addr", "endpoint")

    def format(self, record: logging.LogRecord) -> str:
        body = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage(), "request_id": getattr(record, "request_id", "-")}
        body |= {name: getattr(record, name) for name in self.FIELDS if hasattr(record, name)}
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def configure_logging(app: Flask) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if app.config.get("LOG_FORMAT") == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger("app")
    if not any(getattr(h, "_csirt", False) for h in root.handlers):
        handler._csirt = True  # one handler per process, however many apps the tests build
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False

    @app.before_request
    def _start():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        started = g.get("request_started")
        if started is not None:
            duration = time.perf_counter() - started
            if not request.path.startswith("/static/"):
                log.info("%s %s %s", request.method, request.path, response.status_code, extra={
                    "method": request.method, "path": request.path, "status": response.status_code,
                    "duration_ms": round(duration * 1000, 1), "remote_addr": request.remote_addr,
                    "endpoint": request.endpoint})
        return response
