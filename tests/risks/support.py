"""Helpers of the register tests: the register's API calls, and a report closed as 非該当 the way
the triage queue closes one."""
from __future__ import annotations

import datetime as dt

from app.core.db import db
from app.intake import services as intake
from app.organizations.services import organization_by_code

RISKS = "/api/v1/risks"
JST = dt.timezone(dt.timedelta(hours=9))
ROW = {"threat_category": "intentional", "subcategory": "malware", "asset_class": "confidentiality:2",
       "segment": "lgwan", "likelihood": 1, "loss": 2, "reason": "ウイルス対策ソフトとメール無害化で防げている"}


def assess(client, headers, org: str = "ageo", status: int = 201, **body) -> dict:
    response = client.post(f"{RISKS}/{org}/assessments", headers=headers, json=ROW | body)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


def register(client, headers, org: str = "ageo") -> dict:
    response = client.get(f"{RISKS}/{org}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def dismissed_report(user, org: str = "ageo", title: str = "不審なメールが届いた", occurred_at: dt.datetime | None = None,
                     reason: str = "訓練メールだった"):
    """A report of the body closed as 非該当 (intake's dismiss, as the triage page does)."""
    report = intake.submit(intake.Submission(organization=organization_by_code(org), channel="api", source="internal",
                                             title=title, body="本文", occurred_at=occurred_at)).report
    intake.dismiss(user, report, reason)
    db.session.commit()
    return report


def waiting_report(org: str = "ageo", title: str = "まだ振り分けていない報告"):
    report = intake.submit(intake.Submission(organization=organization_by_code(org), channel="api", source="internal",
                                             title=title, body="本文")).report
    db.session.commit()
    return report
