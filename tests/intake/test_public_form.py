"""The public report form (no sign-in): a receipt number, rate limits with a Japanese message that
keep what was typed, a size limit, and the reporter's input kept as plain text."""
from __future__ import annotations

import hashlib
import io
import re
import threading

import pytest
from sqlalchemy import func, select

from app.core.db import db
from app.incidents.models import Evidence
from app.intake.models import Report
from tests.concurrency import run_in_threads
from tests.factories import PASSWORD, csrf_token

FORM = "/report/ageo"


def send(client, address="203.0.113.50", **fields):
    page = client.get(FORM, environ_base={"REMOTE_ADDR": address})
    data = {"what": "市のホームページに見慣れない広告が出ています。", "contact": "", "csrf_token": csrf_token(page.text)} | fields
    return client.post(FORM, data=data, content_type="multipart/form-data", environ_base={"REMOTE_ADDR": address})


def reports() -> int:
    return db.session.scalar(select(func.count()).select_from(Report))


def test_the_form_is_japanese_and_needs_no_script(client):
    page = client.get(FORM)
    assert page.status_code == 200
    assert "情報セキュリティに関するご報告" in page.text and "上尾市" in page.text
    assert "<script" not in page.text
    for field in ("what", "when", "contact", "attachment"):
        assert f'<label for="{field}">' in page.text
    assert client.get("/report/nowhere").status_code == 404


def test_a_report_gets_a_receipt(client):
    photo = b"\x89PNG\r\n\x1a\n" + b"x" * 1000
    response = send(client, what="不審なメールが届きました\n件名: 税金の還付", when="2026-11-20T09:30",
                    contact="山田 090-0000-0000", attachment=(io.BytesIO(photo), "screen.png"))
    assert response.status_code == 201
    receipt = re.search(r'id="receipt">([^<]+)<', response.text).group(1)
    report = db.session.scalar(select(Report))
    assert (report.receipt, report.channel, report.source, report.state) == (receipt, "form", "external", "new")
    assert (report.title, report.contact, report.address) == ("不審なメールが届きました", "山田 090-0000-0000", "203.0.113.50")
    assert report.body == "不審なメールが届きました\n件名: 税金の還付"
    assert report.occurred_at.isoformat() == "2026-11-20T00:30:00+00:00"
    [item] = db.session.scalars(select(Evidence).where(Evidence.report_id == report.id)).all()
    assert (item.filename, item.size, item.incident_id) == ("screen.png", len(photo), None)
    assert item.sha256 == hashlib.sha256(photo).hexdigest()


def test_missing_text_is_refused_in_japanese(client):
    response = send(client, what="  ")
    assert response.status_code == 422 and "入力してください。" in response.text
    assert reports() == 0


def test_a_future_time_is_refused(client):
    response = send(client, when="2999-01-01T00:00")
    assert response.status_code == 422 and "未来の日時は入力できません。" in response.text


def test_too_many_from_one_address_is_429_and_keeps_the_text(client):
    for _ in range(5):
        assert send(client).status_code == 201
    refused = send(client, what="六件目の報告です")
    assert refused.status_code == 429
    assert "送信が集中しているため、受け付けられませんでした。" in refused.text
    assert "六件目の報告です" in refused.text  # nothing typed is lost
    assert reports() == 5
    assert send(client, address="198.51.100.1").status_code == 201


def test_the_overall_limit(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_REPORT_PER_HOUR", 2)
    assert send(client, address="192.0.2.1").status_code == 201
    assert send(client, address="192.0.2.2").status_code == 201
    assert send(client, address="192.0.2.3").status_code == 429


def _simultaneous(app, count: int, address_of) -> list[int]:
    """`count` submissions sent at the same moment, each from its own browser; their statuses."""
    barrier, lock, statuses = threading.Barrier(count), threading.Lock(), []

    def worker(n: int) -> None:
        with app.app_context():
            client = app.test_client()
            page = client.get(FORM, environ_base={"REMOTE_ADDR": address_of(n)})
            data = {"what": f"同時送信 {n}", "contact": "", "csrf_token": csrf_token(page.text)}
            barrier.wait(timeout=60)
            response = client.post(FORM, data=data, content_type="multipart/form-data",
                                   environ_base={"REMOTE_ADDR": address_of(n)})
            with lock:
                statuses.append(response.status_code)

    assert run_in_threads(worker, count, timeout=180) == []
    return sorted(statuses)


def test_twenty_simultaneous_submissions_from_one_address_file_exactly_five(app):
    """Issue 15, item 5: counting and filing are one step, on both engines."""
    assert _simultaneous(app, 20, lambda n: "203.0.113.77") == [201] * 5 + [429] * 15
    assert reports() == 5


def test_the_overall_limit_holds_against_simultaneous_addresses(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_REPORT_PER_HOUR", 5)
    assert _simultaneous(app, 20, lambda n: f"198.51.100.{n + 1}") == [201] * 5 + [429] * 15
    assert reports() == 5


def test_a_10_mb_upload_is_refused(client):
    response = send(client, attachment=(io.BytesIO(b"\0" * (10 * 1024 * 1024)), "big.bin"))
    assert response.status_code == 413
    assert "送信された内容が大きすぎます。" in response.text
    assert reports() == 0


def test_a_file_just_over_the_limit_is_refused(app, client):
    limit = app.config["PUBLIC_REPORT_MAX_BYTES"]
    response = send(client, attachment=(io.BytesIO(b"\0" * (limit + 1)), "big.bin"))
    assert response.status_code == 413 and reports() == 0


def test_without_the_csrf_token_nothing_is_filed(client):
    response = client.post(FORM, data={"what": "x"}, content_type="multipart/form-data")
    assert response.status_code in (400, 422) and reports() == 0


@pytest.mark.parametrize("payload", ['<script>window.__xss=1</script>', '<img src=x onerror="window.__xss=1">',
                                     '{{7*7}}', '"><svg onload=alert(1)>'])
def test_the_reporters_words_are_shown_as_text(client, factory, payload):
    assert send(client, what=payload, contact=payload).status_code == 201
    user = factory.user({"ageo": ["csirt"]})
    page = client.get("/login")
    client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    report = db.session.scalar(select(Report))
    for path in ("/triage", f"/triage/reports/{report.id}"):
        html = client.get(path).text
        assert payload not in html or payload == "{{7*7}}"
        assert "<script>window.__xss" not in html and "onerror=\"window" not in html and "<svg onload" not in html
    assert "49" not in client.get(f"/triage/reports/{report.id}").text.split("<pre", 1)[1].split("</pre>")[0]
