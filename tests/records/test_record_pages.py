"""The record's pages: the form (CSRF, Japanese errors keeping the input), approval through the
page, the printable A4 page and the Markdown download."""
from __future__ import annotations

import html
import re

from flask import url_for

from app.core.db import db
from app.records.models import PostIncidentRecord
from tests.factories import csrf_token
from tests.records.helpers import at_prevent, create, get_record, saved, stored
from tests.workflow.helpers import login

CAUSE = "委託先の作業員が<b>USBメモリ</b>を持ち出した & 紛失した"


def _form(token: str, **overrides) -> dict:
    return {"csrf_token": token, "version": "", "cause": CAUSE, "impact": "住民データ 30 件",
            "measures": "- 警察へ遺失届", "prevention": "**持出し**の許可制を徹底する",
            "policy_clauses": ["8-4", "8-8"], "rows": "3",
            "rec-0-id": "", "rec-0-text": "委託契約に持出し禁止を明記する", "rec-0-clause": "8-8", "rec-0-status": "adopted",
            "rec-1-id": "", "rec-1-text": "", "rec-1-clause": "", "rec-1-status": "proposed",
            "rec-2-id": "", "rec-2-text": "   ", "rec-2-clause": "8-1", "rec-2-status": "proposed"} | overrides


def _open(client, incident_id: int):
    page = client.get(f"/incidents/{incident_id}/record")
    assert page.status_code == 200, page.get_data(as_text=True)
    return page, csrf_token(page.text)


def _record() -> PostIncidentRecord | None:
    db.session.expire_all()
    return db.session.query(PostIncidentRecord).one_or_none()


def test_form_shows_the_draft_and_saves_with_csrf(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(csirt)
    incident_id = at_prevent(client, headers)
    draft = get_record(client, headers, incident_id)
    login(client, csirt)
    page, token = _open(client, incident_id)
    text = html.unescape(page.text)
    assert "下書きです。" in text
    assert f">{draft['measures']}</textarea>" in text and draft["measures"].startswith("- ")
    assert "第8条(5) 人的セキュリティの対策" in text

    response = client.post(f"/incidents/{incident_id}/record", data=_form(token))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/incidents/{incident_id}/record"
    record = _record()
    assert record is not None and record.cause == CAUSE and record.saved_by_id == csirt.id and record.version == 1
    assert record.policy_clauses == ["8-4", "8-8"]
    assert [(r.text, r.clause, r.status) for r in record.recommendations] == [
        ("委託契約に持出し禁止を明記する", "8-8", "adopted")]  # blank rows are dropped

    after = html.unescape(client.get(response.headers["Location"]).text)
    assert "事後報告を保存しました。" in after and "第1版" in after
    assert f">{CAUSE}</textarea>" in after

    rid = record.recommendations[0].id
    second = _form(csrf_token(after), version="1", cause="第2版", **{"rec-0-id": str(rid), "rec-0-status": "done"})
    assert client.post(f"/incidents/{incident_id}/record", data=second).status_code == 302
    record = _record()
    assert record.version == 2 and record.cause == "第2版"
    assert [(r.id, r.status) for r in record.recommendations] == [(rid, "done")]


def test_without_csrf_nothing_is_saved(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    incident_id = create(client, factory.headers(csirt))["id"]
    login(client, csirt)
    data = _form("")
    del data["csrf_token"]
    assert client.post(f"/incidents/{incident_id}/record", data=data).status_code == 400
    assert client.post(f"/incidents/{incident_id}/record", data=_form("forged-token")).status_code == 400
    assert _record() is None


def test_forged_clause_shows_a_japanese_error_and_keeps_the_input(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    incident_id = create(client, factory.headers(csirt))["id"]
    login(client, csirt)
    _, token = _open(client, incident_id)
    response = client.post(f"/incidents/{incident_id}/record",
                           data=_form(token, policy_clauses=["8-5", "99-9"], **{"rec-0-clause": "6-5"}))
    assert response.status_code == 422
    text = html.unescape(response.text)
    assert "この団体の基本方針にない条項です: 99-9" in text
    assert "この団体の基本方針にない条項です: 6-5" in text
    assert "入力内容に誤りがあります。" in text
    assert f">{CAUSE}</textarea>" in text  # what was typed, not the draft
    assert ">委託契約に持出し禁止を明記する</textarea>" in text
    assert 'value="8-5" checked' in text
    assert "<b>USBメモリ</b>" not in response.text  # escaped inside the textarea
    assert _record() is None


def test_stale_version_through_the_form_is_409_and_keeps_the_input(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(csirt)
    incident_id = create(client, headers)["id"]
    login(client, csirt)
    _, token = _open(client, incident_id)
    saved(client, headers, incident_id)
    saved(client, headers, incident_id, cause="別の担当者の保存")
    response = client.post(f"/incidents/{incident_id}/record", data=_form(token, version="1"))
    assert response.status_code == 409
    text = html.unescape(response.text)
    assert "他の担当者が先に更新しました。" in text and f">{CAUSE}</textarea>" in text
    assert _record().cause == "別の担当者の保存"


def test_auditor_cannot_save_through_the_page(client, factory):
    incident_id = create(client, factory.headers(factory.user({"ageo": ["csirt"]})))["id"]
    auditor = factory.user({"ageo": ["auditor"]})
    login(client, auditor)
    page, token = _open(client, incident_id)
    assert "readonly" in page.text and ">保存</button>" not in page.text
    assert client.post(f"/incidents/{incident_id}/record", data=_form(token)).status_code == 403
    assert _record() is None


def test_approve_through_the_page_closes(client, factory):
    csirt_h = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident_id = at_prevent(client, csirt_h)
    saved(client, csirt_h, incident_id)
    chief = factory.user({"ageo": ["chief_officer"]})
    login(client, chief)
    page, token = _open(client, incident_id)
    assert "事後報告を承認して終結" in page.text
    assert client.post(f"/incidents/{incident_id}/record/approve", data={}).status_code == 400
    assert stored(incident_id).stage == "prevent"

    response = client.post(f"/incidents/{incident_id}/record/approve", data={"csrf_token": token})
    assert response.status_code == 302
    assert stored(incident_id).stage == "closed"
    assert _record().approved_by_id == chief.id
    text = html.unescape(client.get(response.headers["Location"]).text)
    assert "事後報告を承認し、インシデントを終結しました。" in text
    locked = html.unescape(client.get(f"/incidents/{incident_id}/record").text)
    assert "承認済み" in locked and "事後報告を承認して終結" not in locked and ">保存</button>" not in locked


def test_markdown_download(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(csirt)
    created = create(client, headers, title="USBメモリの紛失")
    saved(client, headers, created["id"], cause=CAUSE)
    login(client, csirt)
    page, _ = _open(client, created["id"])
    link = re.search(r'<a href="([^"]+)">Markdownでダウンロード</a>', page.text)
    assert link, "no download link on the record page"
    response = client.get(link.group(1))
    assert response.status_code == 200, link.group(1)
    assert response.mimetype == "text/markdown"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and f"{created['reference']}-record.md" in disposition
    body = response.get_data(as_text=True)
    assert body.startswith(f"# 事後報告 {created['reference']}\n")
    assert "- 団体: 上尾市" in body and "- 件名: USBメモリの紛失" in body and "- 状態: 未承認" in body
    assert f"## 原因\n\n{CAUSE}\n" in body
    assert "- 第8条(5) 人的セキュリティの対策" in body
    assert "- [採用] 標的型メール訓練を全職員に行う（第8条(5)）" in body


def test_markdown_download_at_the_documented_path(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(csirt)
    created = create(client, headers)
    saved(client, headers, created["id"])
    login(client, csirt)
    response = client.get(f"/incidents/{created['id']}/record.md")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert created["reference"] in response.get_data(as_text=True)


def test_printable_page(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(csirt)
    created = create(client, headers)
    saved(client, headers, created["id"], cause="原因は<script>alert(1)</script>**誤送信**", prevention="")
    login(client, csirt)
    response = client.get(f"/incidents/{created['id']}/record/print")
    assert response.status_code == 200
    text = response.text
    assert "<script>alert" not in text and "<strong>誤送信</strong>" in text
    for heading in ("原因", "被害・影響", "対応措置", "再発防止策", "見直しへの提言"):
        assert f"<h2>{heading}</h2>" in text, heading
    assert "上尾市" in text and created["reference"] in text and "（未記入）" in text  # prevention left empty
    assert "print.css" in text


def test_pages_of_another_body_are_404(app, client, factory):
    csirt_h = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident_id = create(client, csirt_h)["id"]
    saved(client, csirt_h, incident_id)
    with app.test_request_context():
        paths = [url_for(f"records.{name}", incident_id=incident_id) for name in ("edit", "print_view", "markdown")]
    login(client, factory.user({"saga": ["csirt", "ciso"]}))
    for path in paths:
        assert client.get(path).status_code == 404, path
    _, token = _open(client, create(client, factory.headers(factory.user({"saga": ["csirt"]})), organization="saga")["id"])
    assert client.post(paths[0], data=_form(token)).status_code == 404
    assert client.post(f"{paths[0]}/approve", data={"csrf_token": token}).status_code == 404
    assert _record().version == 1 and stored(incident_id).stage == "triage"
