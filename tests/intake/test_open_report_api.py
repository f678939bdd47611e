"""POST /api/v1/reports/{id}/open (API.md "Added in the second round", Reports): one service opens a
waiting report as an incident of its body, reported when the report arrived, with the deadlines
counted from what the body knew then; the page calls the same service (test_triage.py)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from app.audit.models import AuditEntry
from app.core.db import db
from app.core.timeutil import iso_utc
from app.incidents.models import Evidence, Incident, TimelineEvent
from app.intake import services
from app.intake.models import Report
from app.organizations.services import organization_by_code

FIELDS = {"title": "委託先からの漏えい報告", "threat_category": "intentional",
          "personal_data": {"involved": True, "sensitive": True, "persons": 3}}  # 要配慮: the PPC clocks run


def file_report(org="ageo", received_days_ago=0, occurred_at=None) -> Report:
    report = services.submit(services.Submission(
        organization=organization_by_code(org), channel="form", source="external", title="不審なメール", body="本文",
        occurred_at=occurred_at, attachments=[services.Attachment("mail.eml", "message/rfc822", b"raw message")])).report
    if received_days_ago:
        db.session.execute(update(Report).where(Report.id == report.id).values(
            received_at=report.received_at - dt.timedelta(days=received_days_ago)))
    db.session.commit()
    db.session.refresh(report)
    return report


def url(report_id: int) -> str:
    return f"/api/v1/reports/{report_id}/open"


@pytest.fixture
def csirt(factory):
    return factory.headers(factory.user({"ageo": ["csirt"]}))


def due(answer: dict, kind: str) -> str:
    return next(d["due_at"] for d in answer["deadlines"] if d["kind"] == kind)


def test_a_report_received_three_days_ago_opens_with_its_deadlines_counted_from_its_arrival(client, csirt):
    report = file_report(received_days_ago=3)
    response = client.post(url(report.id), json=FIELDS, headers=csirt)
    assert response.status_code == 201, response.json
    incident = response.json
    # playbooks/reporting/national.yaml: 速報 3 days, 確報 30 days after detected_at, which is the
    # report's arrival here (no occurred_at, none sent): due now, not three days from now
    assert incident["detected_at"] == incident["reported_at"] == iso_utc(report.received_at)
    assert due(incident, "ppc_preliminary") == iso_utc(report.received_at + dt.timedelta(days=3))
    assert due(incident, "ppc_final") == iso_utc(report.received_at + dt.timedelta(days=30))
    assert (incident["organization"], incident["stage"], incident["title"]) == ("ageo", "triage", FIELDS["title"])
    assert incident["reference"].startswith("AGEO-")
    db.session.refresh(report)
    assert (report.state, report.incident_id) == ("opened", incident["id"])
    stored = db.session.get(Incident, incident["id"])
    assert stored.reported_at == report.received_at and stored.recorded_late is False
    [item] = db.session.scalars(select(Evidence).where(Evidence.incident_id == incident["id"])).all()
    assert (item.report_id, item.filename) == (report.id, "mail.eml")
    kinds = db.session.scalars(select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident["id"])
                               .order_by(TimelineEvent.id)).all()
    assert kinds[0] == "created" and "report_opened" in kinds
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "report")
                              .order_by(AuditEntry.id)).all() == ["report.received", "report.opened"]
    listed = client.get("/api/v1/reports", query_string={"state": "opened"}, headers=csirt).json
    assert [r["incident"]["id"] for r in listed["items"]] == [incident["id"]]


def test_the_reporters_time_and_a_sent_detection_time_count_as_the_rules_say(client, csirt):
    noticed = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=5)
    report = file_report(received_days_ago=1, occurred_at=noticed)
    answer = client.post(url(report.id), json=FIELDS, headers=csirt).json
    assert answer["detected_at"] == iso_utc(noticed) and answer["reported_at"] == iso_utc(report.received_at)
    assert due(answer, "ppc_preliminary") == iso_utc(noticed + dt.timedelta(days=3))
    other = file_report(received_days_ago=2)
    detected = report.received_at - dt.timedelta(days=4)
    answer = client.post(url(other.id), json=FIELDS | {"detected_at": detected.isoformat()}, headers=csirt).json
    assert due(answer, "ppc_preliminary") == iso_utc(detected + dt.timedelta(days=3))


def test_a_report_no_longer_waiting_is_409(client, csirt):
    report = file_report()
    assert client.post(url(report.id), json=FIELDS, headers=csirt).status_code == 201
    again = client.post(url(report.id), json=FIELDS, headers=csirt)
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    dismissed = file_report()
    services.dismiss(None, dismissed, "誤検知")
    db.session.commit()
    assert client.post(url(dismissed.id), json=FIELDS, headers=csirt).status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 1


def test_another_bodys_report_is_404_and_a_role_that_may_not_decide_is_403(client, factory, csirt):
    report = file_report()
    assert client.post(url(file_report(org="saga").id), json=FIELDS, headers=csirt).status_code == 404
    assert client.post(url(report.id + 1000), json=FIELDS, headers=csirt).status_code == 404
    for roles in (["reporter"], ["security_manager"], ["auditor"]):
        response = client.post(url(report.id), json=FIELDS, headers=factory.headers(factory.user({"ageo": roles})))
        assert response.status_code == 403, (roles, response.json)
    assert client.post(url(report.id), json=FIELDS).status_code == 401
    db.session.refresh(report)
    assert report.state == "new" and db.session.scalar(select(func.count()).select_from(Incident)) == 0


@pytest.mark.parametrize("fields, field", [
    ({"organization": "ageo"}, "organization"),            # the report's body, never another
    ({"threat_category": "volcano"}, "threat_category"),
    ({"title": ""}, "title"),
    ({"detected_at": "2026-11-20T09:00:00"}, "detected_at"),  # no offset
    ({"unknown": 1}, "unknown"),
])
def test_bad_fields_are_422_and_open_nothing(client, csirt, fields, field):
    report = file_report()
    response = client.post(url(report.id), json=FIELDS | fields, headers=csirt)
    assert response.status_code == 422 and field in response.json["error"]["fields"], response.json
    db.session.refresh(report)
    assert report.state == "new" and db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_detection_after_the_reports_arrival_is_422_before_the_role_is_looked_at(client, factory, csirt):
    report = file_report(received_days_ago=1)
    later = (report.received_at + dt.timedelta(hours=1)).isoformat()
    response = client.post(url(report.id), json=FIELDS | {"detected_at": later}, headers=csirt)
    assert response.status_code == 422 and "detected_at" in response.json["error"]["fields"]
    officer = factory.headers(factory.user({"ageo": ["security_manager"]}))
    assert client.post(url(report.id), json=FIELDS | {"threat_category": "volcano"}, headers=officer).status_code == 422
