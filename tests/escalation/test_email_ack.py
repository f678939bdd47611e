"""E-mail content (Japanese subject with the reference, no description for critical personal-data
incidents) and the one-click acknowledgement link: works once, expires, cannot be forged."""
from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.escalation.messages import ACK_SALT, ack_serializer
from app.jobs.ticker import tick
from tests.escalation.support import (
    CRITICAL,
    HIGH,
    MEDIUM,
    ack_path,
    escalation,
    headers,
    incident_row,
    load_roster,
    notifications,
    open_incident,
    person,
    started,
    timeline,
    user,
)
from tests.factories import csrf_token

CSIRT, MANAGER = "csirt@ageo.example.jp", "manager@ageo.example.jp"
SECRET_TEXT = "住民票の写し35件を誤って別の事業者へ送付した。氏名・住所・生年月日を含む。"


@pytest.fixture
def officers(app, tmp_path):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"]), person(MANAGER, "田中 一郎", ["security_manager"]),
                           person("chief@ageo.example.jp", "伊藤 次郎", ["chief_officer"])])


def _first_mails(client, factory, smtp_server, facts, **fields):
    incident = open_incident(client, headers(factory, CSIRT), facts, description=SECRET_TEXT, **fields)
    tick(started(incident["id"]))
    mails = [m for m in smtp_server.messages if incident["reference"] in m["Subject"]]
    assert mails, "no mail for the incident"
    return incident, mails


@pytest.mark.parametrize(("facts", "severity", "withheld"), [
    (CRITICAL | {"personal_data": {"involved": True, "persons": 35}}, "critical", True),
    ({"personal_data": {"my_number": True}}, "critical", True),
    (CRITICAL, "critical", False),                 # critical, but no personal data
    (HIGH, "high", False),                         # personal data, but not critical
    (MEDIUM, "medium", False),
])
def test_mail_content(app, client, factory, officers, smtp_server, facts, severity, withheld):
    incident, mails = _first_mails(client, factory, smtp_server, facts)
    assert incident["severity"] == severity
    mail = mails[0]
    subject = mail["Subject"]
    assert f"[{incident['reference']}]" in subject and "インシデント通知" in subject and incident["title"] in subject
    assert subject.startswith("【緊急】") is (severity == "critical")
    body = mail.get_content()
    assert f"番号: {incident['reference']}" in body and "様" in body and "第1段階" in body
    assert "/ack/" in body and f"/incidents/{incident['id']}" in body
    if withheld:
        assert SECRET_TEXT not in body and "住民票" not in body
        assert "内容はメールに記載していません" in body
    else:
        assert SECRET_TEXT in body and "内容はメールに記載していません" not in body
    assert mail["X-Event-Id"] in {n.event_id for n in notifications(incident["id"], channel="email")}


def _pages(client, path):
    page = client.get(path)
    return page, csrf_token(page.text) if 'name="csrf_token"' in page.text else None


def test_ack_link_get_only_asks_post_acknowledges_once_then_shows_who(app, client, factory, officers, smtp_server):
    incident, mails = _first_mails(client, factory, smtp_server, CRITICAL)
    to_csirt = ack_path(next(m for m in mails if m["To"] == CSIRT))
    to_manager = ack_path(next(m for m in mails if m["To"] == MANAGER))

    page, token = _pages(client, to_csirt)
    assert page.status_code == 200 and "受領を登録する" in page.text and "佐藤 花子" in page.text and token
    page_again = client.get(to_csirt)  # a mail scanner opening the link twice acknowledges nothing
    assert page_again.status_code == 200
    assert escalation(incident["id"]).state == "active" and incident_row(incident["id"]).acknowledged_at is None

    done = client.post(to_csirt, data={"csrf_token": token})
    assert done.status_code == 200 and "佐藤 花子 様が" in done.text and "受領済み" in done.text
    state = escalation(incident["id"])
    assert state.state == "acknowledged" and state.acknowledged_by_id == user(CSIRT).id
    first_at = incident_row(incident["id"]).acknowledged_at
    assert first_at is not None

    # the second recipient's link, and the same link again: they show who acknowledged, change nothing
    shown = client.get(to_manager)
    assert shown.status_code == 200 and "佐藤 花子 様が" in shown.text and "受領を登録する" not in shown.text
    for path in (to_manager, to_csirt):
        again = client.post(path, data={"csrf_token": token})
        assert again.status_code == 200 and "佐藤 花子 様が" in again.text and "田中 一郎 様が" not in again.text
    assert incident_row(incident["id"]).acknowledged_at == first_at
    assert escalation(incident["id"]).acknowledged_by_id == user(CSIRT).id
    acks = timeline(incident["id"], "acknowledged")
    assert len(acks) == 1 and acks[0].data["via"] == "メールのリンク" and acks[0].actor_id == user(CSIRT).id


def test_ack_link_post_without_csrf_token_acknowledges_nothing(app, client, factory, officers, smtp_server):
    incident, mails = _first_mails(client, factory, smtp_server, CRITICAL)
    response = client.post(ack_path(mails[0]), data={})
    assert response.status_code == 400
    assert escalation(incident["id"]).state == "active"


@pytest.mark.parametrize("max_age", [-1, 0])
def test_ack_link_expires(app, client, factory, officers, smtp_server, monkeypatch, max_age):
    incident, mails = _first_mails(client, factory, smtp_server, CRITICAL)
    path = ack_path(mails[0])
    _, token = _pages(client, path)  # a CSRF token from the page while the link was fresh
    monkeypatch.setitem(app.config, "ACK_LINK_MAX_AGE", max_age)
    time.sleep(1.1)  # with max_age 0, any link at least one second old has expired
    page = client.get(path)
    assert page.status_code == 410 and "有効期限が切れています" in page.text
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 410
    assert escalation(incident["id"]).state == "active" and incident_row(incident["id"]).acknowledged_at is None


class _EightDaysAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 8 * 24 * 3600


def test_ack_link_signed_eight_days_ago_has_expired(app, client, factory, officers, smtp_server):
    incident, _ = _first_mails(client, factory, smtp_server, CRITICAL)
    [row] = [n for n in notifications(incident["id"], channel="email") if n.recipient == CSIRT]
    old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=ACK_SALT, signer=_EightDaysAgo)
    assert app.config["ACK_LINK_MAX_AGE"] == 7 * 24 * 3600
    response = client.get(f"/ack/{old.dumps({'n': row.id, 'u': row.recipient_id})}")
    assert response.status_code == 410 and "有効期限が切れています" in response.text


def test_forged_or_tampered_ack_links_are_rejected(app, client, factory, officers, smtp_server):
    incident, mails = _first_mails(client, factory, smtp_server, CRITICAL)
    genuine = ack_path(next(m for m in mails if m["To"] == CSIRT)).removeprefix("/ack/")
    _, token = _pages(client, f"/ack/{genuine}")
    [row] = [n for n in notifications(incident["id"], channel="email") if n.recipient == CSIRT]

    payload, rest = genuine.split(".", 1)
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    other_key = URLSafeTimedSerializer("not the server's key", salt=ACK_SALT).dumps({"n": row.id, "u": row.recipient_id})
    wrong_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="other").dumps({"n": row.id, "u": row.recipient_id})
    other_person = ack_serializer().dumps({"n": row.id, "u": user(MANAGER).id})
    unknown = ack_serializer().dumps({"n": row.id + 10_000, "u": row.recipient_id})
    forged = [f"{flipped}.{rest}", genuine[:-2] + ("xx" if not genuine.endswith("xx") else "yy"),
              other_key, wrong_salt, other_person, unknown, "not-a-token"]
    for bad in forged:
        page = client.get(f"/ack/{bad}")
        assert page.status_code == 400 and "このリンクは無効です" in page.text, bad
        assert client.post(f"/ack/{bad}", data={"csrf_token": token}).status_code == 400, bad
    assert escalation(incident["id"]).state == "active" and incident_row(incident["id"]).acknowledged_at is None
    assert timeline(incident["id"], "acknowledged") == []


@pytest.mark.parametrize("now", [
    [person(MANAGER, "田中 一郎", ["security_manager"])],                                 # dropped from the roster
    [person(CSIRT, "佐藤 花子", ["auditor"]), person(MANAGER, "田中 一郎", ["security_manager"])],  # may no longer acknowledge
])
def test_ack_link_of_someone_who_may_no_longer_acknowledge_is_refused(app, client, factory, officers, smtp_server,
                                                                      tmp_path, now):
    """Issue 15, item 7: the link is checked against the recipient as they are when it is used."""
    incident, mails = _first_mails(client, factory, smtp_server, CRITICAL)
    path = ack_path(next(m for m in mails if m["To"] == CSIRT))
    _, token = _pages(client, path)
    load_roster(tmp_path, now + [person("chief@ageo.example.jp", "伊藤 次郎", ["chief_officer"])])
    page = client.get(path)
    assert page.status_code == 403 and "現在このインシデントの受領を登録できません" in page.text
    assert incident["title"] not in page.text and "受領を登録する</button>" not in page.text
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 403
    assert escalation(incident["id"]).state == "active" and incident_row(incident["id"]).acknowledged_at is None
    assert timeline(incident["id"], "acknowledged") == []


def test_the_ack_page_shows_enough_to_act_on(app, client, factory, officers, smtp_server):
    """Severity, category, body, summary, who was paged, what to do now; the incident's link after."""
    incident, mails = _first_mails(client, factory, smtp_server, HIGH)
    path = ack_path(mails[0])
    page = client.get(path).text
    assert "高" in page and "意図的な要因" in page
    assert "上尾市" in page and SECRET_TEXT[:20] in page
    assert "連絡した相手" in page and "佐藤 花子" in page and "田中 一郎" in page
    assert "伊藤 次郎" not in page  # level 2 has not fired
    assert "いま対応すること" in page
    assert f"/incidents/{incident['id']}" not in page  # the link comes after acknowledging
    done = client.post(path, data={"csrf_token": csrf_token(page)}).text
    assert "様が" in done and f'href="/incidents/{incident["id"]}"' in done


def test_the_ack_page_withholds_what_the_mail_withholds(app, client, factory, officers, smtp_server):
    _incident, mails = _first_mails(client, factory, smtp_server,
                                    CRITICAL | {"personal_data": {"involved": True, "persons": 35}})
    page = client.get(ack_path(mails[0])).text
    assert SECRET_TEXT[:10] not in page and "内容はここに表示していません" in page
