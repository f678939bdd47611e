"""What a message says, as Japanese mail really arrives (ISO-2022-JP with NEC characters,
Shift_JIS in raw headers, HTML only), and malformed mail: kept, flagged, never dropped."""
from __future__ import annotations

import pytest

from app.intake.maildir import process_maildir
from app.intake.mailparse import NO_SUBJECT, html_to_text, parse
from tests.intake.mailsupport import (
    ADDRESSES,
    AGEO,
    DATE,
    deliver,
    evidence_of_report,
    in_folder,
    iso_2022_jp,
    message,
    new_id,
    reports,
    sha,
    stored,
    waiting,
)

CIRCLED_1 = b"\x1b$B-!\x1b(B"  # ① as Outlook writes it in ISO-2022-JP (NEC row 13, not in JIS X 0208)


@pytest.fixture
def maildir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "INTAKE_ADDRESSES", ADDRESSES)
    return tmp_path / "Maildir"


def only_report(maildir):
    tally = process_maildir(maildir)
    [report] = reports()
    return tally, report


def test_iso_2022_jp_subject_and_body(maildir):
    body = "職員端末でウイルスを検知しました。\r\n隔離済みです。\r\n".encode("iso2022_jp") + CIRCLED_1 + b" \x1b(I6E\x1b(B\r\n"
    raw = iso_2022_jp("【至急】ウイルス検知の報告", body)
    deliver(maildir, raw)

    tally, report = only_report(maildir)

    assert report.title == "【至急】ウイルス検知の報告"
    assert report.body == "職員端末でウイルスを検知しました。\n隔離済みです。\n① ｶﾅ"
    assert report.sender == "鈴木 <suzuki@city.ageo.example.jp>"
    assert (report.flagged, tally.flagged) == (False, 0)
    assert evidence_of_report(report)[0].sha256 == sha(raw)


def test_shift_jis_in_raw_headers_and_body(maildir):
    raw = (f"From: suzuki@city.ageo.example.jp\r\nTo: {AGEO}\r\nDate: {DATE}\r\nMessage-ID: {new_id()}\r\n"
           "Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n").encode() \
        + "Subject: 件名も本文もシフトJIS\r\n\r\n".encode("cp932") + "髙橋さんのＰＣが①番の部屋で停止".encode("cp932")
    deliver(maildir, raw)

    _, report = only_report(maildir)

    assert report.title == "件名も本文もシフトJIS"
    assert report.body == "髙橋さんのＰＣが①番の部屋で停止"
    assert report.flagged  # the raw 8-bit subject had to be guessed
    assert "件名" in report.flag_reason and "cp932" in report.flag_reason


def test_an_html_only_body_is_kept_as_text_without_script(maildir):
    html = ("<html><head><title>t</title><style>p{color:red}</style></head><body>"
            "<p>不正なログインが<b>3回</b>ありました。</p><script>alert('x')</script>"
            "<div>詳細は<a href='http://evil.example/'>こちら</a><br>&lt;管理者&gt; &amp; 担当</div>"
            "<img src=x onerror=alert(1)></body></html>")
    deliver(maildir, message(body=None, html=html))

    _, report = only_report(maildir)

    assert report.body == "不正なログインが3回ありました。\n詳細はこちら\n<管理者> & 担当"
    assert "alert" not in report.body and "color" not in report.body and not report.flagged


def test_plain_text_is_preferred_to_html(maildir):
    deliver(maildir, message(body="プレーンテキスト", html="<p>HTML版</p>"))
    _, report = only_report(maildir)
    assert report.body == "プレーンテキスト"


def test_no_from_is_kept_and_flagged(maildir):
    raw = message(sender=None, subject="")
    deliver(maildir, raw)

    tally, report = only_report(maildir)

    assert (report.flagged, report.sender, report.title, report.source) == (True, None, NO_SUBJECT, "external")
    assert "差出人（From）" in report.flag_reason
    assert tally.summary() == "1 new reports, 0 added to incidents, 0 duplicate, 1 flagged, 0 unrouted"
    assert evidence_of_report(report)[0].sha256 == sha(raw)


def test_an_undecodable_charset_is_kept_and_flagged(maildir):
    raw = (f"From: a@city.ageo.example.jp\r\nTo: {AGEO}\r\nSubject: =?x-unknown?B?gqCCoA==?=\r\nMessage-ID: {new_id()}\r\n"
           "Content-Type: text/plain; charset=x-no-such-charset\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode() \
        + b"\x81 \xff\x81 body \x00 with NUL"
    deliver(maildir, raw)

    _, report = only_report(maildir)

    assert report.flagged and "本文: 文字コード（x-no-such-charset）を解読できません" in report.flag_reason
    assert report.body == "\ufffd \ufffd\ufffd body  with NUL"  # no NUL reaches the database
    assert report.title == "ああ"  # the subject's bytes were Shift_JIS under an unknown label: guessed
    assert stored(evidence_of_report(report)[0]) == raw


def test_a_broken_multipart_is_kept_and_flagged(maildir):
    raw = (f"From: a@city.ageo.example.jp\r\nTo: {AGEO}\r\nSubject: broken\r\nMessage-ID: {new_id()}\r\n"
           'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="never"\r\n\r\n'
           "no boundary ever appears\r\n").encode()
    deliver(maildir, raw)

    _, report = only_report(maildir)

    assert report.flagged and "MIME 構造に不備があります" in report.flag_reason
    assert [e.sha256 for e in evidence_of_report(report)] == [sha(raw)]


@pytest.mark.parametrize("raw", [b"\x00\xff\xfe\xfd" * 50, b"", b"\r\n\r\n\r\n", b"Subject: =?utf-8?B?###?=\r\n\r\n"])
def test_garbage_is_kept_and_flagged_in_a_dedicated_mailbox(maildir, raw):
    deliver(maildir, raw)

    tally = process_maildir(maildir, organization="ageo")

    [report] = reports()
    assert (tally.new, tally.flagged, report.flagged) == (1, 1, True)
    assert report.message_id == f"sha256:{sha(raw)}"
    [original] = evidence_of_report(report)
    assert (original.sha256, original.size) == (sha(raw), len(raw))
    assert waiting(maildir) == [] and len(in_folder(maildir, "processed")) == 1


def test_garbage_without_a_dedicated_mailbox_is_unrouted_not_lost(maildir):
    deliver(maildir, b"\x00\xff\xfe\xfd" * 50)
    tally = process_maildir(maildir)
    assert (tally.unrouted, reports()) == (1, [])
    assert len(in_folder(maildir, "unrouted")) == 1


def test_oversize_is_flagged_with_its_headers_and_original(maildir, app, monkeypatch):
    monkeypatch.setitem(app.config, "INTAKE_MAX_MESSAGE_BYTES", 4096)
    raw = message(subject="大きな添付", attachments=[("big.bin", "application/octet-stream", b"x" * 8000)])
    deliver(maildir, raw)

    tally, report = only_report(maildir)

    assert (report.title, report.body, report.flagged, tally.flagged) == ("大きな添付", "", True, 1)
    assert report.flag_reason.startswith(f"メールが大きすぎます（{len(raw):,} バイト、上限 4,096 バイト）")
    assert [(e.filename, e.sha256) for e in evidence_of_report(report)] == [("message.eml", sha(raw))]
    assert len(in_folder(maildir, "processed")) == 1


def test_oversize_beyond_the_evidence_limit_stays_in_the_mailbox(maildir, app, monkeypatch):
    monkeypatch.setitem(app.config, "INTAKE_MAX_MESSAGE_BYTES", 4096)
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 4096)
    raw = message(subject="大きすぎる", message_id=None, attachments=[("big.bin", "application/octet-stream", b"y" * 9000)])
    deliver(maildir, raw)

    _, report = only_report(maildir)

    assert report.flagged and "メールボックスに残しています" in report.flag_reason
    assert report.message_id == f"sha256:{sha(raw)}"
    assert evidence_of_report(report) == []
    [kept] = in_folder(maildir, "oversize")
    assert kept.read_bytes() == raw
    deliver(maildir, raw)  # delivered again: the same hash, the same report
    assert process_maildir(maildir).duplicate == 1 and len(reports()) == 1


def test_parse_never_raises_on_nested_and_forwarded_mail():
    inner = message(subject="転送元", attachments=[("a.txt", "text/plain", "添付".encode())])
    outer = message(subject="Fw: 転送", attachments=[("fw.eml", "message/rfc822", inner)])
    mail = parse(outer)
    assert mail.problems == [] and [a.content_type for a in mail.attachments] == ["message/rfc822"]
    assert parse(mail.attachments[0].data).subject == "転送元"


def test_html_to_text_keeps_no_markup():
    assert html_to_text("<p>a</p><p>b<br/>c</p><iframe src=x></iframe><svg onload=alert(1)>d</svg>") == "a\nb\nc\nd"
