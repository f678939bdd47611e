"""playbooks/risk.yaml: loaded and checked at start-up with the file, the field and the problem;
the disagreement rule is data (a changed threshold changes what the review reports); the database
keeps one current assessment per row whatever the code does."""
from __future__ import annotations

import dataclasses
import shutil

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from app import load_playbooks
from app.config import REPO_ROOT
from app.core.db import db
from app.core.playbooks import playbooks
from app.core.yamlfile import YamlFileError
from app.organizations.services import organization_id_for
from app.risks.models import RiskAssessment
from app.risks.rules import Thresholds
from tests.reviews.support import create, jst
from tests.risks.support import RISKS, assess


def _playbooks_with(tmp_path, replace: tuple[str, str]):
    folder = tmp_path / "playbooks"
    shutil.copytree(REPO_ROOT / "playbooks", folder)
    path = folder / "risk.yaml"
    text = path.read_text(encoding="utf-8")
    assert replace[0] in text
    path.write_text(text.replace(*replace), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("replace", "message"), [
    (("bodies: {}", "bodies: {nowhere: default}"), "risk.yaml: bodies: unknown organization nowhere"),
    (("bodies: {}", "bodies: {ageo: own}"), "bodies: unknown scale (ageo: own)"),
    (("      - {value: 5, label: 甚大", "      - {value: 6, label: 甚大"), "scales.default.loss"),
    (("quarter: {1: 3, 2: 4, 3: 8, 4: 20}", "quarter: {1: 9, 2: 4, 3: 8, 4: 20}"), "disagreement.incidents_at_least.quarter"),
    (("  - {code: minor, label: 軽微な不備}", "  - {code: major, label: 軽微な不備}"), "finding_ratings: Value error, duplicate code"),
    (("    - {severity: high, loss_below: 3}", "    - {severity: severe, loss_below: 3}"), "severity_over_loss.1.severity"),
])
def test_a_bad_file_stops_the_start_naming_the_problem(tmp_path, replace, message):
    with pytest.raises(YamlFileError) as caught:  # every loader's problems at once, in one error
        load_playbooks(_playbooks_with(tmp_path, replace))
    assert message in str(caught.value) and "risk.yaml" in str(caught.value)


def test_the_default_scale_serves_every_body(app):
    rules = playbooks(app).risk
    assert [lv.label for lv in rules.scale_for("toride-gikai").likelihood] == ["まれ", "低い", "中程度", "高い", "非常に高い"]
    assert rules.scale_for("saga") is rules.scales["default"]


def test_the_threshold_is_data(app, client, factory, monkeypatch):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    row = assess(client, headers, subcategory=None, asset_class=None, segment=None)
    for day in (1, 2):
        create(client, headers, jst(2026, 10, day, 9, 0))
    assert client.get(f"{RISKS}/ageo", headers=headers).json["disagreements"] == []  # 2 < 3 in the fiscal year
    rules = playbooks(app).risk
    stricter = rules.disagreement.model_copy(update={"incidents_at_least": Thresholds(
        quarter=rules.disagreement.incidents_at_least.quarter, fiscal_year={1: 2, 2: 6, 3: 15, 4: 40})})
    monkeypatch.setitem(app.extensions, "playbooks",
                        dataclasses.replace(playbooks(app), risk=rules.model_copy(update={"disagreement": stricter})))
    found = client.get(f"{RISKS}/ageo", headers=headers).json["disagreements"]
    assert [(d["kind"], d["assessment"], d["observed"], d["threshold"]) for d in found] == [("likelihood", row["id"], 2, 2)]


def test_the_database_keeps_one_current_assessment_per_row(app, factory):
    user = factory.user({"ageo": ["csirt"]})
    row = {"organization_id": organization_id_for("ageo"), "threat_category": "disaster", "subcategory": "",
           "asset_class": "", "segment": "", "likelihood": 1, "loss": 5, "reason": "x", "assessed_by_id": user.id,
           "assessed_at": jst(2026, 11, 1, 9, 0)}
    db.session.execute(insert(RiskAssessment).values(row | {"version": 1}))
    with pytest.raises(IntegrityError):
        db.session.execute(insert(RiskAssessment).values(row | {"version": 2}))
    db.session.rollback()
    db.session.execute(insert(RiskAssessment).values(row | {"version": 1, "superseded_at": jst(2026, 11, 2, 9, 0)}))
    db.session.execute(insert(RiskAssessment).values(row | {"version": 2}))  # the history and one current row
    db.session.commit()
