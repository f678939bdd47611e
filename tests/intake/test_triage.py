"""The CSIRT's home page: the triage queue and what needs attention now; opening a report as an
incident, merging it, or closing it as 非該当 — each audited, each once."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEntry
from app.core.db import db
from app.incidents.models import Evidence, Incident, TimelineEvent
from app.intake import services
from app.intake.models import Report
from app.organizations.services import organization_by_code
from tests.factories import PASSWORD, csrf_token


def sign_in(client, user):
    page = client.get("/login")
    client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(page.text)})


def file_report(title="不審なメール", body="本文", org="ageo", attachments=()):
    outcome = services.submit(services.Submission(
        organization=organization_by_code(org), channel="form", source="external", title=title, body=body,
        contact="090-0000-0000", address="203.0.113.9", attachments=list(attachments)))
    db.session.commit()
    return outcome.report


def post(client, path, **data):
    page = client.get(path.rsplit("/", 1)[0])
    return client.post(path, data=data | {"csrf_token": csrf_token(page.text)})


@pytest.fixture
def csirt(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    sign_in(client, user)
    return user


def actions(report_id) -> list[str]:
    return db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "report",
                                                              AuditEntry.object_id == str(report_id))
                              .order_by(AuditEntry.id)).all()


def test_home_lists_waiting_reports_oldest_first(client, csirt):
    older, newer = file_report("一件目"), file_report("二件目")
    db.session.execute(update(Report).where(Report.id == older.id).values(received_at=newer.received_at - dt.timedelta(hours=1)))
    db.session.commit()
    assert client.get("/").headers["Location"] == "/triage"
    page = client.get("/triage").text
    assert "振り分け待ちの報告（古い順）" in page
    assert page.index("一件目") < page.index("二件目")
    assert "/report/ageo" in page  # where outsiders report


def test_reporters_go_to_the_incident_list(client, factory):
    sign_in(client, factory.user({"ageo": ["reporter"]}))
    assert client.get("/triage").headers["Location"] == "/incidents/"


def test_attention_shows_unacknowledged_soon_due_and_quiet(client, csirt, factory):
    factory.incident(csirt, title="ランサムウェア感染", impacts=["outage"], personal_data={"involved": True, "persons": 500})
    quiet = factory.incident(csirt, title="放置された事案")
    db.session.execute(update(TimelineEvent).where(TimelineEvent.incident_id == quiet.id)
                       .values(at=dt.datetime.now(dt.UTC) - dt.timedelta(days=9)))
    db.session.commit()
    page = client.get("/triage").text
    attention = page.split('id="queue-title"')[0]
    unacked = attention.split("48時間以内の期限")[0]
    assert "ランサムウェア感染" in unacked
    soon = attention.split("48時間以内の期限")[1].split("動きのないインシデント")[0]
    assert "ランサムウェア感染" in soon  # the internal chain's 1-hour report is due
    stale = attention.split("動きのないインシデント（7日以上）")[1]
    assert "放置された事案" in stale and "ランサムウェア感染" not in stale


def test_open_as_incident(client, csirt):
    photo = b"PNGDATA" * 10
    report = file_report("USBメモリを拾った", "庁舎1階ロビーで", attachments=[services.Attachment("photo.png", "image/png", photo)])
    form = client.get(f"/incidents/new?organization=ageo&report={report.id}")
    assert form.status_code == 200
    assert 'value="USBメモリを拾った"' in form.text and "庁舎1階ロビーで" in form.text
    assert f"報告 {report.receipt} から登録します。" in form.text
    response = client.post(f"/incidents/new?organization=ageo&report={report.id}", data={
        "csrf_token": csrf_token(form.text), "title": "USBメモリの拾得", "threat_category": "unintentional",
        "detected_at": "2026-11-21T10:00", "source": "external", "description": "庁舎1階ロビーで"})
    assert response.status_code == 302, response.text
    incident = db.session.scalar(select(Incident).where(Incident.title == "USBメモリの拾得"))
    db.session.refresh(report)
    assert (report.state, report.incident_id, report.decided_by_id) == ("opened", incident.id, csirt.id)
    assert incident.reported_at == report.received_at and incident.recorded_late is False
    [item] = db.session.scalars(select(Evidence).where(Evidence.incident_id == incident.id)).all()
    assert (item.report_id, item.filename) == (report.id, "photo.png")
    kinds = db.session.scalars(select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id)).all()
    assert "report_opened" in kinds
    assert actions(report.id) == ["report.received", "report.opened"]
    again = client.get(f"/incidents/new?organization=ageo&report={report.id}")
    assert again.status_code == 409


def test_merge_into_an_incident(client, csirt, factory):
    incident = factory.incident(csirt, title="標的型メール")
    report = file_report("同じメールが届いた", "総務課でも受信", attachments=[services.Attachment("mail.eml", "message/rfc822", b"raw")])
    wrong = post(client, f"/triage/reports/{report.id}/merge", reference="AGEO-1999-9999")
    assert wrong.headers["Location"] == f"/triage/reports/{report.id}"
    db.session.refresh(report)
    assert report.state == "new"
    done = post(client, f"/triage/reports/{report.id}/merge", reference=incident.reference.lower())
    assert done.headers["Location"] == f"/incidents/{incident.id}"
    db.session.refresh(report)
    assert (report.state, report.incident_id) == ("merged", incident.id)
    event = db.session.scalar(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id,
                                                          TimelineEvent.kind == "report_merged"))
    assert event.data["body"] == "総務課でも受信" and event.data["receipt"] == report.receipt
    assert db.session.scalar(select(Evidence.incident_id).where(Evidence.report_id == report.id)) == incident.id
    assert actions(report.id) == ["report.received", "report.merged"]


def test_dismiss_needs_a_reason_and_happens_once(client, csirt):
    report = file_report()
    post(client, f"/triage/reports/{report.id}/dismiss", reason=" ")
    assert "非該当とする理由を入力してください" in client.get(f"/triage/reports/{report.id}").text
    db.session.refresh(report)
    assert report.state == "new"
    post(client, f"/triage/reports/{report.id}/dismiss", reason="訓練メールでした")
    db.session.refresh(report)
    assert (report.state, report.decision_reason) == ("dismissed", "訓練メールでした")
    second = post(client, f"/triage/reports/{report.id}/dismiss", reason="もう一度")
    assert second.status_code == 302
    assert "この報告は、すでに他の担当者が振り分けました。" in client.get(f"/triage/reports/{report.id}").text
    assert actions(report.id) == ["report.received", "report.dismissed"]


def test_auditors_read_but_do_not_decide_and_other_bodies_do_not_see(client, factory):
    report = file_report()
    sign_in(client, factory.user({"ageo": ["auditor"]}))
    page = client.get(f"/triage/reports/{report.id}")
    assert page.status_code == 200 and "decide-title" not in page.text
    assert client.post(f"/triage/reports/{report.id}/dismiss", data={"reason": "x", "csrf_token": csrf_token(page.text)}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    sign_in(client, factory.user({"saga": ["csirt"]}))
    assert client.get(f"/triage/reports/{report.id}").status_code == 404
    assert "不審なメール" not in client.get("/triage").text


def test_a_reports_file_downloads_as_an_attachment_and_is_logged(client, csirt):
    report = file_report(attachments=[services.Attachment("evil.html", "text/html", b"<script>alert(1)</script>")])
    item = db.session.scalar(select(Evidence).where(Evidence.report_id == report.id))
    response = client.get(f"/triage/reports/{report.id}/files/{item.id}")
    assert response.status_code == 200 and response.data == b"<script>alert(1)</script>"
    assert response.mimetype == "application/octet-stream"
    assert re.match(r"attachment;", response.headers["Content-Disposition"])
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert actions(report.id)[-1] == "report.file_downloaded"
    assert client.get(f"/triage/reports/{report.id}/files/{item.id + 999}").status_code == 404


def test_a_form_upload_is_kept_with_the_report(client, csirt):
    page = client.get("/report/ageo")
    client.post("/report/ageo", data={"what": "画面のスクリーンショット", "csrf_token": csrf_token(page.text),
                                      "attachment": (io.BytesIO(b"shot"), "shot.png")}, content_type="multipart/form-data")
    report = db.session.scalar(select(Report))
    assert [f.filename for f in services.attachments_of(report)] == ["shot.png"]
