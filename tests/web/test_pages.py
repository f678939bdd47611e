"""The pages through a real client: CSRF on every form, Japanese messages, 403/404, paging."""
from __future__ import annotations

import datetime as dt

import pytest

from app.core.db import db
from app.incidents.models import Incident
from tests.factories import PASSWORD, csrf_token

FORM = {
    "title": "USBメモリの紛失", "threat_category": "unintentional", "subcategory": "loss",
    "detected_at": "2026-11-02T14:30", "source": "internal", "description": "庁舎内で**紛失**",
    "network_segments": ["lgwan"], "impacts": ["leak"], "asset_confidentiality": "2",
    "pd_involved": "y", "pd_persons": "12",
}


def login(client, user, password=PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"email": user.email, "password": password, "csrf_token": csrf_token(page.text)})


def test_login_page_is_japanese_and_wrong_password_says_so(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    page = client.get("/login")
    assert "ログイン" in page.text and "メールアドレス" in page.text
    response = login(client, user, "wrong password here")
    assert response.status_code == 200
    assert "メールアドレスまたはパスワードが正しくありません。" in response.text


def test_form_post_without_csrf_token_is_refused(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    login(client, user)
    before = db.session.query(Incident).count()
    response = client.post("/incidents/new?organization=ageo", data=FORM)
    assert response.status_code == 400
    assert db.session.query(Incident).count() == before


def test_login_ignores_offsite_next(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    page = client.get("/login?next=//evil.example/x")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                            "next": "//evil.example/x", "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/incidents/"


def test_create_through_the_form_then_list_and_show(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    login(client, user)
    page = client.get("/incidents/new")
    assert "非意図的な要因" in page.text and "その他" not in page.text
    response = client.post("/incidents/new?organization=ageo", data=FORM | {"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302, response.text
    incident = db.session.query(Incident).one()
    assert incident.title == "USBメモリの紛失"
    assert incident.detected_at == dt.datetime(2026, 11, 2, 5, 30, tzinfo=dt.UTC)
    assert incident.pd_persons == 12 and incident.network_segments == ["lgwan"]
    assert incident.asset_classes == {"confidentiality": "2"}
    assert incident.severity == "high"  # leak of 機密性2 data
    listing = client.get("/incidents/?threat_category=unintentional&q=USB")
    assert incident.reference in listing.text
    assert client.get("/incidents/?threat_category=intentional").text.count(incident.reference) == 0
    shown = client.get(f"/incidents/{incident.id}")
    assert "<strong>紛失</strong>" in shown.text and "紛失又は置き忘れ" in shown.text


def test_form_errors_are_japanese_and_keep_input(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    login(client, user)
    page = client.get("/incidents/new?organization=ageo")
    data = FORM | {"title": "", "threat_category": "other", "csrf_token": csrf_token(page.text)}
    response = client.post("/incidents/new?organization=ageo", data=data)
    assert response.status_code == 422
    assert "入力してください。" in response.text
    assert "庁舎内で**紛失**" in response.text
    assert db.session.query(Incident).count() == 0


def test_saga_form_offers_other(client, factory):
    user = factory.user({"saga": ["csirt"]})
    login(client, user)
    page = client.get("/incidents/new")
    assert "その他" in page.text
    response = client.post("/incidents/new?organization=saga", data={
        "title": "その他の脅威", "threat_category": "other", "detected_at": "2026-11-02T10:00",
        "asset_importance": "I", "impacts": ["leak"], "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    incident = db.session.query(Incident).one()
    assert incident.reference.startswith("SAGA-") and incident.severity == "critical"


def test_edit_with_stale_version_is_a_conflict_with_japanese_message(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    incident = factory.incident(user)
    login(client, user)
    page = client.get(f"/incidents/{incident.id}/edit")
    token = csrf_token(page.text)
    data = {"title": "更新後", "threat_category": "intentional", "detected_at": "2026-11-01T09:00",
            "source": "internal", "version": "1", "csrf_token": token}
    assert client.post(f"/incidents/{incident.id}/edit", data=data).status_code == 302
    stale = client.post(f"/incidents/{incident.id}/edit", data=data | {"title": "古い版から"})
    assert stale.status_code == 409
    assert "他の担当者が先に更新しました" in stale.text
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).title == "更新後"


def test_severity_override_needs_reason_and_records_who(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    incident = factory.incident(user)
    login(client, user)
    token = csrf_token(client.get(f"/incidents/{incident.id}/edit").text)
    data = {"title": incident.title, "threat_category": "intentional", "detected_at": "2026-11-01T09:00",
            "source": "internal", "version": "1", "severity": "high", "csrf_token": token}
    response = client.post(f"/incidents/{incident.id}/edit", data=data)
    assert response.status_code == 422 and "理由が必要です" in response.text
    response = client.post(f"/incidents/{incident.id}/edit", data=data | {"severity_reason": "議会中継に影響"})
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Incident, incident.id)
    assert (saved.severity, saved.computed_severity, saved.severity_overridden_by_id) == ("high", "low", user.id)


@pytest.mark.parametrize("roles,status", [(["auditor"], 403), (["security_manager"], 403), (["reporter"], 404)])
def test_who_may_open_the_edit_page(client, factory, roles, status):
    owner = factory.user({"ageo": ["csirt"]})
    incident = factory.incident(owner)
    login(client, factory.user({"ageo": roles}))
    assert client.get(f"/incidents/{incident.id}/edit").status_code == status


def test_foreign_incident_page_is_404(client, factory):
    saga_user = factory.user({"saga": ["csirt"]})
    incident = factory.incident(saga_user, organization="saga")
    login(client, factory.user({"ageo": ["ciso"]}))
    assert client.get(f"/incidents/{incident.id}").status_code == 404
    assert client.get("/incidents/?organization=saga").status_code == 200
    assert incident.reference not in client.get("/incidents/").text


def test_list_pages_server_side(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    for n in range(3):
        factory.incident(user, title=f"件名{n}")
    login(client, user)
    first = client.get("/incidents/?per_page=2")
    second = client.get("/incidents/?per_page=2&page=2")
    assert "1 / 2" in first.text and first.text.count("<tr>") == 3  # header + 2 rows
    assert second.text.count("<tr>") == 2


def test_unauthenticated_pages_redirect_to_login(client):
    response = client.get("/incidents/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_language_switch_to_english(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    login(client, user)
    token = csrf_token(client.get("/incidents/").text)
    client.post("/lang/en", data={"csrf_token": token, "next": "/incidents/"})
    page = client.get("/incidents/")
    assert 'lang="en"' in page.text
    assert "インシデント一覧" not in page.text
