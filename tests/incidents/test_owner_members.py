"""Owner (主担当) and members (担当メンバー) of an incident (issue 18 §1, API.md "Added in the second
round"): only people of the body who may work incidents, refused with 422 naming the field; on the
timeline; the list filters by `owner` (an e-mail or `me`); the people made owner or member are told."""
from __future__ import annotations

from sqlalchemy import select

from app.core.db import db
from app.incidents.models import TimelineEvent
from app.notifications.models import Notification
from tests.workflow.helpers import API, assert_error, create


def _people(factory):
    csirt = factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT")
    officer = factory.user({"ageo": ["security_manager"]}, name="上尾 管理者")
    chief = factory.user({"ageo": ["chief_officer"]}, name="上尾 統括")
    refused = {"auditor": factory.user({"ageo": ["auditor"]}), "reporter": factory.user({"ageo": ["reporter"]}),
               "another body": factory.user({"saga": ["csirt"]})}
    return csirt, officer, chief, refused


def _patch(client, headers, incident_id: int, **fields):
    version = client.get(f"{API}/{incident_id}", headers=headers).json["version"]
    return client.patch(f"{API}/{incident_id}", headers=headers, json={"version": version} | fields)


def test_owner_and_members_are_set_shown_and_on_the_timeline(client, factory):
    csirt, officer, chief, _refused = _people(factory)
    h = factory.headers(csirt)
    incident = create(client, h, owner=officer.email.upper(), members=[chief.email, csirt.email])
    assert incident["owner"] == officer.email
    assert incident["members"] == [csirt.email, chief.email]  # by name: 上尾 CSIRT, 上尾 統括
    changed = _patch(client, h, incident["id"], owner=chief.email)
    assert changed.status_code == 200, changed.json
    # the new owner leaves the members: a person is owner or member, not both
    assert changed.json["owner"] == chief.email and changed.json["members"] == [csirt.email]
    cleared = _patch(client, h, incident["id"], owner=None, members=[])
    assert cleared.json["owner"] is None and cleared.json["members"] == []
    db.session.expire_all()
    kinds = [e.kind for e in db.session.scalars(select(TimelineEvent).where(
        TimelineEvent.incident_id == incident["id"]).order_by(TimelineEvent.id))]
    assert kinds.count("owner_changed") == 3 and "members_changed" in kinds
    summaries = [e.summary for e in db.session.scalars(select(TimelineEvent).where(
        TimelineEvent.incident_id == incident["id"], TimelineEvent.kind == "owner_changed").order_by(TimelineEvent.id))]
    assert summaries == ["主担当: 上尾 管理者（変更前: なし）", "主担当: 上尾 統括（変更前: 上尾 管理者）",
                         "主担当: （なし）（変更前: 上尾 統括）"]


def test_people_who_may_not_work_the_incident_are_refused_naming_the_field(client, factory):
    csirt, _officer, _chief, refused = _people(factory)
    h = factory.headers(csirt)
    incident = create(client, h)
    for label, person in refused.items():
        error = assert_error(_patch(client, h, incident["id"], owner=person.email), 422, "invalid", "owner")
        assert "監査担当・職員・他団体" in error["fields"]["owner"], label
        assert_error(_patch(client, h, incident["id"], members=[csirt.email, person.email]), 422, "invalid", "members")
        created = client.post(API, headers=h, json={"organization": "ageo", "title": "t", "threat_category": "intentional",
                                                    "detected_at": "2026-11-20T10:00:00+09:00", "owner": person.email})
        assert_error(created, 422, "invalid", "owner")
    again = client.get(f"{API}/{incident['id']}", headers=h).json
    assert again["owner"] is None and again["members"] == []  # nothing was written
    assert_error(_patch(client, h, incident["id"], owner="not-an-email"), 422, "invalid", "owner")


def test_the_list_filters_by_owner_and_shows_it(client, factory):
    csirt, officer, _chief, _refused = _people(factory)
    h = factory.headers(csirt)
    mine = create(client, h, owner=csirt.email)
    theirs = create(client, h, owner=officer.email)
    create(client, h)
    listed = client.get(f"{API}?organization=ageo&owner=me", headers=h).json
    assert [i["id"] for i in listed["items"]] == [mine["id"]] and listed["total"] == 1
    assert listed["items"][0]["owner"] == csirt.email
    by_mail = client.get(f"{API}?organization=ageo&owner={officer.email}", headers=h).json
    assert [i["id"] for i in by_mail["items"]] == [theirs["id"]]
    assert client.get(f"{API}?organization=ageo&owner=nobody@example.jp", headers=h).json["total"] == 0
    everything = client.get(f"{API}?organization=ageo", headers=h).json
    assert {i["id"]: i["owner"] for i in everything["items"]}[theirs["id"]] == officer.email


def test_the_people_made_owner_or_member_are_told_but_not_oneself(client, factory):
    csirt, officer, chief, _refused = _people(factory)
    h = factory.headers(csirt)
    incident = create(client, h, owner=csirt.email, members=[officer.email])
    _patch(client, h, incident["id"], members=[officer.email, chief.email])
    db.session.expire_all()
    told = [(n.recipient, n.detail) for n in db.session.scalars(select(Notification).where(
        Notification.incident_id == incident["id"], Notification.event == "assigned").order_by(Notification.id))]
    assert told == [(officer.email, "上尾 CSIRT 様があなたを担当メンバーに指定しました"),
                    (chief.email, "上尾 CSIRT 様があなたを担当メンバーに指定しました")]


def test_the_list_and_the_incident_page_show_the_owner(client, factory):
    from tests.workflow.helpers import login
    csirt, officer, chief, _refused = _people(factory)
    h = factory.headers(csirt)
    incident = create(client, h, owner=officer.email, members=[chief.email])
    login(client, csirt)
    listed = client.get("/incidents/?organization=ageo").text
    assert "<th>主担当</th>" in listed and "<td>上尾 管理者</td>" in listed
    page = client.get(f"/incidents/{incident['id']}").text
    assert "<dt>主担当</dt><dd>上尾 管理者</dd>" in page and "<dt>担当メンバー</dt><dd>上尾 統括</dd>" in page
