"""Helpers of the register tests: the register's API calls, and a report closed as 非該当 the way
the triage queue closes one."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from app.core.db import db
from app.intake import services as intake
from app.organizations.services import organization_by_code
from app.risks.models import RiskAssessment
from tests.reviews.support import HIGH, create, jst

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


MALWARE = {"threat_category": "intentional", "subcategory": "malware", "asset_class": None, "segment": "lgwan"}
LOSS = {"threat_category": "unintentional", "subcategory": "loss", "asset_class": "confidentiality:3B", "segment": None}


def _pin(assessment_id: int, **values) -> None:
    db.session.execute(update(RiskAssessment).where(RiskAssessment.id == assessment_id).values(**values))
    db.session.commit()


def quarter_with_disagreements(client, factory) -> dict:
    """FY2026 Q3 (October–December 2026) of 上尾市: the malware row assessed in Q2 at 2×2 and lowered
    to 1×2 in Q3, then three malware incidents in the LGWAN; the loss row assessed in Q3 at loss 1,
    then a USB stick of 3B data lost with sensitive data (high); a disaster nobody assessed; a near
    miss, an audit finding past its due date and a guideline revision."""
    user = factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT")
    headers = factory.headers(user)
    first = assess(client, headers, **MALWARE, likelihood=2, loss=2, reason="前年度は2件")
    _pin(first["id"], assessed_at=jst(2026, 9, 1, 10, 0))
    lowered = assess(client, headers, **MALWARE, likelihood=1, loss=2, reason="無害化を導入した", supersedes=first["id"])
    _pin(first["id"], superseded_at=jst(2026, 10, 2, 10, 0))
    _pin(lowered["id"], assessed_at=jst(2026, 10, 2, 10, 0))
    loss_row = assess(client, headers, **LOSS, likelihood=2, loss=1, reason="暗号化USBのみ使用")
    _pin(loss_row["id"], assessed_at=jst(2026, 10, 3, 9, 0))
    for day in (5, 12, 19):
        create(client, headers, jst(2026, 10, day, 9, 0), subcategory="malware", network_segments=["lgwan"])
    create(client, headers, jst(2026, 11, 2, 9, 0), subcategory="malware", network_segments=["internet"])  # not the row's
    lost = create(client, headers, jst(2026, 11, 5, 14, 0), threat_category="unintentional", subcategory="loss",
                  asset_classes={"confidentiality": "3B"}, **HIGH)
    assert lost["severity"] == "high"
    create(client, headers, jst(2026, 11, 20, 8, 0), threat_category="disaster", subcategory="lightning")
    report = dismissed_report(user, occurred_at=jst(2026, 11, 10, 9, 0), title="偽の請求メール")
    near = client.post(f"{RISKS}/ageo/near-misses", headers=headers,
                       json={"report": report.id, "threat_category": "intentional", "subcategory": "malware"})
    assert near.status_code == 201
    finding = client.post(f"{RISKS}/ageo/findings", headers=headers, json={
        "source": "audit", "clause": "8-6", "rating": "major", "text": "LGWAN端末の修正プログラム適用が遅れている",
        "found_on": "2026-10-15", "due_on": "2026-11-30", "threat_category": "intentional"})
    assert finding.status_code == 201
    change = client.post(f"{RISKS}/ageo/circumstances", headers=headers, json={
        "noted_on": "2026-10-01", "kind": "guideline", "text": "総務省ガイドラインの改定", "threat_category": "intentional"})
    assert change.status_code == 201
    return {"user": user, "headers": headers, "first": first, "lowered": lowered, "loss": loss_row}
