"""Issue 15, item 6: webhooks go only to public addresses, or to those the body's profile allows
(webhooks.allow); the host is checked when the roster is imported and again at delivery, which
connects to the checked address; redirects are not followed; people see a generic error and the
log keeps the detail. Real HTTP receivers on 127.0.0.1, allowed only where a test says so."""
from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
import yaml

from app.jobs.ticker import tick
from app.notifications.channels import WEBHOOK_FAILED, WEBHOOK_REFUSED
from app.notifications.webhooks import WebhookRefused, resolve
from app.organizations.profiles import ProfileError, load_profile_file
from app.roster.file import RosterError
from tests.escalation.conftest import free_port
from tests.escalation.support import LOW, headers, load_roster, notifications, open_incident, person, started, user
from tests.factories import PASSWORD, csrf_token

S = dt.timedelta(seconds=1)
CSIRT = "csirt@ageo.example.jp"
ONE_LEVEL = {"low": [{"notify": ["csirt"], "after": "0s"}]}
SPECIAL = [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/hook", "http://172.16.0.1/", "http://192.168.1.10/hook", "http://100.64.0.1/",
    "http://0.0.0.0:9000/", "http://224.0.0.1/", "http://[::1]/hook", "http://[fe80::1]/", "http://[fc00::1]/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://2130706433/", "http://0x7f000001/",
    "https://127.1/", "http://192.0.2.1/",
]


class Recorder:
    """A real HTTP server on 127.0.0.1: answers every request with `status` (and `location`)."""

    def __init__(self):
        self.requests: list[tuple[str, str]] = []
        self.status, self.location = 200, None
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.requests.append((self.command, self.path))
                self.send_response(recorder.status)
                if recorder.location:
                    self.send_header("Location", recorder.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorders():
    made: list[Recorder] = []

    def make() -> Recorder:
        made.append(Recorder())
        return made[-1]
    yield make
    for recorder in made:
        recorder.close()


def _one_level(client, factory, tmp_path, webhook):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"], webhook=webhook)], escalation=ONE_LEVEL)
    incident = open_incident(client, headers(factory, CSIRT), LOW)
    tick(started(incident["id"]) + S)
    [row] = notifications(incident["id"], channel="webhook")
    return incident, row


@pytest.mark.parametrize("url", SPECIAL)
def test_special_addresses_are_refused(url):
    with pytest.raises(WebhookRefused, match="not a public address"):
        resolve(url, ())


@pytest.mark.parametrize("url, allow", [
    ("http://10.20.3.4/hook", ("10.20.0.0/16",)),
    ("http://[fd00:20::5]/hook", ("fd00:20::/32",)),
    ("http://localhost:8065/hooks/abc", ("localhost",)),
    ("http://127.0.0.1:8065/hooks/abc", ("127.0.0.1",)),
])
def test_the_allow_list_lets_a_meant_address_through(url, allow):
    target = resolve(url, allow)
    assert set(target.addresses) <= {"10.20.3.4", "fd00:20::5", "127.0.0.1", "::1"} and target.addresses
    with pytest.raises(WebhookRefused):
        resolve(url, ("10.30.0.0/16", "chat.lgwan.example"))  # other entries do not


@pytest.mark.parametrize("url", ["ftp://example.jp/", "http:///hook", "http://user:pw@8.8.8.8/", "http://8.8.8.8:99999/",
                                 "http://no-such-host.invalid/"])
def test_malformed_or_unresolvable_urls_are_refused(url):
    with pytest.raises(WebhookRefused):
        resolve(url, ())


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://192.168.1.10/hook", "http://localhost/"])
def test_the_roster_refuses_a_webhook_to_a_special_address(app, tmp_path, url):
    with pytest.raises(RosterError, match=r"people\[0\] \(csirt@ageo.example.jp\): webhook: .*not a public address"):
        load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"], webhook=url)])
    assert user(CSIRT) is None  # nothing imported


def test_the_roster_accepts_it_where_the_body_allows_it(app, tmp_path, allow_webhooks):
    allow_webhooks("ageo", "192.168.1.0/24")
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"], webhook="http://192.168.1.10/hook")])
    assert user(CSIRT).webhook == "http://192.168.1.10/hook"
    with pytest.raises(RosterError, match="webhook"):  # another body's allow-list does not count
        load_roster(tmp_path, [person("csirt@saga.example.jp", "佐賀 一郎", ["csirt"], webhook="http://192.168.1.10/hook")],
                    organization="saga")


def _profile_with(tmp_path: Path, allow) -> Path:
    data = yaml.safe_load(Path("playbooks/organizations/ageo.yaml").read_text(encoding="utf-8"))
    data["webhooks"] = {"allow": allow}
    path = tmp_path / "ageo.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("entry", ["10.20.0.0/33", "10.20.0.1/16", "not a host", "Chat.LGWAN.example", "10.20.0.0/16 "])
def test_a_bad_allow_list_entry_stops_the_start(tmp_path, entry):
    with pytest.raises(ProfileError, match=r"ageo.yaml: webhooks.allow"):
        load_profile_file(_profile_with(tmp_path, [entry]))


def test_a_good_allow_list_loads(tmp_path):
    profile = load_profile_file(_profile_with(tmp_path, ["10.20.0.0/16", "chat.lgwan.example", "192.0.2.7", "fd00::/8"]))
    assert profile.webhooks.allow == ("10.20.0.0/16", "chat.lgwan.example", "192.0.2.7", "fd00::/8")


def test_delivery_checks_again_and_tells_people_only_a_generic_error(app, client, factory, tmp_path, allow_webhooks,
                                                                    recorders, caplog):
    receiver = recorders()
    allow_webhooks("ageo", "127.0.0.1")
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"], webhook=receiver.url)], escalation=ONE_LEVEL)
    allow_webhooks("ageo")  # the profile no longer allows it when the message goes out
    incident = open_incident(client, headers(factory, CSIRT), LOW)
    with caplog.at_level(logging.WARNING, logger="app"):
        tick(started(incident["id"]) + S)
    [row] = notifications(incident["id"], channel="webhook")
    assert (row.status, row.last_error) == ("pending", WEBHOOK_REFUSED)
    assert receiver.requests == []
    assert "127.0.0.1" in caplog.text and "not a public address" in caplog.text


def test_a_connection_error_is_logged_not_shown(app, client, factory, tmp_path, allow_webhooks, caplog):
    allow_webhooks("ageo", "127.0.0.1")
    port = free_port()  # nothing listens: "connection refused", the answer a port scanner looks for
    with caplog.at_level(logging.WARNING, logger="app"):
        incident, row = _one_level(client, factory, tmp_path, f"http://127.0.0.1:{port}/hook")
    assert (row.status, row.last_error) == ("pending", WEBHOOK_FAILED)
    assert "Connection refused" in caplog.text or "ConnectionRefusedError" in caplog.text
    api = client.get(f"/api/v1/incidents/{incident['id']}/notifications", headers=headers(factory, CSIRT)).json
    assert {n["last_error"] for n in api["items"] if n["channel"] == "webhook"} == {WEBHOOK_FAILED}
    login = client.get("/login")
    client.post("/login", data={"email": CSIRT, "password": PASSWORD, "csrf_token": csrf_token(login.text)})
    page = client.get(f"/incidents/{incident['id']}")
    assert page.status_code == 200 and WEBHOOK_FAILED in page.text
    assert "Connection refused" not in page.text and "Errno" not in page.text and str(port) not in page.text


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed(app, client, factory, tmp_path, allow_webhooks, recorders, caplog, status):
    inside, redirecting = recorders(), recorders()
    redirecting.status, redirecting.location = status, inside.url
    allow_webhooks("ageo", "127.0.0.1")
    with caplog.at_level(logging.WARNING, logger="app"):
        _, row = _one_level(client, factory, tmp_path, redirecting.url)
    assert redirecting.requests == [("POST", "/hook")]
    assert inside.requests == []
    assert (row.status, row.last_error) == ("pending", f"{WEBHOOK_FAILED}（HTTP {status}）")
    assert "redirect, not followed" in caplog.text


def _rebinding(monkeypatch, port: int, answers: list[str]):
    """A name whose successive resolutions answer `answers` in turn (then the metadata address)."""
    queue = iter(answers + ["169.254.169.254"] * 10)
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if host == "hooks.rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(queue), port))]
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return queue


def _rebinding_roster(client, factory, tmp_path, port):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"], webhook=f"http://hooks.rebind.example:{port}/hook")],
                escalation=ONE_LEVEL)
    incident = open_incident(client, headers(factory, CSIRT), LOW)
    tick(started(incident["id"]) + S)
    [row] = notifications(incident["id"], channel="webhook")
    return row


def test_a_name_that_resolves_elsewhere_at_delivery_is_refused(app, client, factory, tmp_path, allow_webhooks,
                                                                recorders, monkeypatch):
    """DNS rebinding: the roster's check saw an allowed address, the delivery sees the metadata one."""
    receiver = recorders()
    allow_webhooks("ageo", "127.0.0.1")
    _rebinding(monkeypatch, receiver.server.server_address[1], ["127.0.0.1"])
    row = _rebinding_roster(client, factory, tmp_path, receiver.server.server_address[1])
    assert (row.status, row.last_error) == ("pending", WEBHOOK_REFUSED)
    assert receiver.requests == []


def test_delivery_connects_to_the_address_it_checked(app, client, factory, tmp_path, allow_webhooks, recorders,
                                                     monkeypatch):
    """One resolution per delivery: a second one (as urllib's connect would make) would answer the
    metadata address, and the request reaches the checked one."""
    receiver = recorders()
    allow_webhooks("ageo", "127.0.0.1")
    queue = _rebinding(monkeypatch, receiver.server.server_address[1], ["127.0.0.1", "127.0.0.1"])
    row = _rebinding_roster(client, factory, tmp_path, receiver.server.server_address[1])
    assert (row.status, row.last_error) == ("sent", None)
    assert receiver.requests == [("POST", "/hook")]
    assert next(queue) == "169.254.169.254"  # the third answer was never asked for


@pytest.fixture
def tls_receiver(tmp_path):
    """A real HTTPS server on 127.0.0.1 with a certificate for `localhost` from a test CA; its
    `ca_file` is that CA, `requests` what arrived."""
    authority = trustme.CA()
    certificate = authority.issue_cert("localhost")
    receiver = Recorder()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    receiver.ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(receiver.ca_file))
    receiver.port = receiver.server.server_address[1]
    yield receiver
    receiver.close()


@pytest.mark.parametrize("trusted, name, delivered", [
    (True, "localhost", True),
    (False, "localhost", False),     # a certificate from a CA nobody trusts here
    (True, "127.0.0.1", False),      # the certificate is for localhost, not for the address
])
def test_https_webhooks_check_the_certificate_against_the_urls_name(app, client, factory, tmp_path, allow_webhooks,
                                                                     tls_receiver, monkeypatch, caplog, trusted, name,
                                                                     delivered):
    allow_webhooks("ageo", "127.0.0.1", "localhost")
    monkeypatch.setitem(app.config, "WEBHOOK_CA_FILE", str(tls_receiver.ca_file) if trusted else None)
    with caplog.at_level(logging.WARNING, logger="app"):
        _, row = _one_level(client, factory, tmp_path, f"https://{name}:{tls_receiver.port}/hook")
    if delivered:
        assert (row.status, row.last_error) == ("sent", None)
        assert tls_receiver.requests == [("POST", "/hook")]
    else:
        assert (row.status, row.last_error) == ("pending", WEBHOOK_FAILED)
        assert tls_receiver.requests == []
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
