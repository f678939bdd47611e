"""Mail intake from a real IMAP server over TLS (dovecot, tests/intake/imapserver.py): each message
filed once and flagged $CsirtProcessed, unrouted ones flagged $CsirtUnrouted, and a crash between
the commit and the flag filing nothing twice."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.db import db
from app.incidents.models import Evidence
from app.intake.imap import process_imap
from tests.intake.imapserver import PASSWORD, USER, imap_server  # noqa: F401 - the fixture
from tests.intake.mailsupport import ADDRESSES, Crash, crash_at, evidence_of_report, message, reports, sha

PROCESSED = {"$CsirtProcessed", "\\Seen"}


def crlf(raw: bytes) -> bytes:
    """As IMAP stores it (imaplib's APPEND sends CRLF line ends)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture
def imap(app, imap_server, monkeypatch):  # noqa: F811
    settings = {"INTAKE_ADDRESSES": ADDRESSES, "INTAKE_IMAP_HOST": "127.0.0.1", "INTAKE_IMAP_PORT": imap_server.port,
                "INTAKE_IMAP_USER": USER, "INTAKE_IMAP_PASSWORD": PASSWORD, "INTAKE_IMAP_FOLDER": "INBOX"}
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setenv("SSL_CERT_FILE", str(imap_server.cert))  # the client checks the server's certificate
    yield imap_server
    imap_server.empty()


def fetched(server, number: int) -> bytes:
    conn = server.client()
    try:
        _, data = conn.fetch(str(number), "(BODY.PEEK[])")
    finally:
        conn.logout()
    return data[0][1]


def test_each_message_is_filed_once_and_flagged(imap, factory):
    incident = factory.incident(factory.user({"ageo": ["csirt"]}))
    report_mail = crlf(message(attachments=[("調査.txt", "text/plain", "ログ".encode())]))
    for raw in (report_mail, report_mail, crlf(message(to="nobody@example.org")),
                crlf(message(subject=f"Re: {incident.reference}", sender="soc@example.net"))):
        imap.append(raw)

    tally = process_imap()

    assert tally.summary() == "1 new reports, 1 added to incidents, 1 duplicate, 0 flagged, 1 unrouted"
    assert [f - {"\\Recent"} for f in imap.flags()] == [PROCESSED, PROCESSED, {"$CsirtUnrouted", "\\Seen"}, PROCESSED]
    new, merged = reports()
    assert (new.state, merged.state, merged.incident_id) == ("new", "merged", incident.id)
    original, attachment = evidence_of_report(new)
    assert original.sha256 == sha(report_mail) == sha(fetched(imap, 1))
    assert (attachment.filename, attachment.sha256) == ("調査.txt", sha("ログ".encode()))
    assert db.session.scalars(select(Evidence.incident_id).where(Evidence.report_id == merged.id)).all() == [incident.id]
    assert process_imap().summary() == "0 new reports, 0 added to incidents, 0 duplicate, 0 flagged, 0 unrouted"


def test_a_crash_between_commit_and_flag_files_nothing_twice(imap):
    imap.append(crlf(message()))

    with pytest.raises(Crash):
        process_imap(step=crash_at("after_commit"))
    db.session.rollback()
    assert len(reports()) == 1 and "$CsirtProcessed" not in imap.flags()[0]

    tally = process_imap()

    assert (tally.new, tally.duplicate) == (0, 1)
    assert len(reports()) == 1 and "$CsirtProcessed" in imap.flags()[0]


def test_a_crash_before_the_commit_leaves_the_message_unflagged(imap):
    imap.append(crlf(message()))

    with pytest.raises(Crash):
        process_imap(step=crash_at("before_commit"))
    db.session.rollback()
    assert reports() == [] and imap.flags()[0] - {"\\Recent"} == set()

    assert process_imap().new == 1 and len(reports()) == 1


def test_the_cli_reads_imap_and_refuses_a_bad_password(imap, app, monkeypatch):
    imap.append(crlf(message()))
    db.session.rollback()
    result = app.test_cli_runner().invoke(args=["intake", "imap"])
    assert result.exit_code == 0 and result.output.strip() == \
        "1 new reports, 0 added to incidents, 0 duplicate, 0 flagged, 0 unrouted"

    monkeypatch.setitem(app.config, "INTAKE_IMAP_PASSWORD", "wrong")
    result = app.test_cli_runner().invoke(args=["intake", "imap"])
    assert result.exit_code == 1 and f"Error: IMAP sign-in as {USER} failed" in result.output


def test_the_server_certificate_is_checked(imap, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")  # the self-signed certificate is no longer trusted
    from app.intake.mail import IntakeError
    with pytest.raises(IntakeError, match="cannot reach the IMAP server .* over TLS: .*CERTIFICATE_VERIFY_FAILED"):
        process_imap()




def test_oversize_mail_is_flagged_with_its_headers(imap, app, monkeypatch):
    monkeypatch.setitem(app.config, "INTAKE_MAX_MESSAGE_BYTES", 2048)
    raw = crlf(message(subject="大きい", attachments=[("big.bin", "application/octet-stream", b"z" * 5000)]))
    imap.append(raw)

    assert process_imap().flagged == 1
    [report] = reports()
    assert (report.title, report.body, report.flagged) == ("大きい", "", True)
    assert [e.sha256 for e in evidence_of_report(report)] == [sha(raw)]
