"""A real IMAP server for the intake tests: Debian's dovecot-imapd (.ci/run installs it), run in
the foreground with its own configuration in a temporary folder, IMAPS only, on a free port, with
a self-signed certificate made here that the client trusts through SSL_CERT_FILE.

Dovecot refuses to run mail processes as root, so the mailbox belongs to the `dovenull` user the
package creates; that needs root, as on the developers' machines and in CI.
"""
from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

DOVECOT = Path("/usr/sbin/dovecot")
USER, PASSWORD = "intake", "intake-test-password"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
first_valid_uid = {uid}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unavailable() -> str | None:
    if not DOVECOT.exists():
        return "dovecot is not installed (apt-get install dovecot-imapd; .ci/run does)"
    if os.geteuid() != 0:
        return "the IMAP test server needs root (its mailbox belongs to the dovenull user)"
    return None


class ImapServer:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="csirt-imap-"))  # not under pytest's 0700 tmp: dovecot's users walk it
        self.root.chmod(0o755)
        self.port = free_port()
        self.cert = self.root / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(self.root / "key.pem"),
                        "-out", str(self.cert)], check=True, capture_output=True)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        mail_user = pwd.getpwnam("dovenull")
        home = self.root / "home"
        home.mkdir()
        shutil.chown(home, mail_user.pw_uid, mail_user.pw_gid)
        config = self.root / "dovecot.conf"
        config.write_text(CONFIG.format(root=self.root, uid=mail_user.pw_uid, gid=mail_user.pw_gid, port=self.port))
        self.process = subprocess.Popen([str(DOVECOT), "-F", "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not listen in time: {self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.cert))
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context)
        conn.login(USER, PASSWORD)
        conn.select("INBOX")
        return conn

    def append(self, raw: bytes) -> None:
        conn = self.client()
        try:
            typ, data = conn.append("INBOX", None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def flags(self) -> list[set[str]]:
        """Each message's flags, in mailbox order."""
        conn = self.client()
        try:
            _, data = conn.fetch("1:*", "(FLAGS)")
        finally:
            conn.logout()
        return [set(line.decode().split("FLAGS (", 1)[1].rstrip(")").split()) for line in data if line]

    def empty(self) -> None:
        conn = self.client()
        try:
            _, data = conn.select("INBOX")
            if int(data[0]):
                conn.store("1:*", "+FLAGS", "(\\Deleted)")
                conn.expunge()
        finally:
            conn.logout()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def imap_server():
    reason = unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the IMAP intake test is required under CI=true: {reason}")
        pytest.skip(reason)
    server = ImapServer()
    yield server
    server.stop()
