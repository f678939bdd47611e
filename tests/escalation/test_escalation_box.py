"""What the incident page's escalation box says (issue 18, §3): before the first level fired, that
nobody was paged yet; once acknowledged with an inform level to come, when it goes out."""
from __future__ import annotations

import pytest

from app.jobs.ticker import tick
from tests.escalation.support import CRITICAL, HIGH, headers, load_roster, open_incident, person, started
from tests.factories import csrf_token

CSIRT, CHIEF = "csirt@ageo.example.jp", "chief@ageo.example.jp"


@pytest.fixture
def signed_in(app, client, tmp_path):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"]), person(CHIEF, "伊藤 次郎", ["chief_officer"])])
    page = client.get("/login")
    client.post("/login", data={"email": CSIRT, "password": "correct horse battery", "csrf_token": csrf_token(page.text)})


def _box(client, incident_id: int) -> str:
    html = client.get(f"/incidents/{incident_id}").text
    return html.split('id="escalation"', 1)[1].split("</h2>", 1)[0]


def test_before_the_first_level_the_box_says_nobody_was_paged_yet(app, client, factory, signed_in):
    incident = open_incident(client, headers(factory, CSIRT), HIGH)
    box = _box(client, incident["id"])
    assert "未連絡（まもなく第1段階" in box and "第0段階" not in box
    tick(started(incident["id"]))
    assert "第1段階まで連絡済み（全3段階）" in _box(client, incident["id"])


def test_acknowledged_with_an_inform_level_to_come_the_box_says_when(app, client, factory, signed_in):
    incident = open_incident(client, headers(factory, CSIRT), CRITICAL)
    tick(started(incident["id"]))
    assert client.post(f"/api/v1/incidents/{incident['id']}/acknowledge", headers=headers(factory, CSIRT)).status_code == 200
    assert "受領済み（報告の段階は" in _box(client, incident["id"])
