"""The deadlines on the pages: the incident's panel with Japanese time left, filing and adding a
notice through CSRF-checked forms, and the /deadlines dashboard."""
from __future__ import annotations

import datetime as dt
import html
import re

from app.core.timeutil import now_utc
from tests.deadlines.support import JST, by_kind, create, deadline_row, pd
from tests.factories import csrf_token
from tests.workflow.helpers import login, page_token


def _overdue_incident(client, factory, roles=("csirt",)):
    """Detected four days ago with 要配慮個人情報: the 速報 is a day overdue, the 確報 is not."""
    user = factory.user({"ageo": list(roles)})
    headers = factory.headers(user)
    detected = (now_utc() - dt.timedelta(days=4)).replace(microsecond=0)
    incident = create(client, headers, detected_at=detected.isoformat(), **pd(sensitive=True))
    return user, incident


def _page(client, incident_id: int) -> str:
    response = client.get(f"/incidents/{incident_id}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return html.unescape(response.text)


def _row(text: str, deadline_id: int) -> str:
    match = re.search(rf'<tr id="deadline-{deadline_id}"[^>]*>(.*?)</tr>', text, re.S)
    assert match, f"no row for deadline {deadline_id}"
    return match.group(1)


def test_incident_page_shows_the_deadlines_with_time_left_in_japanese(client, factory):
    user, incident = _overdue_incident(client, factory)
    login(client, user)
    text = _page(client, incident["id"])
    assert "期限（報告・通知）" in text
    deadlines = by_kind(incident)
    prelim = _row(text, deadlines["ppc_preliminary"]["id"])
    assert "個人情報保護委員会への漏えい等報告（速報）" in prelim and "超過 1日" in prelim
    assert 'class="error"' in prelim and "法令" in prelim
    final = _row(text, deadlines["ppc_final"]["id"])
    assert "残り 25日23時間" in final and "超過" not in final
    internal = _row(text, by_kind(incident, "internal_deadlines")["ciso_report"]["id"])
    assert "庁内" in internal and "超過 3日" in internal
    # a filing form per open deadline, each with the CSRF token
    section = text[text.index('id="deadlines"'):]
    section = section[:section.index("</section>")]
    forms = re.findall(rf'<form method="post" action="/incidents/{incident["id"]}/deadlines/(\d+)/met"', section)
    assert sorted(map(int, forms)) == sorted(d["id"] for d in incident["deadlines"] + incident["internal_deadlines"])
    assert section.count('name="csrf_token"') == len(forms) + 1   # and the notice form
    assert "完了として記録" in text and "報告・通知を追加" in text


def test_filing_through_the_page_records_it(client, factory):
    user, incident = _overdue_incident(client, factory)
    prelim = by_kind(incident)["ppc_preliminary"]
    login(client, user)
    token = page_token(client, incident["id"])
    met_local = (now_utc() - dt.timedelta(hours=1)).astimezone(JST).replace(second=0, microsecond=0)
    response = client.post(f"/incidents/{incident['id']}/deadlines/{prelim['id']}/met",
                           data={"csrf_token": token, "reference": "PPC-受付-77",
                                 "met_at": met_local.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/incidents/{incident['id']}#deadlines"
    text = _page(client, incident["id"])
    assert "期限を完了にしました。" in text
    row = _row(text, prelim["id"])
    assert "完了" in row and "受付番号等: PPC-受付-77" in row and "（期限超過）" in row and user.name in row
    assert "完了として記録" not in row
    stored = deadline_row(incident["id"], "ppc_preliminary")
    assert stored.met_by_id == user.id and stored.filed_reference == "PPC-受付-77"
    assert stored.met_at == met_local.astimezone(dt.UTC)
    # filing it twice through the page: refused with the message, the first record kept
    again = client.post(f"/incidents/{incident['id']}/deadlines/{prelim['id']}/met",
                        data={"csrf_token": token, "reference": "other"}, follow_redirects=True)
    assert "この期限はすでに完了しています。" in html.unescape(again.text)
    assert deadline_row(incident["id"], "ppc_preliminary").filed_reference == "PPC-受付-77"


def test_without_a_csrf_token_nothing_is_filed_or_added(client, factory):
    user, incident = _overdue_incident(client, factory)
    prelim = by_kind(incident)["ppc_preliminary"]
    login(client, user)
    response = client.post(f"/incidents/{incident['id']}/deadlines/{prelim['id']}/met", data={"reference": "X"})
    assert response.status_code == 400
    wrong = client.post(f"/incidents/{incident['id']}/deadlines/{prelim['id']}/met",
                        data={"reference": "X", "csrf_token": "forged"})
    assert wrong.status_code == 400
    notice = client.post(f"/incidents/{incident['id']}/deadlines", data={"kind": "mic_report"})
    assert notice.status_code == 400
    stored = deadline_row(incident["id"], "ppc_preliminary")
    assert stored.met_at is None and stored.filed_reference is None
    assert deadline_row(incident["id"], "mic_report") is None


def test_adding_a_notice_through_the_page(client, factory):
    user, incident = _overdue_incident(client, factory)
    login(client, user)
    token = page_token(client, incident["id"])
    response = client.post(f"/incidents/{incident['id']}/deadlines",
                           data={"csrf_token": token, "kind": "persons_notice", "due_at": "2026-12-01T17:00",
                                 "note": "郵送で通知"})
    assert response.status_code == 302
    text = _page(client, incident["id"])
    assert "報告・通知を追加しました。" in text
    stored = deadline_row(incident["id"], "persons_notice")
    assert stored.due_at == dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC) and stored.note == "郵送で通知"
    assert stored.category == "notice" and stored.created_at is not None
    assert "本人への通知" in _row(text, stored.id) and "2026-12-01 17:00" in _row(text, stored.id)
    bad = client.post(f"/incidents/{incident['id']}/deadlines", data={"csrf_token": token, "kind": "nope"},
                      follow_redirects=True)
    assert "この団体で追加できる報告・通知の種類ではありません。" in html.unescape(bad.text)
    assert deadline_row(incident["id"], "nope") is None


def test_auditor_sees_the_panel_without_forms_and_may_not_file(client, factory):
    _user, incident = _overdue_incident(client, factory)
    auditor = factory.user({"ageo": ["auditor"]})
    login(client, auditor)
    text = _page(client, incident["id"])
    assert "期限（報告・通知）" in text and "超過 1日" in text
    assert "完了として記録" not in text and "報告・通知を追加" not in text
    prelim = by_kind(incident)["ppc_preliminary"]
    response = client.post(f"/incidents/{incident['id']}/deadlines/{prelim['id']}/met",
                           data={"csrf_token": csrf_token(client.get(f"/incidents/{incident['id']}").text)})
    assert response.status_code == 403
    assert deadline_row(incident["id"], "ppc_preliminary").met_at is None


def test_dashboard_lists_my_open_deadlines_soonest_first(client, factory):
    user, incident = _overdue_incident(client, factory)
    other = create(client, factory.headers(factory.user({"saga": ["csirt"]})), organization="saga",
                   title="佐賀市の事案", **pd(persons=150))
    assert client.get("/deadlines").status_code == 302   # log in first
    login(client, user)
    response = client.get("/deadlines")
    assert response.status_code == 200
    text = html.unescape(response.text)
    assert "期限一覧（未完了・期日の近い順）" in text and "6 件" in text
    assert incident["reference"] in text and other["reference"] not in text and "佐賀市の事案" not in text
    when = re.findall(r'<td class="when[^"]*">([^<]+)</td>', text)
    assert len(when) == 6 and when == sorted(when)
    assert "超過 3日23時間" in text and "超過 1日" in text and "残り 25日23時間" in text
    assert text.index("情報セキュリティ管理者・統一的な窓口への報告") < text.index("個人情報保護委員会への漏えい等報告（速報）") \
        < text.index("個人情報保護委員会への漏えい等報告（確報）")
    assert f'href="/incidents/{incident["id"]}#deadline-' in text


def test_dashboard_with_nothing_open(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    login(client, user)
    text = html.unescape(client.get("/deadlines").text)
    assert "未完了の期限はありません。" in text and "0 件" in text


def test_another_bodys_incident_page_and_forms_are_not_found(client, factory):
    _user, incident = _overdue_incident(client, factory)
    stranger = factory.user({"saga": ["csirt"]})
    login(client, stranger)
    assert client.get(f"/incidents/{incident['id']}").status_code == 404
    token = csrf_token(client.get("/deadlines").text)
    prelim = by_kind(incident)["ppc_preliminary"]
    assert client.post(f"/incidents/{incident['id']}/deadlines/{prelim['id']}/met",
                       data={"csrf_token": token}).status_code == 404
    assert client.post(f"/incidents/{incident['id']}/deadlines",
                       data={"csrf_token": token, "kind": "mic_report"}).status_code == 404
    assert deadline_row(incident["id"], "ppc_preliminary").met_at is None
    assert deadline_row(incident["id"], "mic_report") is None


def test_a_future_filing_time_on_the_page_is_refused_with_a_message(client, factory):
    user, incident = _overdue_incident(client, factory)
    prelim = by_kind(incident)["ppc_preliminary"]
    login(client, user)
    token = page_token(client, incident["id"])
    future = (now_utc() + dt.timedelta(days=1)).astimezone(JST).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/incidents/{incident['id']}/deadlines/{prelim['id']}/met",
                           data={"csrf_token": token, "met_at": future}, follow_redirects=True)
    assert "未来の日時は指定できません。" in html.unescape(response.text)
    assert deadline_row(incident["id"], "ppc_preliminary").met_at is None
