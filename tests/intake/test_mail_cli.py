"""`flask intake maildir|imap`: the summary line, the unrouted named, non-zero exits with a clear
message on a bad path or settings; and two real `flask intake maildir` processes on one maildir."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.config import REPO_ROOT
from app.core.db import db
from app.incidents.evidence import evidence_dir
from app.incidents.models import Evidence
from app.intake.models import Report
from tests.intake.mailsupport import ADDRESSES, deliver, in_folder, message, reports, waiting

FLASK = Path(sys.executable).with_name("flask")


@pytest.fixture
def maildir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "INTAKE_ADDRESSES", ADDRESSES)
    return tmp_path / "Maildir"


def run(app, *args):
    db.session.rollback()
    return app.test_cli_runner().invoke(args=["intake", *args])


def test_maildir_prints_what_became_of_each_message(app, maildir, factory):
    incident = factory.incident(factory.user({"ageo": ["csirt"]}))
    raw = message()
    for mail in (raw, raw, message(sender=None), message(subject=f"RE: {incident.reference} 続報"),
                 message(to="nobody@example.org", message_id="<nowhere@example.org>")):
        deliver(maildir, mail)

    result = run(app, "maildir", str(maildir))

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "2 new reports, 1 added to incidents, 1 duplicate, 1 flagged, 1 unrouted"
    assert lines[0].startswith("unrouted: <nowhere@example.org>") and str(maildir / ".unrouted") in lines[0]
    assert run(app, "maildir", str(maildir)).output.splitlines()[-1] == \
        "0 new reports, 0 added to incidents, 0 duplicate, 0 flagged, 0 unrouted"


def test_organization_option(app, maildir):
    deliver(maildir, message(to="saga-csirt@example.org"))
    result = run(app, "maildir", str(maildir), "--organization", "saga")
    assert result.exit_code == 0 and result.output.startswith("1 new reports")
    assert [r.organization.code for r in reports()] == ["saga"]


@pytest.mark.parametrize(("setting", "args", "message_text"), [
    (ADDRESSES, ["maildir", "{tmp}/nothing-here"], "{tmp}/nothing-here is not a maildir (it needs new/ and cur/ folders)"),
    (ADDRESSES, ["maildir", "{maildir}", "--organization", "nowhere"], "unknown organization code(s): nowhere"),
    ("csirt@example.jp", ["maildir", "{maildir}"], "INTAKE_ADDRESSES: 'csirt@example.jp' is not ADDRESS=ORGANIZATION"),
    ("csirt@example.jp=atlantis", ["maildir", "{maildir}"], "unknown organization code(s): atlantis"),
    ("", ["maildir", "{maildir}"], "INTAKE_ADDRESSES is empty: give --organization"),
    (ADDRESSES, ["imap"], "IMAP intake needs INTAKE_IMAP_HOST, INTAKE_IMAP_USER, INTAKE_IMAP_PASSWORD"),
])
def test_bad_input_exits_non_zero_with_a_clear_message(app, maildir, tmp_path, monkeypatch, setting, args, message_text):
    monkeypatch.setitem(app.config, "INTAKE_ADDRESSES", setting)
    deliver(maildir, message())
    result = run(app, *[a.format(tmp=tmp_path, maildir=maildir) for a in args])
    assert result.exit_code == 1
    assert f"Error: {message_text.format(tmp=tmp_path)}" in result.output
    assert reports() == [] and len(waiting(maildir)) == 1


def test_an_unreachable_imap_server_is_a_clear_error(app, monkeypatch):
    for key, value in {"INTAKE_IMAP_HOST": "127.0.0.1", "INTAKE_IMAP_PORT": 1, "INTAKE_IMAP_USER": "u",
                       "INTAKE_IMAP_PASSWORD": "p"}.items():
        monkeypatch.setitem(app.config, key, value)
    result = run(app, "imap", "--organization", "ageo")
    assert result.exit_code == 1 and "Error: cannot reach the IMAP server 127.0.0.1:1 over TLS" in result.output


def test_two_processes_on_one_maildir_file_each_message_once(app, database_url, tmp_path):
    maildir, count = tmp_path / "Maildir", 40
    raws = [message(subject=f"同時取り込み {n}", attachments=[("n.txt", "text/plain", str(n).encode())])
            for n in range(count)]
    for raw in raws:
        deliver(maildir, raw)
    deliver(maildir, raws[0])  # and one delivered twice
    env = os.environ | {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                        "EVIDENCE_PATH": str(evidence_dir()), "SECRET_KEY": "intake-processes-test", "SCHEDULER_ENABLED": "0",
                        "INTAKE_ADDRESSES": ""}
    command = [str(FLASK), "--app", "wsgi", "intake", "maildir", str(maildir), "--organization", "ageo"]
    db.session.rollback()

    procs = [subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]

    assert [p.returncode for p in procs] == [0, 0], outputs
    summaries = [out.strip().splitlines()[-1] for out in outputs]
    assert sum(int(s.split(" new reports")[0]) for s in summaries) == count, summaries
    assert sorted(r.title for r in reports()) == sorted(f"同時取り込み {n}" for n in range(count))
    assert db.session.scalar(select(func.count(func.distinct(Report.message_id)))) == count
    assert db.session.scalar(select(func.count()).select_from(Evidence)) == 2 * count
    assert waiting(maildir) == [] and len(in_folder(maildir, "processed")) == count + 1
