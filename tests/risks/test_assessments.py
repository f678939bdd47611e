"""The register's assessments through the API: a new assessment of a row supersedes the current
one and the earlier ones stay as its history; a stale `supersedes` is 409; codes the body's
profile does not have are 422 naming the field; only the CSIRT and admins assess (403); another
body's register is 404."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.db import db
from app.risks.models import RiskAssessment
from tests.risks.support import RISKS, ROW, assess, register


@pytest.fixture
def csirt(factory):
    user = factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT")
    return user, factory.headers(user)


def test_a_new_assessment_supersedes_the_current_one_and_keeps_it(client, csirt):
    user, headers = csirt
    first = assess(client, headers)
    assert (first["version"], first["supersedes"], first["superseded_at"]) == (1, None, None)
    assert (first["likelihood"], first["loss"], first["score"]) == (1, 2, 2)
    assert (first["likelihood_label"], first["loss_label"]) == ("まれ", "小")
    assert first["label"] == "意図的な要因 / ウイルス攻撃・機密性2・LGWAN接続系"
    assert first["assessed_by"] == "上尾 CSIRT" and first["assessed_at"].endswith("Z")
    second = assess(client, headers, likelihood=3, loss=4, reason="標的型メールが増えている", supersedes=first["id"])
    assert (second["version"], second["supersedes"], second["score"]) == (2, first["id"], 12)
    third = assess(client, headers, likelihood=2, reason="訓練の効果が出た", supersedes=second["id"])

    body = register(client, headers)
    assert [row["id"] for row in body["rows"]] == [third["id"]]
    row = body["rows"][0]
    assert (row["version"], row["likelihood"], row["loss"], row["reason"]) == (3, 2, 2, "訓練の効果が出た")
    assert [(h["version"], h["likelihood"], h["loss"], h["reason"]) for h in row["history"]] == [
        (2, 3, 4, "標的型メールが増えている"), (1, 1, 2, "ウイルス対策ソフトとメール無害化で防げている")]
    assert all(h["superseded_at"] for h in row["history"])
    stored = db.session.scalars(select(RiskAssessment).order_by(RiskAssessment.version)).all()
    assert [(a.version, a.superseded_at is None, a.supersedes_id) for a in stored] == [
        (1, False, None), (2, False, first["id"]), (3, True, second["id"])]
    assert stored[0].superseded_at == stored[1].assessed_at


def test_rows_are_apart_by_every_dimension(client, csirt):
    _user, headers = csirt
    assess(client, headers)
    assess(client, headers, segment="internet")
    assess(client, headers, asset_class=None, subcategory=None, segment=None, threat_category="disaster", loss=5)
    rows = register(client, headers)["rows"]
    assert [(r["threat_category"], r["subcategory"], r["asset_class"], r["segment"], r["version"]) for r in rows] == [
        ("intentional", "malware", "confidentiality:2", "internet", 1),
        ("intentional", "malware", "confidentiality:2", "lgwan", 1),
        ("disaster", None, None, None, 1)]
    assert rows[2]["label"] == "災害による要因・すべての分類・すべてのネットワーク"


def test_a_stale_assessment_is_a_conflict_and_changes_nothing(client, csirt):
    _user, headers = csirt
    first = assess(client, headers)
    second = assess(client, headers, likelihood=2, supersedes=first["id"])
    stale = client.post(f"{RISKS}/ageo/assessments", headers=headers, json=ROW | {"likelihood": 5, "supersedes": first["id"]})
    assert stale.status_code == 409 and stale.json["error"]["code"] == "conflict"
    assert str(second["id"]) in stale.json["error"]["fields"]["supersedes"]
    again = client.post(f"{RISKS}/ageo/assessments", headers=headers, json=ROW | {"likelihood": 5})  # as if new
    assert again.status_code == 409
    assert [r["version"] for r in register(client, headers)["rows"]] == [2]
    assert db.session.scalar(select(RiskAssessment.likelihood).where(RiskAssessment.superseded_at.is_(None))) == 2


@pytest.mark.parametrize(("change", "field"), [
    ({"threat_category": "other"}, "threat_category"),          # 上尾市 has five categories
    ({"subcategory": "earthquake"}, "subcategory"),             # a subcategory of 災害, not of 意図的
    ({"asset_class": "importance:I"}, "asset_class"),           # 佐賀市's scheme, not 上尾市's
    ({"segment": "intranet"}, "segment"),
    ({"likelihood": 6}, "likelihood"), ({"loss": 0}, "loss"), ({"likelihood": "3"}, "likelihood"),
    ({"reason": "   "}, "reason"), ({"reason": "x\x00"}, "reason"), ({"supersedes": 0}, "supersedes"),
    ({"colour": "red"}, "colour"),
])
def test_bad_input_is_422_naming_the_field(client, csirt, change, field):
    _user, headers = csirt
    response = client.post(f"{RISKS}/ageo/assessments", headers=headers, json=ROW | change)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.json["error"]["fields"]
    assert db.session.scalar(select(RiskAssessment.id)) is None


def test_malformed_bodies_are_400_and_415(client, csirt):
    _user, headers = csirt
    assert client.post(f"{RISKS}/ageo/assessments", headers=headers, data="{", content_type="application/json").status_code == 400
    assert client.post(f"{RISKS}/ageo/assessments", headers=headers, data="x=1").status_code == 415


@pytest.mark.parametrize("role", ["security_manager", "chief_officer", "auditor", "reporter"])
def test_only_the_csirt_and_admins_assess(client, factory, role):
    headers = factory.headers(factory.user({"ageo": [role]}))
    response = client.post(f"{RISKS}/ageo/assessments", headers=headers, json=ROW)
    assert response.status_code == 403
    reading = client.get(f"{RISKS}/ageo", headers=headers)
    assert reading.status_code == (403 if role == "reporter" else 200)


def test_admin_assesses(client, factory):
    headers = factory.headers(factory.user({"ageo": ["admin"]}))
    assert assess(client, headers)["version"] == 1


def test_another_bodys_register_is_not_found(client, csirt, factory):
    _user, headers = csirt
    assess(client, headers)
    saga = factory.headers(factory.user({"saga": ["csirt"]}))
    for method, path in (("GET", f"{RISKS}/ageo"), ("POST", f"{RISKS}/ageo/assessments"), ("GET", f"{RISKS}/ageo/findings"),
                         ("GET", f"{RISKS}/nowhere")):
        response = client.open(path, method=method, headers=saga, json=ROW if method == "POST" else None)
        assert response.status_code == 404, (method, path, response.status_code)
    own = client.get(f"{RISKS}/saga", headers=saga).json
    assert own["rows"] == [] and own["organizations"] == ["saga"]
