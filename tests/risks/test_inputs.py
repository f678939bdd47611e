"""The register's inputs besides the incidents: near misses (a report closed as 非該当 kept as
ヒヤリハット), findings of 監査 and 自己点検 (取手市議会's policy has self-inspection only), and
dated changes of circumstance; each beside the rows of its threat in GET /api/v1/risks/{org}."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.core.db import db
from app.risks.models import Finding, NearMiss
from tests.factories import PASSWORD, csrf_token
from tests.risks.support import JST, RISKS, assess, dismissed_report, register, waiting_report

FINDING = {"source": "audit", "clause": "8-5", "rating": "minor", "text": "標的型メール訓練が年1回に留まる",
           "found_on": "2026-06-10", "due_on": "2026-09-30", "threat_category": "intentional"}


@pytest.fixture
def csirt(factory):
    user = factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT")
    return user, factory.headers(user)


def test_a_dismissed_report_is_kept_as_a_near_miss_and_counted_beside_its_rows(client, csirt):
    user, headers = csirt
    report = dismissed_report(user, occurred_at=dt.datetime(2026, 5, 20, 10, 0, tzinfo=JST))
    malware = assess(client, headers)
    assess(client, headers, subcategory="dos", segment=None, asset_class=None)
    kept = client.post(f"{RISKS}/ageo/near-misses", headers=headers, json={
        "report": report.id, "threat_category": "intentional", "subcategory": "malware", "segment": "lgwan",
        "note": "添付を開く前に気づいた"})
    assert kept.status_code == 201, kept.text
    assert (kept.json["receipt"], kept.json["title"], kept.json["occurred_at"]) == \
        (report.receipt, "不審なメールが届いた", "2026-05-20T01:00:00Z")
    rows = {r["id"]: r for r in register(client, headers)["rows"]}
    assert rows[malware["id"]]["inputs"]["near_misses"] == 1
    assert [r["inputs"]["near_misses"] for r in rows.values() if r["id"] != malware["id"]] == [0]  # dos ≠ malware
    again = client.post(f"{RISKS}/ageo/near-misses", headers=headers, json={
        "report": report.id, "threat_category": "intentional", "subcategory": "dos"})
    assert again.status_code == 200 and again.json["id"] == kept.json["id"] and again.json["subcategory"] == "dos"
    assert db.session.scalar(select(NearMiss.subcategory)) == "dos"
    listed = client.get(f"{RISKS}/ageo/near-misses", headers=headers).json
    assert (listed["total"], [n["report"] for n in listed["items"]]) == (1, [report.id])


def test_only_a_dismissed_report_of_the_body_can_be_a_near_miss(client, csirt, factory):
    user, headers = csirt
    waiting = waiting_report()
    refused = client.post(f"{RISKS}/ageo/near-misses", headers=headers,
                          json={"report": waiting.id, "threat_category": "intentional"})
    assert refused.status_code == 409
    saga_user = factory.user({"saga": ["csirt"]})
    foreign = dismissed_report(saga_user, org="saga")
    other = client.post(f"{RISKS}/ageo/near-misses", headers=headers, json={"report": foreign.id, "threat_category": "intentional"})
    assert other.status_code == 422 and "report" in other.json["error"]["fields"]
    bad = client.post(f"{RISKS}/ageo/near-misses", headers=headers, json={
        "report": dismissed_report(user).id, "threat_category": "intentional", "subcategory": "earthquake", "segment": "x"})
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"subcategory", "segment"}
    assert db.session.scalar(select(NearMiss.id)) is None


def test_findings_are_entered_resolved_and_shown_beside_their_category(client, csirt):
    _user, headers = csirt
    row = assess(client, headers)
    created = client.post(f"{RISKS}/ageo/findings", headers=headers, json=FINDING)
    assert created.status_code == 201, created.text
    finding = created.json
    assert (finding["clause_label"], finding["rating_label"], finding["resolved_on"]) == \
        ("第8条(5) 人的セキュリティの対策", "軽微な不備", None)
    assert finding["overdue"] is True  # due 2026-09-30, still open today
    body = register(client, headers)
    assert body["rows"][0]["inputs"]["open_findings"] == 1
    assert [r["kind"] for r in body["recommendations"]] == ["finding_overdue"]
    assert "第8条(5) 人的セキュリティの対策" in body["recommendations"][0]["text"]
    resolved = client.post(f"{RISKS}/ageo/findings/{finding['id']}/resolve", headers=headers, json={"resolved_on": "2026-10-02"})
    assert resolved.status_code == 200 and resolved.json["resolved_on"] == "2026-10-02" and not resolved.json["overdue"]
    assert client.post(f"{RISKS}/ageo/findings/{finding['id']}/resolve", headers=headers,
                       json={"resolved_on": "2026-10-03"}).status_code == 409
    assert client.post(f"{RISKS}/ageo/findings/{finding['id']}/resolve", headers=headers, json={}).status_code == 422
    assert register(client, headers)["rows"][0]["id"] == row["id"]
    assert register(client, headers)["rows"][0]["inputs"]["open_findings"] == 0
    listed = client.get(f"{RISKS}/ageo/findings", headers=headers, query_string={"per_page": 1}).json
    assert (listed["total"], listed["per_page"], listed["items"][0]["id"]) == (1, 1, finding["id"])


def test_a_body_without_audit_enters_self_inspection_only(client, factory):
    headers = factory.headers(factory.user({"toride-gikai": ["csirt"]}))
    finding = FINDING | {"clause": "7", "threat_category": None}
    audit = client.post(f"{RISKS}/toride-gikai/findings", headers=headers, json=finding)
    assert audit.status_code == 422
    assert "監査の定めがありません" in audit.json["error"]["fields"]["source"]
    inspection = client.post(f"{RISKS}/toride-gikai/findings", headers=headers, json=finding | {"source": "self_inspection"})
    assert inspection.status_code == 201 and inspection.json["clause_label"] == "7 自己点検の実施"
    assert db.session.scalars(select(Finding.source)).all() == ["self_inspection"]


@pytest.mark.parametrize(("change", "field"), [
    ({"clause": "99"}, "clause"), ({"rating": "fatal"}, "rating"), ({"due_on": "2026-06-01"}, "due_on"),
    ({"found_on": "2999-01-01", "due_on": "2999-02-01"}, "found_on"), ({"found_on": "2026-02-30"}, "found_on"),
    ({"source": "inspection"}, "source"), ({"threat_category": "other"}, "threat_category"), ({"text": ""}, "text"),
])
def test_bad_findings_are_422_naming_the_field(client, csirt, change, field):
    _user, headers = csirt
    response = client.post(f"{RISKS}/ageo/findings", headers=headers, json=FINDING | change)
    assert response.status_code == 422 and field in response.json["error"]["fields"], response.text
    assert db.session.scalar(select(Finding.id)) is None


def test_changes_of_circumstance_are_dated_notes_beside_their_category(client, csirt):
    _user, headers = csirt
    assess(client, headers)
    law = client.post(f"{RISKS}/ageo/circumstances", headers=headers, json={
        "noted_on": "2026-10-01", "kind": "guideline", "text": "ガイドライン改定（クラウド利用の要件）",
        "threat_category": "intentional"})
    assert law.status_code == 201 and law.json["kind_label"] == "ガイドラインの改定"
    general = client.post(f"{RISKS}/ageo/circumstances", headers=headers, json={
        "noted_on": "2026-11-01", "kind": "system", "text": "新しい財務会計システムを導入"})
    assert general.status_code == 201
    body = register(client, headers)
    assert body["rows"][0]["inputs"]["changes"] == 1  # the general note is not of this threat
    assert [c["text"] for c in body["circumstances"]] == ["ガイドライン改定（クラウド利用の要件）", "新しい財務会計システムを導入"]
    assert [r["kind"] for r in body["recommendations"]] == ["circumstance", "circumstance"]
    listed = client.get(f"{RISKS}/ageo/circumstances", headers=headers).json
    assert [c["noted_on"] for c in listed["items"]] == ["2026-11-01", "2026-10-01"]
    bad = client.post(f"{RISKS}/ageo/circumstances", headers=headers, json={"noted_on": "2026-11-01", "kind": "rumour", "text": "x"})
    assert bad.status_code == 422 and "kind" in bad.json["error"]["fields"]


def test_an_officer_reads_the_inputs_but_enters_none(client, factory):
    headers = factory.headers(factory.user({"ageo": ["security_officer"]}))
    assert client.get(f"{RISKS}/ageo/findings", headers=headers).status_code == 200
    assert client.post(f"{RISKS}/ageo/findings", headers=headers, json=FINDING).status_code == 403
    assert client.post(f"{RISKS}/ageo/circumstances", headers=headers,
                       json={"noted_on": "2026-11-01", "kind": "law", "text": "個人情報保護法の改正"}).status_code == 403
    assert client.get(f"{RISKS}/ageo/findings", headers=headers, query_string={"per_page": 500}).status_code == 422


def test_the_report_page_offers_to_keep_a_dismissed_report(client, csirt):
    user, _headers = csirt
    report = dismissed_report(user)
    form = client.get("/login")
    client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(form.text)})
    assert 'href="/risks/ageo#near-misses">ヒヤリハットとしてリスク登録簿に記録する</a>' in client.get(f"/triage/reports/{report.id}").text
