"""A real SMTP server (aiosmtpd) and a real HTTP receiver for webhooks, on loopback."""
from __future__ import annotations

import email
import json
import socket
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """Escalation mails in `messages`; deadline reminders (X-Csirt-Event: deadline_…), which
    incidents with personal data also get, apart in `reminders`."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.reminders: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            (self.reminders if message["X-Csirt-Event"].startswith("deadline_") else self.messages).append(message)
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp_server(app):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    saved = app.config.get("SMTP_HOST"), app.config.get("SMTP_PORT")
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    inbox.port, inbox.controller = port, controller
    yield inbox
    controller.stop()
    app.config.update(SMTP_HOST=saved[0], SMTP_PORT=saved[1])


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def webhook_receiver(allow_webhooks):
    """A receiver on 127.0.0.1, which ageo's profile allows for the test (loopback is refused otherwise)."""
    allow_webhooks("ageo", "127.0.0.1")
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.requests.append({"headers": dict(self.headers), "raw": raw, "json": json.loads(raw)})
            self.send_response(receiver.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
