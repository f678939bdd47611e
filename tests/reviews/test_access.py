"""Isolation and roles: a body's review counts only its own incidents; `all` covers every body where
the user may read all incidents; another body's review is 404, a reporter's 403, an auditor reads."""
from __future__ import annotations

import pytest

from app.reviews.periods import Period
from tests.reviews.support import HIGH, create, ids, jst, review, review_json, review_tables


@pytest.fixture
def two_bodies(client, factory):
    ageo_headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    saga_headers = factory.headers(factory.user({"saga": ["csirt"]}))
    ageo = [create(client, ageo_headers, jst(2026, 7, 3, 9, 0), subcategory="malware"),
            create(client, ageo_headers, jst(2026, 8, 3, 9, 0), threat_category="disaster", **HIGH)]
    saga = [create(client, saga_headers, jst(2026, 7, 4, 9, 0), organization="saga", threat_category="unintentional"),
            create(client, saga_headers, jst(2026, 7, 5, 9, 0), organization="saga", threat_category="other"),
            create(client, saga_headers, jst(2026, 9, 5, 9, 0), organization="saga", **HIGH)]
    response = client.put(f"/api/v1/incidents/{saga[0]['id']}/post-incident-record", headers=saga_headers, json={
        "cause": "原因", "recommendations": [{"text": "佐賀市の提言", "clause": "6-1", "status": "proposed"}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"ageo": ageo, "saga": saga, "ageo_headers": ageo_headers, "saga_headers": saga_headers}


def test_a_body_review_counts_only_its_own_incidents(client, two_bodies):
    ageo = review_json(client, two_bodies["ageo_headers"], "ageo", 2026, 2)
    assert ageo["total"] == 2
    assert ageo["by_threat_category"] == {"intentional": 1, "disaster": 1}
    assert ageo["by_severity"] == {"low": 1, "high": 1}
    assert ids(ageo) == [i["id"] for i in two_bodies["ageo"]]
    assert {i["organization"] for i in ageo["incidents"]} == {"ageo"}
    assert ageo["current"]["deadlines"]["total"]["due"] == 2        # ageo's HIGH incident: 速報 and 確報
    assert ageo["recommendations"] == []

    saga = review_json(client, two_bodies["saga_headers"], "saga", 2026, 2)
    assert saga["total"] == 3
    assert saga["by_threat_category"] == {"intentional": 1, "unintentional": 1, "other": 1}
    assert ids(saga) == [i["id"] for i in two_bodies["saga"]]
    assert [g["clause"] for g in saga["recommendations"]] == ["6-1"]


def test_all_covers_both_bodies_for_a_member_of_both(app, client, factory, two_bodies):
    user = factory.user({"ageo": ["csirt"], "saga": ["auditor"]})
    headers = factory.headers(user)
    body = review_json(client, headers, "all", 2026, 2)
    assert body["organization"] == "all"
    assert body["organizations"] == ["ageo", "saga"]
    assert body["name"] == "上尾市、佐賀市"
    assert body["total"] == 5
    assert body["by_threat_category"] == {"intentional": 2, "disaster": 1, "unintentional": 1, "other": 1}
    assert body["by_severity"] == {"low": 3, "high": 2}
    assert sorted(ids(body)) == sorted(i["id"] for i in two_bodies["ageo"] + two_bodies["saga"])
    assert [c["code"] for c in body["categories"]] == ["intentional", "unintentional", "disaster", "pandemic",
                                                       "infrastructure", "other"]
    assert body["current"]["deadlines"]["total"]["due"] == 4
    assert [(g["organization"], g["clause"]) for g in body["recommendations"]] == [("saga", "6-1")]
    _header, rows = review_tables(app, user, "all", Period(2026, 2))["見直しへの提言（未了の提案・採用）"]
    assert rows == [["6(1) 組織体制（saga）", "提案", "佐賀市の提言", two_bodies["saga"][0]["reference"]]]


def test_all_leaves_out_a_body_where_the_user_is_only_a_reporter(client, factory, two_bodies):
    headers = factory.headers(factory.user({"ageo": ["csirt"], "saga": ["reporter"]}))
    body = review_json(client, headers, "all", 2026, 2)
    assert body["organizations"] == ["ageo"]
    assert body["total"] == 2
    assert {i["organization"] for i in body["incidents"]} == {"ageo"}
    assert review(client, headers, "saga", 2026, 2).status_code == 403


def test_another_body_is_404(client, two_bodies):
    for fmt in ("json", "csv", "xlsx", "md"):
        response = review(client, two_bodies["saga_headers"], "ageo", 2026, 2, format=fmt)
        assert response.status_code == 404, (fmt, response.get_data(as_text=True))
    assert review(client, two_bodies["saga_headers"], "ageo", 2026).status_code == 404
    assert review(client, two_bodies["saga_headers"], "no-such-body", 2026, 2).status_code == 404


def test_a_reporter_is_refused_with_403(client, factory, two_bodies):
    headers = factory.headers(factory.user({"ageo": ["reporter"]}))
    # even the incidents they reported do not open the review
    create(client, headers, jst(2026, 7, 6, 9, 0))
    for path in ("/ageo/2026/q2", "/ageo/2026", "/ageo/2026/q2?format=csv"):
        response = client.get(f"/api/v1/reviews{path}", headers=headers)
        assert response.status_code == 403, (path, response.get_data(as_text=True))
        assert response.json["error"]["code"]
    assert review(client, headers, "all", 2026, 2).status_code == 403


@pytest.mark.parametrize("role", ["auditor", "security_manager", "ciso"])
def test_roles_that_read_all_incidents_read_the_review(client, factory, two_bodies, role):
    headers = factory.headers(factory.user({"ageo": [role]}))
    body = review_json(client, headers, "ageo", 2026, 2)
    assert body["total"] == 2
    assert ids(body) == [i["id"] for i in two_bodies["ageo"]]
    assert review(client, headers, "ageo", 2026, 2, format="xlsx").status_code == 200
