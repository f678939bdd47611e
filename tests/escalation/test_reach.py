"""Who is reached: deputies for unavailable officers, nobody reachable → next level at once with
a reason and a warning to the admins, weekly on-call rotations with overrides, office hours."""
from __future__ import annotations

import datetime as dt

import pytest

from app.core.timeutil import now_utc
from app.jobs.ticker import tick
from app.notifications.oncall import is_office_hours, on_call
from app.organizations.services import organization_by_code
from tests.escalation.support import (
    JST,
    LOW,
    escalation,
    headers,
    load_roster,
    next_jst,
    notifications,
    open_incident,
    person,
    recipients,
    settle,
    started,
    timeline,
    user,
)
from tests.factories import csrf_token

M = dt.timedelta(minutes=1)
CSIRT, CHIEF, DEPUTY = "csirt@ageo.example.jp", "chief@ageo.example.jp", "deputy@ageo.example.jp"
ADMIN, CISO = "admin@ageo.example.jp", "ciso@ageo.example.jp"
A, B, C = "a@ageo.example.jp", "b@ageo.example.jp", "c@ageo.example.jp"


def test_unavailable_officer_is_skipped_and_the_deputy_reached(app, client, factory, tmp_path, smtp_server):
    load_roster(tmp_path, [
        person(CSIRT, "佐藤 花子", ["csirt"]),
        person(CHIEF, "伊藤 次郎", ["chief_officer"], available=False),
        person(DEPUTY, "山本 四郎", ["security_officer"], deputy_of=CHIEF),
    ], escalation={"low": [{"notify": ["chief_officer"], "after": "0s"}]})
    incident = open_incident(client, headers(factory, CSIRT), LOW)
    tick(started(incident["id"]))

    assert recipients(smtp_server) == [DEPUTY]
    rows = notifications(incident["id"])
    assert {(n.recipient, n.role) for n in rows} == {(DEPUTY, "chief_officer (deputy)")}
    assert not any(n.recipient == CHIEF for n in rows)
    [event] = timeline(incident["id"], "escalated")
    assert event.data["recipients"] == [DEPUTY]
    assert any("伊藤 次郎" in note and "代理者 山本 四郎" in note for note in event.data["notes"])
    assert "山本 四郎" in event.summary and timeline(incident["id"], "nobody_reachable") == []


@pytest.mark.parametrize("why", ["no_holder", "away_without_deputy"])
def test_nobody_reachable_goes_to_the_next_level_in_the_same_tick_and_warns_admins(app, client, factory, tmp_path,
                                                                                  smtp_server, why):
    people = [person(CSIRT, "佐藤 花子", ["csirt"]), person(ADMIN, "管理 者", ["admin"])]
    if why == "away_without_deputy":
        people.append(person(CHIEF, "伊藤 次郎", ["chief_officer"], available=False))
    load_roster(tmp_path, people, escalation={"low": [
        {"notify": ["chief_officer"], "after": "0s"}, {"notify": ["csirt"], "after": "1h"},
        {"notify": ["ciso"], "after": "2h"}]})
    incident = open_incident(client, headers(factory, CSIRT), LOW)
    t0 = started(incident["id"])
    assert tick(t0 + M)["steps"] == 2  # level 1 reached nobody: level 2 fired at once, not at 1h

    state = escalation(incident["id"])
    assert state.next_step == 2 and state.next_at == t0 + dt.timedelta(hours=2)
    [warning] = timeline(incident["id"], "nobody_reachable")
    assert warning.data["step"] == 0 and warning.data["admins"] == [ADMIN]
    expected = "chief_officer: 該当者がいません" if why == "no_holder" else "伊藤 次郎（chief_officer）は不在で、代理者がいません"
    assert warning.data["notes"] == [expected]
    assert [e.data["level"] for e in timeline(incident["id"], "escalated")] == [1, 2]

    warned = notifications(incident["id"], event="nobody_reachable")
    assert {(n.recipient, n.channel, n.level, n.status) for n in warned} == {
        (ADMIN, "email", 1, "sent"), (ADMIN, "in_app", 1, "sent")}
    assert sorted(recipients(smtp_server)) == sorted([ADMIN, CSIRT])
    escalated = notifications(incident["id"], event="escalation")
    assert {(n.recipient, n.level) for n in escalated} == {(CSIRT, 2)}


# --- on-call rotations ----------------------------------------------------------------------

ROTATION_START = "2026-11-16T08:30:00+09:00"  # a Monday; the first hand-over falls on 2026-11-23, 勤労感謝の日


def _rotation_roster(tmp_path, starts=ROTATION_START, overrides=None, escalation=None):
    return load_roster(tmp_path, [
        person(A, "青木 一", ["csirt"]), person(B, "馬場 二", ["csirt"]), person(C, "千葉 三", ["csirt"]),
        person(ADMIN, "管理 者", ["admin"]),
    ], on_call=[{"role": "csirt", "starts": starts, "members": [A, B, C]}], overrides=overrides, escalation=escalation)


def _on_call(at: dt.datetime) -> list[str]:
    people = on_call(organization_by_code("ageo").id, "csirt", at)
    return None if people is None else [p.email for p in people]


def test_weekly_rotation_hands_over_exactly_at_the_boundary_and_wraps_around(app, tmp_path):
    _rotation_roster(tmp_path)
    start = dt.datetime(2026, 11, 16, 8, 30, tzinfo=JST)
    week = dt.timedelta(days=7)
    tiny = dt.timedelta(microseconds=1)
    assert _on_call(start - tiny) is None  # before the rotation: no one scheduled (all holders are reached)
    assert _on_call(start) == [A]
    assert _on_call(start + week - tiny) == [A]
    assert _on_call(start + week) == [B]  # 2026-11-23 08:30 JST, a public holiday: the hand-over still happens
    assert _on_call(start + 2 * week - tiny) == [B]
    assert _on_call(start + 2 * week) == [C]
    assert _on_call(start + 3 * week) == [A]  # wrap-around
    assert _on_call(start + 7 * week + dt.timedelta(days=3)) == [B]
    assert _on_call((start + week).astimezone(dt.UTC)) == [B]  # same instant given in UTC


def test_an_override_covering_a_period_wins_over_the_rotation(app, tmp_path):
    _rotation_roster(tmp_path, overrides=[
        {"role": "csirt", "email": C, "starts": "2026-11-18T17:15:00+09:00", "ends": "2026-11-20T08:30:00+09:00"}])
    assert _on_call(dt.datetime(2026, 11, 18, 17, 14, tzinfo=JST)) == [A]
    assert _on_call(dt.datetime(2026, 11, 18, 17, 15, tzinfo=JST)) == [C]
    assert _on_call(dt.datetime(2026, 11, 20, 8, 29, tzinfo=JST)) == [C]
    assert _on_call(dt.datetime(2026, 11, 20, 8, 30, tzinfo=JST)) == [A]


def test_oncall_level_reaches_the_member_of_the_week_then_the_override(app, client, factory, tmp_path, smtp_server):
    now = now_utc()
    starts = (now - dt.timedelta(days=7, hours=1)).astimezone(JST).isoformat()  # B's week now
    chain = {"low": [{"notify": ["oncall:csirt"], "after": "0s"}]}
    _rotation_roster(tmp_path, starts=starts, escalation=chain)
    first = open_incident(client, headers(factory, A), LOW)
    tick(started(first["id"]) + M)
    assert recipients(smtp_server, first["reference"]) == [B]
    assert {n.role for n in notifications(first["id"])} == {"csirt"}

    cover = {"role": "csirt", "email": C, "starts": (now - dt.timedelta(hours=1)).isoformat(),
             "ends": (now + dt.timedelta(days=1)).isoformat()}
    _rotation_roster(tmp_path, starts=starts, overrides=[cover], escalation=chain)
    second = open_incident(client, headers(factory, A), LOW)
    tick(started(second["id"]) + M)
    assert recipients(smtp_server, second["reference"]) == [C]


# --- office hours, Asia/Tokyo, Japanese public holidays ------------------------------------

@pytest.mark.parametrize(("local", "expected"), [
    ("2026-11-20T08:29:00", False), ("2026-11-20T08:30:00", True),   # Friday morning edge
    ("2026-11-20T17:14:00", True), ("2026-11-20T17:15:00", False),   # Friday evening edge
    ("2026-11-20T12:00:00", True), ("2026-11-21T10:00:00", False),   # Saturday
    ("2026-11-23T10:00:00", False),                                  # Monday, 勤労感謝の日
    ("2026-11-24T10:00:00", True), ("2026-11-22T10:00:00", False),   # Tuesday; Sunday
])
def test_office_hours_in_tokyo(app, local, expected):
    at = dt.datetime.fromisoformat(local).replace(tzinfo=JST)
    assert is_office_hours(at) is expected
    assert is_office_hours(at.astimezone(dt.UTC)) is expected  # the zone of the input does not matter


ONLY_CHAIN = {"low": [{"notify": ["csirt"], "after": "0s", "only": "office_hours"},
                      {"notify": ["ciso"], "after": "0s", "only": "off_hours"}]}


@pytest.mark.parametrize(("kind", "hhmm", "office"), [
    ("workday", "08:30", True), ("workday", "17:14", True), ("workday", "08:29", False),
    ("workday", "17:15", False), ("saturday", "10:00", False), ("holiday", "10:00", False),
])
def test_levels_limited_to_office_or_off_hours(app, client, factory, tmp_path, smtp_server, kind, hhmm, office):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"]), person(CISO, "加藤 三郎", ["ciso"])],
                escalation=ONLY_CHAIN)
    incident = open_incident(client, headers(factory, CSIRT), LOW)
    at = next_jst(started(incident["id"]), hhmm, kind)
    assert is_office_hours(at) is office
    settle(at)

    assert recipients(smtp_server) == ([CSIRT] if office else [CISO])
    [skipped] = timeline(incident["id"], "escalation_skipped")
    assert skipped.data["step"] == (1 if office else 0)
    assert ("勤務時間外のみ" if office else "勤務時間内のみ") in skipped.summary
    assert escalation(incident["id"]).state == "exhausted"


# --- the on-call page -----------------------------------------------------------------------

def _row(html: str, label: str) -> str:
    rows = [r for r in html.split("<tr>") if f"<td>{label}</td>" in r]
    assert len(rows) == 1, f"no single row for {label}"
    return rows[0].split("</tr>")[0]


def test_oncall_page_shows_who_is_on_call_and_warns_about_uncovered_roles(app, client, tmp_path):
    starts = (now_utc() - dt.timedelta(hours=1)).astimezone(JST).isoformat()  # A's week
    people = [person(A, "青木 一", ["csirt"]), person(B, "馬場 二", ["csirt"]),
              person("manager@ageo.example.jp", "田中 一郎", ["security_manager"]),
              person(CHIEF, "伊藤 次郎", ["chief_officer"], available=False),
              person(CISO, "加藤 三郎", ["ciso"]), person("sysadmin@ageo.example.jp", "小林 五郎", ["system_admin"])]
    load_roster(tmp_path, people, on_call=[{"role": "csirt", "starts": starts, "members": [A, B]}])
    page = client.get("/login")
    client.post("/login", data={"email": A, "password": "correct horse battery", "csrf_token": csrf_token(page.text)})

    html = client.get("/oncall").text
    assert "当番・連絡体制" in html
    csirt_row = _row(html, "CSIRT要員")
    on_duty = csirt_row.split("<td>")[2]
    assert "青木 一" in on_duty and "馬場 二" not in on_duty
    chief_row = _row(html, "統括情報セキュリティ責任者")
    assert "連絡できる人がいません" in chief_row and "不在" in chief_row
    assert html.count("連絡できる人がいません") == 1
    assert "連絡できる人がいません" not in _row(html, "最高情報セキュリティ責任者")

    people.append(person(DEPUTY, "山本 四郎", ["security_officer"], deputy_of=CHIEF))
    load_roster(tmp_path, people, on_call=[{"role": "csirt", "starts": starts, "members": [A, B]}])
    assert "連絡できる人がいません" not in client.get("/oncall").text
    assert user(DEPUTY).deputy_of_id == user(CHIEF).id
