"""Two people edit the same incident: the one who saves second sees the other's change beside
their own input (kept on the form), and can then save deliberately (issue 8, "no data lost")."""
from __future__ import annotations

import re

from app.core.db import db
from app.incidents.models import Incident
from tests.factories import csrf_token
from tests.web.test_pages import login


def form_data(page: str, **fields) -> dict:
    version = re.search(r'name="version"[^>]*value="(\d+)"', page) or re.search(r'value="(\d+)"[^>]*name="version"', page)
    return {"title": "標的型メール", "threat_category": "intentional", "detected_at": "2026-11-01T09:00",
            "source": "internal", "description": "", "version": version.group(1), "csrf_token": csrf_token(page)} | fields


def test_the_second_save_shows_the_first_and_keeps_the_input(app, factory):
    sato, kato = factory.user({"ageo": ["csirt"]}, name="佐藤 花子"), factory.user({"ageo": ["csirt"]}, name="加藤 一郎")
    incident = factory.incident(sato, title="標的型メール")
    first, second = app.test_client(), app.test_client()
    login(first, sato)
    login(second, kato)
    page_sato = first.get(f"/incidents/{incident.id}/edit").text
    page_kato = second.get(f"/incidents/{incident.id}/edit").text
    assert first.post(f"/incidents/{incident.id}/edit", data=form_data(page_sato, title="標的型メール（総務課）",
                                                                      source="external")).status_code == 302
    mine = "端末を隔離し、LANケーブルを抜いた。"
    lost = second.post(f"/incidents/{incident.id}/edit", data=form_data(page_kato, description=mine))
    assert lost.status_code == 409
    html = lost.text
    assert "他の担当者による変更" in html and "佐藤 花子" in html
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]*)</td><td>([^<]*)</td></tr>', html)
    assert ("件名", "標的型メール（総務課）", "標的型メール") in rows
    assert ("報告元", "external", "internal") in rows
    assert ("内容", "—", mine) in rows
    assert mine in html.split('id="description"', 1)[1].split("</textarea>")[0]  # the typed text is still in the form
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).description == ""
    # saving again from the conflict page (its version is now current) stores the merge the person chose
    merged = form_data(html, title="標的型メール（総務課）", source="external", description=mine)
    assert second.post(f"/incidents/{incident.id}/edit", data=merged).status_code == 302
    db.session.expire_all()
    stored = db.session.get(Incident, incident.id)
    assert (stored.title, stored.source, stored.description) == ("標的型メール（総務課）", "external", mine)
