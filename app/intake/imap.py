"""Reading an IMAP mailbox over TLS (INTAKE_IMAP_*): every message not yet flagged
`$CsirtProcessed` (nor `$CsirtUnrouted`) is filed and committed, then flagged. A crash between
the two leaves an unflagged message whose Message-ID is already filed: the next run flags it.
Messages are never deleted or moved on the server; the CSIRT's mail client still sees them all.
"""
from __future__ import annotations

import hashlib
import imaplib
import re
import ssl

from flask import current_app

from app.intake.mail import IntakeConfigError, IntakeError, Router, Step, Tally, router_from_config, take
from app.intake.mailparse import ParsedMail, parse, parse_oversize

PROCESSED, UNROUTED = "$CsirtProcessed", "$CsirtUnrouted"
TIMEOUT = 60


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fetch(conn: imaplib.IMAP4, uid: bytes, what: str) -> tuple[bytes, bytes]:
    """(the response line, the literal) of one UID FETCH."""
    typ, data = conn.uid("FETCH", uid, what)
    if typ != "OK" or not data or data[0] is None:
        raise imaplib.IMAP4.error(f"FETCH {what} of UID {uid.decode()} failed: {typ}")
    first = data[0]
    return (first[0], first[1]) if isinstance(first, tuple) else (first, b"")


def read_mail(conn: imaplib.IMAP4, uid: bytes) -> ParsedMail:
    """The message; only its headers when it is over the size limits (BODY.PEEK: never marks it \\Seen)."""
    line, _ = _fetch(conn, uid, "(RFC822.SIZE)")
    match = re.search(rb"RFC822\.SIZE (\d+)", line)
    size = int(match.group(1)) if match else 0
    message_max, evidence_max = current_app.config["INTAKE_MAX_MESSAGE_BYTES"], current_app.config["EVIDENCE_MAX_BYTES"]
    if size <= message_max and size <= evidence_max:
        return parse(_fetch(conn, uid, "(BODY.PEEK[])")[1])
    _, head = _fetch(conn, uid, "(BODY.PEEK[HEADER])")
    raw = _fetch(conn, uid, "(BODY.PEEK[])")[1] if size <= evidence_max else None
    sha = hashlib.sha256(raw if raw is not None else head).hexdigest()  # headers alone: the same at every run
    return parse_oversize(head, size, sha, min(message_max, evidence_max), raw)


def connect() -> imaplib.IMAP4:
    config = current_app.config
    host, user, password = config.get("INTAKE_IMAP_HOST"), config.get("INTAKE_IMAP_USER"), config.get("INTAKE_IMAP_PASSWORD")
    missing = [name for name, value in (("INTAKE_IMAP_HOST", host), ("INTAKE_IMAP_USER", user),
                                        ("INTAKE_IMAP_PASSWORD", password)) if not value]
    if missing:
        raise IntakeConfigError(f"IMAP intake needs {', '.join(missing)}")
    try:
        conn = imaplib.IMAP4_SSL(host, config["INTAKE_IMAP_PORT"], ssl_context=ssl.create_default_context(),
                                 timeout=TIMEOUT)
    except (OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
        raise IntakeError(f"cannot reach the IMAP server {host}:{config['INTAKE_IMAP_PORT']} over TLS: {exc}") from None
    try:
        conn.login(user, password)
        typ, data = conn.select(_quoted(config["INTAKE_IMAP_FOLDER"]))
        if typ != "OK":
            raise IntakeConfigError(f"IMAP folder {config['INTAKE_IMAP_FOLDER']!r} cannot be opened: {data}")
    except imaplib.IMAP4.error as exc:
        conn.logout()
        raise IntakeError(f"IMAP sign-in as {user} failed: {exc}") from None
    except IntakeError:
        conn.logout()
        raise
    return conn


def process_imap(organization: str | None = None, step: Step | None = None, router: Router | None = None) -> Tally:
    """Files every message of INTAKE_IMAP_FOLDER not yet flagged by an earlier run."""
    router = router or router_from_config(organization)
    if organization is None and not router.addresses:
        raise IntakeConfigError("INTAKE_ADDRESSES is empty: give --organization or map addresses to bodies")
    tally = Tally()
    conn = connect()
    try:
        typ, data = conn.uid("SEARCH", None, "NOT", "KEYWORD", PROCESSED, "NOT", "KEYWORD", UNROUTED)
        if typ != "OK":
            raise IntakeError(f"IMAP SEARCH failed: {data}")
        for uid in (data[0] or b"").split():
            try:
                mail = read_mail(conn, uid)
            except imaplib.IMAP4.error as exc:  # expunged meanwhile, or refused: next run
                tally.failed += 1
                tally.notes.append(f"failed: UID {uid.decode()} unreadable ({exc})")
                continue
            result = take(mail, router, tally, step)
            if result == "failed":
                continue
            conn.uid("STORE", uid, "+FLAGS", f"({UNROUTED if result == 'unrouted' else PROCESSED} \\Seen)")
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise IntakeError(f"IMAP connection lost: {exc}") from None
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
    return tally
