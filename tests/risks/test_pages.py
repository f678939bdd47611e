"""The register's pages: the register with its history and inputs, the forms (CSRF-checked, a
refusal shown in place in Japanese with what was typed), and who sees what."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.core.db import db
from app.risks.models import CircumstanceChange, Finding, NearMiss, RiskAssessment
from tests.factories import PASSWORD, csrf_token
from tests.reviews.support import create, jst
from tests.risks.support import dismissed_report

PAGE = "/risks/ageo"
NEW_ROW = {"threat_category": "intentional", "subcategory": "malware", "asset_class": "", "segment": "lgwan",
           "likelihood": "1", "loss": "2", "reason": "メール無害化を導入済み"}


def login(client, user, page: str = PAGE) -> str:
    """Signs in; answers the CSRF token of `page`."""
    form = client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(form.text)})
    assert response.status_code == 302, response.text
    return csrf_token(client.get(page).text)


@pytest.fixture
def csirt(client, factory):
    user = factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT")
    return user, login(client, user)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_index_goes_to_the_only_body(client, csirt):
    response = client.get("/risks")
    assert response.status_code == 302 and response.headers["Location"].endswith(PAGE)


def test_assessing_through_the_form_and_again_keeps_the_history(client, csirt):
    _user, token = csirt
    response = client.post(f"{PAGE}/assessments", data=NEW_ROW | {"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{PAGE}#assess")
    current = db.session.scalar(select(RiskAssessment))
    again = client.post(f"{PAGE}/assessments", data=NEW_ROW | {"likelihood": "4", "reason": "標的型メールが急増",
                                                               "supersedes": str(current.id), "csrf_token": token})
    assert again.status_code == 302
    html = client.get(PAGE).text
    assert "評価を記録しました。以前の評価は履歴として残ります。" in html
    assert "意図的な要因 / ウイルス攻撃・すべての分類・LGWAN接続系" in html
    assert "<td>4 高い</td><td>2 小</td><td>8</td>" in html
    assert "履歴（1件）" in html and "第1版: 1×2=2" in html and "メール無害化を導入済み" in html
    assert count(RiskAssessment) == 2


def test_a_blank_reason_shows_the_form_again_in_japanese(client, csirt):
    _user, token = csirt
    response = client.post(f"{PAGE}/assessments", data=NEW_ROW | {"reason": "  ", "csrf_token": token})
    assert response.status_code == 422
    assert '<p class="error" role="alert">入力してください。</p>' in response.text
    assert re.search(r'<option value="lgwan" selected>LGWAN接続系</option>', response.text)
    assert count(RiskAssessment) == 0


def test_a_stale_reassessment_is_refused_in_place(client, csirt):
    _user, token = csirt
    client.post(f"{PAGE}/assessments", data=NEW_ROW | {"csrf_token": token})
    response = client.post(f"{PAGE}/assessments", data=NEW_ROW | {"csrf_token": token})  # the row exists now
    assert response.status_code == 409
    assert "この行は他の人が先に評価しました" in response.text
    assert count(RiskAssessment) == 1


def test_without_the_csrf_token_nothing_is_written(client, csirt):
    response = client.post(f"{PAGE}/assessments", data=NEW_ROW)
    assert response.status_code == 400
    assert count(RiskAssessment) == 0


def test_findings_changes_and_near_misses_through_the_forms(client, csirt):
    user, token = csirt
    report = dismissed_report(user, occurred_at=jst(2026, 6, 1, 9, 0), title="迷惑メールの報告")
    assert "迷惑メールの報告" in client.get(PAGE).text
    found = client.post(f"{PAGE}/findings", data={"source": "audit", "clause": "8-5", "rating": "major",
                                                   "threat_category": "intentional", "found_on": "2026-06-01",
                                                   "due_on": "2026-06-30", "text": "研修未受講者がいる", "csrf_token": token})
    assert found.status_code == 302
    finding = db.session.scalar(select(Finding))
    resolved = client.post(f"{PAGE}/findings/{finding.id}/resolve", data={"resolved_on": "2026-07-10", "csrf_token": token})
    assert resolved.status_code == 302
    noted = client.post(f"{PAGE}/circumstances", data={"noted_on": "2026-10-01", "kind": "law", "threat_category": "",
                                                       "text": "個人情報保護法施行規則の改正", "csrf_token": token})
    assert noted.status_code == 302
    kept = client.post(f"{PAGE}/near-misses", data={"report": str(report.id), "threat_category": "intentional",
                                                    "subcategory": "", "segment": "internet", "note": "", "csrf_token": token})
    assert kept.status_code == 302
    html = client.get(PAGE).text
    assert "対応済み 2026-07-10" in html and "[法令の改正] 個人情報保護法施行規則の改正" in html
    assert f'<span class="ref">{report.receipt}</span> 迷惑メールの報告\n    — 意図的な要因 ・ インターネット接続系' in html
    db.session.expire_all()
    assert db.session.get(Finding, finding.id).resolved_on.isoformat() == "2026-07-10"
    assert (count(CircumstanceChange), count(NearMiss)) == (1, 1)


def test_a_finding_with_a_due_date_before_it_was_found_is_refused_in_japanese(client, csirt):
    _user, token = csirt
    response = client.post(f"{PAGE}/findings", data={"source": "audit", "clause": "8-5", "rating": "major",
                                                      "found_on": "2026-06-01", "due_on": "2026-05-01", "text": "x",
                                                      "csrf_token": token})
    assert response.status_code == 422
    assert "指摘の日より前にはできません。" in response.text
    bad_day = client.post(f"{PAGE}/findings", data={"source": "audit", "clause": "8-5", "rating": "major",
                                                     "found_on": "2026-13-01", "due_on": "2026-05-01", "text": "x",
                                                     "csrf_token": token})
    assert bad_day.status_code == 422 and "日付を入力してください。" in bad_day.text
    assert count(Finding) == 0


def test_a_body_without_audit_is_offered_self_inspection_only(client, factory):
    login(client, factory.user({"toride-gikai": ["csirt"]}), "/risks/toride-gikai")
    html = client.get("/risks/toride-gikai").text
    assert '<option value="self_inspection"' in html and '<option value="audit"' not in html
    assert "取手市議会の基本方針は自己点検を定めています（監査の定めはありません）。" in html
    token = csrf_token(html)
    forged = client.post("/risks/toride-gikai/findings", data={"source": "audit", "clause": "7", "rating": "minor",
                                                               "found_on": "2026-06-01", "due_on": "2026-07-01",
                                                               "text": "点検記録の様式が古い", "csrf_token": token})
    assert forged.status_code == 422 and "監査の定めがありません" in forged.text


def test_the_register_page_shows_a_disagreement(client, factory, csirt):
    user, token = csirt
    client.post(f"{PAGE}/assessments", data=NEW_ROW | {"csrf_token": token})
    headers = factory.headers(user)
    now = db.session.scalar(select(RiskAssessment.assessed_at))
    for _ in range(3):
        create(client, headers, now, subcategory="malware", network_segments=["lgwan"])
    html = client.get(PAGE).text
    assert '<tr class="disagrees">' in html and "実績と不一致" in html
    assert "期間中に3件のインシデントがありました（3件以上で見直しの目安）" in html


@pytest.mark.parametrize(("role", "status", "forms"), [
    ("security_officer", 200, False), ("auditor", 200, False), ("chief_officer", 200, False), ("admin", 200, True),
    ("reporter", 403, False)])
def test_who_sees_the_page_and_its_forms(client, factory, role, status, forms):
    login(client, factory.user({"ageo": [role]}), "/incidents/")
    response = client.get(PAGE)
    assert response.status_code == status
    assert ('action="/risks/ageo/assessments"' in response.text) is forms


def test_another_bodys_register_is_not_found(client, factory):
    token = login(client, factory.user({"saga": ["csirt"]}), "/risks/saga")
    assert client.get(PAGE).status_code == 404
    assert client.post(f"{PAGE}/assessments", data=NEW_ROW | {"csrf_token": token}).status_code == 404
    assert client.get("/risks/saga").status_code == 200


def test_the_page_in_english(client, csirt):
    _user, token = csirt
    client.post("/lang/en", data={"csrf_token": token, "next": PAGE})
    html = client.get(PAGE).text
    assert "<h1>Risk register 上尾市</h1>" in html
    assert "Assess a new row" in html and "Findings of audit and self-inspection" in html
    response = client.post(f"{PAGE}/assessments", data=NEW_ROW | {"reason": "", "csrf_token": token})
    assert response.status_code == 422 and "This field is required." in response.text


def test_what_people_typed_is_shown_as_text(client, csirt):
    user, token = csirt
    script = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    client.post(f"{PAGE}/assessments", data=NEW_ROW | {"reason": script, "csrf_token": token})
    client.post(f"{PAGE}/circumstances", data={"noted_on": "2026-10-01", "kind": "law", "text": script, "csrf_token": token})
    dismissed_report(user, title=script)
    for path in (PAGE, "/reviews/ageo/2026", "/reviews/ageo/2026?print=1"):
        html = client.get(path).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "<script>alert" not in html and "<img src=x" not in html, path
