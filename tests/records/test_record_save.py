"""Saving the post-incident record through the API: round trip, sanitized HTML, optimistic
locking, recommendations keeping their ids, and the profile's clauses only."""
from __future__ import annotations

from app.core.db import db
from app.records.models import PostIncidentRecord, Recommendation
from tests.records.helpers import BODY, create, events, get_record, put_record, record_url, saved
from tests.workflow.helpers import assert_error

XSS = "**原因**<script>alert('xss')</script> <img src=x onerror=alert(1)> [link](javascript:alert(2))"


def _setup(client, factory):
    csirt = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(csirt)
    return csirt, headers, create(client, headers)["id"]


def test_put_saves_and_round_trips_every_field(client, factory):
    csirt, headers, incident_id = _setup(client, factory)
    body = saved(client, headers, incident_id)
    assert body["version"] == 1 and body["saved_by"] == csirt.email and body["saved_at"].endswith("Z")
    for name in ("cause", "impact", "measures", "prevention", "policy_clauses"):
        assert body[name] == BODY[name], name
    assert [{k: r[k] for k in ("text", "clause", "status")} for r in body["recommendations"]] == BODY["recommendations"]
    assert all(isinstance(r["id"], int) for r in body["recommendations"])
    assert body["cause_html"] == "<p>職員が<strong>標的型メール</strong>の添付ファイルを開封した。</p>"
    assert body["approved_at"] is None and body["approved_by"] is None
    assert get_record(client, headers, incident_id) == body
    [event] = events(client, headers, incident_id, "record_saved")
    assert event["actor"] == csirt.email and event["data"]["version"] == 1
    assert event["data"]["policy_clauses"] == ["8-5", "8-6"] and event["data"]["recommendations"] == 2


def test_html_is_sanitized(client, factory):
    _, headers, incident_id = _setup(client, factory)
    body = saved(client, headers, incident_id, cause=XSS, impact=XSS, measures=XSS, prevention=XSS)
    assert body["cause"] == XSS  # the Markdown is kept as typed
    for name in ("cause", "impact", "measures", "prevention"):
        html = body[f"{name}_html"].lower()
        assert "<strong>原因</strong>" in html, html
        assert "<script" not in html and "onerror" not in html and "javascript:" not in html, html


def test_version_increments_and_a_stale_one_is_refused(client, factory):
    _, headers, incident_id = _setup(client, factory)
    assert saved(client, headers, incident_id)["version"] == 1
    assert saved(client, headers, incident_id, version=1, cause="第2版の原因")["version"] == 2
    assert saved(client, headers, incident_id, cause="版なしの上書き")["version"] == 3  # version is optional
    stale = put_record(client, headers, incident_id, version=2, cause="古い画面からの保存")
    assert_error(stale, 409)
    current = get_record(client, headers, incident_id)
    assert current["version"] == 3 and current["cause"] == "版なしの上書き"
    assert [e["data"]["version"] for e in events(client, headers, incident_id, "record_saved")] == [1, 2, 3]


def test_recommendations_keep_their_ids_and_are_removed_when_left_out(client, factory):
    _, headers, incident_id = _setup(client, factory)
    first, second = saved(client, headers, incident_id)["recommendations"]
    edited = {"id": first["id"], "text": "添付ファイルの無害化を全庁に導入する", "clause": "8-6", "status": "adopted"}
    new = {"text": "委託先の監督を強化する", "clause": "8-8"}
    body = saved(client, headers, incident_id, version=1, recommendations=[new, edited])
    assert body["recommendations"][1] == edited
    assert body["recommendations"][0]["id"] not in (first["id"], second["id"])
    assert body["recommendations"][0]["status"] == "proposed"
    db.session.expire_all()
    rows = db.session.query(Recommendation).order_by(Recommendation.position).all()
    assert [(r.id, r.text, r.position) for r in rows] == [
        (body["recommendations"][0]["id"], new["text"], 0), (first["id"], edited["text"], 1)]

    empty = saved(client, headers, incident_id, version=2, recommendations=[])
    assert empty["recommendations"] == []
    assert db.session.query(Recommendation).count() == 0


def test_an_id_of_another_record_is_refused(client, factory):
    _, headers, incident_id = _setup(client, factory)
    other_id = create(client, headers)["id"]
    foreign = saved(client, headers, other_id)["recommendations"][0]
    saved(client, headers, incident_id)
    response = put_record(client, headers, incident_id, recommendations=[foreign])
    assert_error(response, 422, field="recommendations")
    assert get_record(client, headers, other_id)["recommendations"][0] == foreign


def test_unknown_clause_is_422_naming_the_field(client, factory):
    _, headers, incident_id = _setup(client, factory)
    error = assert_error(put_record(client, headers, incident_id, policy_clauses=["8-5", "99-9"]), 422,
                         field="policy_clauses")
    assert "99-9" in error["fields"]["policy_clauses"]
    recs = [BODY["recommendations"][0], {"text": "存在しない条項", "clause": "8-10"}]
    error = assert_error(put_record(client, headers, incident_id, recommendations=recs), 422,
                         field="recommendations.1.clause")
    assert "recommendations.0.clause" not in error["fields"]
    assert get_record(client, headers, incident_id)["saved"] is False
    assert db.session.query(PostIncidentRecord).count() == 0


def test_a_clause_of_another_body_is_422(client, factory):
    """佐賀市's 6-5 人的セキュリティ is not a clause of 上尾市's policy (8-5)."""
    _, headers, incident_id = _setup(client, factory)
    assert_error(put_record(client, headers, incident_id, policy_clauses=["6-5"]), 422, field="policy_clauses")
    recs = [{"text": "佐賀市の条項", "clause": "6-5"}]
    assert_error(put_record(client, headers, incident_id, recommendations=recs), 422, field="recommendations.0.clause")
    assert get_record(client, headers, incident_id)["saved"] is False


def test_invalid_bodies_are_422(client, factory):
    _, headers, incident_id = _setup(client, factory)
    assert_error(put_record(client, headers, incident_id, severity="low"), 422, field="severity")
    bad_status = [{"text": "状態が不正", "status": "approved"}]
    assert_error(put_record(client, headers, incident_id, recommendations=bad_status), 422)
    assert_error(put_record(client, headers, incident_id, recommendations=[{"text": ""}]), 422)
    assert_error(put_record(client, headers, incident_id, cause="NUL\x00"), 422, field="cause")
    assert_error(put_record(client, headers, incident_id, policy_clauses="8-5"), 422, field="policy_clauses")
    not_json = client.put(record_url(incident_id), headers=headers, data="cause=x",
                          content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 415
    assert get_record(client, headers, incident_id)["saved"] is False


def test_a_blank_recommendation_text_is_422(client, factory):
    _, headers, incident_id = _setup(client, factory)
    response = put_record(client, headers, incident_id, recommendations=[{"text": "   "}])
    assert_error(response, 422)


def test_repeated_clauses_are_stored_once(client, factory):
    _, headers, incident_id = _setup(client, factory)
    assert saved(client, headers, incident_id, policy_clauses=["8-6", "8-5", "8-6"])["policy_clauses"] == ["8-6", "8-5"]


def test_the_same_recommendation_id_twice_is_422(client, factory):
    _, headers, incident_id = _setup(client, factory)
    first = saved(client, headers, incident_id)["recommendations"][0]
    response = put_record(client, headers, incident_id, recommendations=[first, first | {"text": "重複"}])
    assert_error(response, 422, field="recommendations")
