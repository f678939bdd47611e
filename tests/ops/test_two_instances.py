"""Two application servers (two gunicorn processes on different ports) on one PostgreSQL database:
a session started on one continues on the other, evidence uploaded through one downloads through
the other (a shared evidence folder), and tokens work on both."""
from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest

from app.config import REPO_ROOT
from tests.factories import PASSWORD

GUNICORN = Path(sys.executable).with_name("gunicorn")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def servers(engine_name, database_url, tmp_path):
    if engine_name != "postgresql":
        pytest.skip("several servers share one PostgreSQL; a SQLite file belongs to one server")
    shared = {"DATABASE_URL": database_url, "SECRET_KEY": "two-instances-test-secret",
              "EVIDENCE_PATH": str(tmp_path / "shared-evidence"), "SCHEDULER_ENABLED": "0",
              "WEB_CONCURRENCY": "1", "WEB_THREADS": "2", "PYTHONUNBUFFERED": "1"}
    procs, urls = [], []
    for number in (1, 2):
        port = _port()
        env = os.environ | shared | {"PORT": str(port), "INSTANCE_PATH": str(tmp_path / f"instance-{number}")}
        log = (tmp_path / f"server-{number}.log").open("wb")
        procs.append((subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=REPO_ROOT, env=env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True), log))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/healthz", timeout=2).status == 200:
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        logs = "".join((tmp_path / f"server-{n}.log").read_text() for n in (1, 2))
                        raise AssertionError(f"a server did not start:\n{logs}") from None
                    time.sleep(0.2)
        yield urls
    finally:
        for proc, log in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
            log.close()


def _browser():
    jar = CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_a_session_and_evidence_carry_over_between_the_servers(servers, factory):
    one, two = servers
    csirt = factory.user({"ageo": ["csirt"]})
    browser = _browser()
    page = browser.open(f"{one}/login").read().decode()
    browser.open(f"{one}/login", data=urlencode({"email": csirt.email, "password": PASSWORD,
                                                 "csrf_token": _csrf(page)}).encode())
    listing = browser.open(f"{two}/incidents/")  # the session cookie of server 1, read by server 2
    assert listing.status == 200 and listing.url == f"{two}/incidents/"  # not sent to /login

    token = factory.token(csirt)
    api = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = b'{"organization": "ageo", "title": "two servers", "threat_category": "intentional", ' \
           b'"detected_at": "2026-11-20T10:00:00+09:00"}'
    created = urllib.request.urlopen(urllib.request.Request(f"{one}/api/v1/incidents", data=body, headers=api))
    incident_id = int(re.search(rb'"id":\s*(\d+)', created.read()).group(1))

    content = "証拠 two servers ".encode() * 100
    boundary = "----csirt-two-servers"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"log.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    upload = urllib.request.Request(f"{one}/api/v1/incidents/{incident_id}/evidence", data=form, headers={
        "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    evidence_id = int(re.search(rb'"id":\s*(\d+)', urllib.request.urlopen(upload).read()).group(1))
    download = urllib.request.urlopen(urllib.request.Request(
        f"{two}/api/v1/incidents/{incident_id}/evidence/{evidence_id}", headers={"Authorization": f"Bearer {token}"}))
    assert hashlib.sha256(download.read()).hexdigest() == hashlib.sha256(content).hexdigest()
    page = browser.open(f"{two}/incidents/{incident_id}").read().decode()
    assert "two servers" in page and "log.txt" in page
