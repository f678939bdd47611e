"""Mail intake from a real maildir (issue 9 item 1): one report per message, exactly once across
redeliveries and crashes, replies onto their incident's timeline, the original and its attachments
kept as evidence with their SHA-256, malformed mail kept and flagged."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, text

from app.audit.models import AuditEntry
from app.core.db import db
from app.incidents.models import Evidence, TimelineEvent
from app.intake.maildir import process_maildir
from app.jobs.scheduler import claim_job, run_tick
from tests.concurrency import run_in_threads
from tests.intake.mailsupport import (
    ADDRESSES,
    AGEO,
    OUTSIDER,
    SAGA,
    STAFF,
    Crash,
    crash_at,
    deliver,
    evidence_of_report,
    in_folder,
    message,
    reports,
    sha,
    stored,
    waiting,
)

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture
def maildir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "INTAKE_ADDRESSES", ADDRESSES)
    return tmp_path / "Maildir"


def test_a_message_becomes_one_report_with_its_evidence(maildir):
    raw = message(attachments=[("ログ.pdf", "application/pdf", PDF)], message_id="<m1@city.ageo.example.jp>")
    file = deliver(maildir, raw)

    tally = process_maildir(maildir)

    assert tally.summary() == "1 new reports, 0 added to incidents, 0 duplicate, 0 flagged, 0 unrouted"
    [report] = reports()
    assert (report.organization.code, report.channel, report.source, report.state) == ("ageo", "email", "internal", "new")
    assert report.title == "不審なメールを開いてしまいました"
    assert report.body == "添付ファイルを開いた後、画面が固まりました。"
    assert report.sender == f"佐藤 花子 <{STAFF}>"
    assert report.message_id == "<m1@city.ageo.example.jp>"
    assert (report.flagged, report.flag_reason, report.incident_id) == (False, None, None)
    original, attachment = evidence_of_report(report)
    assert (original.filename, original.content_type, original.size) == ("message.eml", "message/rfc822", len(raw))
    assert original.sha256 == sha(raw) == sha(stored(original))
    assert (attachment.filename, attachment.content_type, attachment.size) == ("ログ.pdf", "application/pdf", len(PDF))
    assert attachment.sha256 == sha(PDF) == sha(stored(attachment))
    assert not file.exists() and waiting(maildir) == []
    [moved] = in_folder(maildir, "processed")
    assert moved.read_bytes() == raw and moved.name.endswith(":2,S")
    audit = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "report")).all()
    assert audit == ["report.received"]


def test_the_same_message_delivered_twice_is_one_report(maildir):
    raw = message()
    deliver(maildir, raw)
    deliver(maildir, raw)

    first = process_maildir(maildir)
    again = process_maildir(maildir)

    assert (first.new, first.duplicate) == (1, 1)
    assert (again.new, again.duplicate) == (0, 0)
    [report] = reports()
    assert len(evidence_of_report(report)) == 1
    assert len(in_folder(maildir, "processed")) == 2 and waiting(maildir) == []


def test_a_crash_before_the_commit_leaves_the_message_for_the_next_run(maildir, app):
    raw = message(attachments=[("a.bin", "application/octet-stream", b"\x00\x01")])
    file = deliver(maildir, raw)

    with pytest.raises(Crash):
        process_maildir(maildir, step=crash_at("before_commit"))
    db.session.rollback()  # what the dead process's connection does

    assert reports() == [] and file.exists()
    tally = process_maildir(maildir)
    assert (tally.new, tally.duplicate) == (1, 0)
    [report] = reports()
    assert [e.filename for e in evidence_of_report(report)] == ["message.eml", "a.bin"]
    assert not file.exists() and len(in_folder(maildir, "processed")) == 1


def test_a_crash_after_the_commit_files_each_message_once(maildir):
    raws = [message(subject=f"報告 {n}") for n in range(3)]
    files = [deliver(maildir, raw) for raw in raws]

    with pytest.raises(Crash):  # dies after committing the second, before moving it
        process_maildir(maildir, step=crash_at("after_commit", after=1))
    db.session.rollback()
    assert len(reports()) == 2 and sum(f.exists() for f in files) == 2

    tally = process_maildir(maildir)

    assert (tally.new, tally.duplicate) == (1, 1)
    assert sorted(r.title for r in reports()) == ["報告 0", "報告 1", "報告 2"]
    assert db.session.scalar(select(func.count()).select_from(Evidence)) == 3
    assert waiting(maildir) == [] and len(in_folder(maildir, "processed")) == 3


def test_a_reply_naming_an_incident_goes_onto_its_timeline(maildir, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    incident = factory.incident(csirt)
    other = factory.incident(csirt, title="別件")
    reference = incident.reference
    log = b"2026-11-20 10:00:01 blocked 203.0.113.9\n"
    full_width = reference.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ０１２３４５６７８９－"))
    raw = message(subject=f"Re: [{full_width}] 不審な通信について", body="ログを添付します。\n", sender=OUTSIDER,
                  attachments=[("fw.log", "text/plain", log)], message_id="<reply-1@mail.example.com>")
    deliver(maildir, raw)
    deliver(maildir, raw)  # the same reply delivered twice

    tally = process_maildir(maildir)

    assert tally.summary() == "0 new reports, 1 added to incidents, 1 duplicate, 0 flagged, 0 unrouted"
    [report] = reports()
    assert (report.state, report.incident_id, report.source) == ("merged", incident.id, "external")
    assert reference in report.decision_reason
    events = db.session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "mail_received")).all()
    [event] = events
    assert event.incident_id == incident.id and other.id != incident.id
    assert event.summary.startswith(f"メールを受信しました（{OUTSIDER}）")
    assert (event.data["message_id"], event.data["sender"], event.data["body"]) == \
        ("<reply-1@mail.example.com>", OUTSIDER, "ログを添付します。")
    kept = db.session.scalars(select(Evidence).where(Evidence.incident_id == incident.id).order_by(Evidence.id)).all()
    assert [(e.filename, e.sha256) for e in kept] == [("message.eml", sha(raw)), ("fw.log", sha(log))]
    assert [e["sha256"] for e in event.data["evidence"]] == [sha(raw), sha(log)]
    assert stored(kept[1]) == log


def test_a_reference_that_is_not_the_bodys_open_incident_opens_a_report(maildir, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    incident = factory.incident(csirt)
    number = incident.reference.rsplit("-", 1)[1]
    deliver(maildir, message(subject=f"Re: SAGA-2026-{number} の件"))                # another body's prefix
    deliver(maildir, message(subject=f"Re: {incident.reference[:-4]}9999 の件"))     # no such incident
    deliver(maildir, message(subject=f"Re: X{incident.reference} の件"))             # not a whole reference

    tally = process_maildir(maildir)

    assert (tally.new, tally.added) == (3, 0)
    assert {r.state for r in reports()} == {"new"}
    assert db.session.scalar(select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == "mail_received")) == 0


def test_routing_by_recipient_headers_and_the_unrouted_kept_aside(maildir):
    deliver(maildir, message(to="someone@example.org", Cc="CSIRT@City.Saga.Example.JP", sender=OUTSIDER))
    deliver(maildir, message(to="list@example.org", Delivered_To=AGEO))
    deliver(maildir, message(to=f"{AGEO}, {SAGA}", subject="両方へ"))
    lost = message(to="nobody@example.org", message_id="<lost@mail.example.com>")
    deliver(maildir, lost)

    tally = process_maildir(maildir)

    assert tally.summary() == "4 new reports, 0 added to incidents, 0 duplicate, 0 flagged, 1 unrouted"
    assert sorted((r.organization.code, r.title) for r in reports()) == [
        ("ageo", "不審なメールを開いてしまいました"), ("ageo", "両方へ"), ("saga", "不審なメールを開いてしまいました"),
        ("saga", "両方へ")]
    assert [r.source for r in reports() if r.organization.code == "saga"] == ["external", "external"]
    [kept] = in_folder(maildir, "unrouted")
    assert kept.read_bytes() == lost
    [note] = tally.notes
    assert note.startswith("unrouted: <lost@mail.example.com> from sato@city.ageo.example.jp to nobody@example.org")
    assert ".unrouted" in note
    assert process_maildir(maildir).summary().endswith("0 unrouted")


def test_organization_option_takes_every_message(maildir):
    deliver(maildir, message(to="anything@example.org"))
    tally = process_maildir(maildir, organization="kumamoto")
    assert tally.new == 1 and [r.organization.code for r in reports()] == ["kumamoto"]


def test_missing_message_id_is_the_hash_of_the_message(maildir):
    raw = message(message_id=None)
    deliver(maildir, raw)
    deliver(maildir, raw)

    tally = process_maildir(maildir)

    assert (tally.new, tally.duplicate) == (1, 1)
    [report] = reports()
    assert report.message_id == f"sha256:{sha(raw)}" and not report.flagged


def tick_jobs_due() -> None:
    db.session.execute(text("UPDATE tick_jobs SET due_at = :past"), {"past": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)})
    db.session.commit()


def test_the_ticker_runs_the_intake_when_a_maildir_is_set(maildir, app, monkeypatch):
    deliver(maildir, message())
    monkeypatch.setitem(app.config, "INTAKE_MAILDIR", str(maildir))

    result = run_tick(app)

    assert result["intake"] == {"maildir": {"new": 1, "added": 0, "duplicate": 0, "flagged": 0, "unrouted": 0, "failed": 0}}
    assert len(reports()) == 1 and waiting(maildir) == []
    deliver(maildir, message())
    assert "intake" not in run_tick(app)  # INTAKE_SECONDS (60) have not passed: not read again yet
    assert waiting(maildir) != []
    tick_jobs_due()  # as when the minute has passed
    assert run_tick(app)["intake"]["maildir"]["new"] == 1


def test_a_periodic_tick_job_runs_once_per_period_across_processes(app):
    """Eight processes' ticks at once (threads with their own sessions): one claims the period."""
    barrier, results = threading.Barrier(8), []

    def process(_number: int) -> None:
        with app.app_context():
            barrier.wait(timeout=30)
            results.append(claim_job("intake", dt.timedelta(minutes=1)))

    assert run_in_threads(process, 8, timeout=60) == []
    assert sorted(results) == [False] * 7 + [True]
    assert claim_job("intake", dt.timedelta(minutes=1)) is False
    tick_jobs_due()
    assert claim_job("intake", dt.timedelta(minutes=1)) is True


def failing(times: int):
    """A step hook whose first `times` commits fail with an ordinary error (a database refusing, say)."""
    calls = []

    def step(name: str) -> None:
        if name == "before_commit" and len(calls) < times:
            calls.append(name)
            raise RuntimeError("the database refused")
    return step


def test_a_message_that_fails_is_kept_flagged_without_its_parts_and_the_batch_goes_on(maildir):
    first = message(subject="一通目", attachments=[("a.bin", "application/octet-stream", b"\x01")])
    deliver(maildir, first)
    deliver(maildir, message(subject="二通目"))

    tally = process_maildir(maildir, step=failing(1))

    assert tally.summary() == "2 new reports, 0 added to incidents, 0 duplicate, 1 flagged, 0 unrouted"
    kept, second = reports()
    assert (kept.title, kept.flagged, kept.body) == ("一通目", True, "")
    assert kept.flag_reason == "取り込み中にエラーが発生しました（RuntimeError）"
    assert [e.sha256 for e in evidence_of_report(kept)] == [sha(first)]  # the original, at least
    assert (second.title, second.flagged) == ("二通目", False)
    assert waiting(maildir) == []


def test_a_message_that_cannot_be_filed_at_all_stays_for_the_next_run(maildir):
    file = deliver(maildir, message(subject="一通目"))
    deliver(maildir, message(subject="二通目"))

    tally = process_maildir(maildir, step=failing(2))

    assert (tally.new, tally.failed) == (1, 1) and tally.notes[0].startswith("failed: <")
    assert [r.title for r in reports()] == ["二通目"] and file.exists()
    assert process_maildir(maildir).new == 1
    assert sorted(r.title for r in reports()) == ["一通目", "二通目"] and waiting(maildir) == []
