"""JSON API v1: GET /api/v1/organizations (the caller's bodies and their policy profiles) and the
OpenAPI description."""
from __future__ import annotations

from app.core.db import db
from app.organizations.services import organization_by_code

ORGS = "/api/v1/organizations"
CATEGORIES = ["intentional", "unintentional", "disaster", "pandemic", "infrastructure"]
SEGMENTS = [{"code": "mynumber", "label": "マイナンバー利用事務系"}, {"code": "lgwan", "label": "LGWAN接続系"},
            {"code": "internet", "label": "インターネット接続系"}]


def organizations(client, factory, roles: dict[str, list[str]]) -> dict[str, dict]:
    response = client.get(ORGS, headers=factory.headers(factory.user(roles)))
    assert response.status_code == 200, response.get_data(as_text=True)
    items = response.json["items"]
    assert response.json["total"] == len(items)
    return {org["code"]: org for org in items}


def assert_profile_shape(org: dict) -> None:
    assert isinstance(org["name"], str) and org["name"]
    assert org["threat_categories"], org["code"]
    for category in org["threat_categories"]:
        assert {"code", "label", "label_en", "subcategories"} <= set(category)
        assert category["label"] and category["label_en"]
        for sub in category["subcategories"]:
            assert set(sub) == {"code", "label"} and sub["code"] and sub["label"]
    for segment in org["network_segments"]:
        assert set(segment) == {"code", "label"}
    for clause in org["policy_clauses"]:
        assert set(clause) == {"code", "label"} and clause["code"] and clause["label"]


def test_only_the_callers_organizations(client, factory):
    orgs = organizations(client, factory, {"ageo": ["csirt"], "saga": ["reporter"]})
    assert sorted(orgs) == ["ageo", "saga"]
    assert orgs["ageo"]["name"] == "上尾市" and orgs["saga"]["name"] == "佐賀市"
    assert orgs["ageo"]["parent"] is None and orgs["saga"]["parent"] is None
    assert sorted(organizations(client, factory, {"kumamoto-gikai": ["auditor"]})) == ["kumamoto-gikai"]


def test_deactivated_membership_hides_that_body(client, factory):
    user = factory.user({"ageo": ["csirt"], "saga": ["csirt", "auditor"]})
    headers = factory.headers(user)
    saga_id = organization_by_code("saga").id
    for membership in user.memberships:
        membership.active = membership.organization_id != saga_id
    db.session.commit()
    assert [org["code"] for org in client.get(ORGS, headers=headers).json["items"]] == ["ageo"]
    for membership in user.memberships:
        membership.active = False
    db.session.commit()
    assert client.get(ORGS, headers=headers).status_code == 401


def test_ageo_profile(client, factory):
    ageo = organizations(client, factory, {"ageo": ["reporter"]})["ageo"]
    assert_profile_shape(ageo)
    assert [c["code"] for c in ageo["threat_categories"]] == CATEGORIES
    intentional = ageo["threat_categories"][0]
    assert intentional["label"] == "意図的な要因" and intentional["label_en"] == "Intentional"
    assert {"code": "malware", "label": "ウイルス攻撃"} in intentional["subcategories"]
    assert {"code": "loss", "label": "紛失又は置き忘れ"} in ageo["threat_categories"][1]["subcategories"]
    assert ageo["network_segments"] == SEGMENTS
    assert {"code": "8-5", "label": "人的セキュリティの対策"} in ageo["policy_clauses"]


def test_saga_has_six_categories_ending_with_other(client, factory):
    saga = organizations(client, factory, {"saga": ["csirt"]})["saga"]
    assert_profile_shape(saga)
    assert [c["code"] for c in saga["threat_categories"]] == CATEGORIES + ["other"]
    other = saga["threat_categories"][-1]
    assert (other["label"], other["label_en"], other["subcategories"]) == ("その他", "Other", [])
    assert saga["network_segments"] == SEGMENTS
    assert {"code": "6-4", "label": "物理的セキュリティ"} in saga["policy_clauses"]


def test_mog_gesui_has_only_the_internet_segment(client, factory):
    mog = organizations(client, factory, {"mog-gesui": ["csirt"]})["mog-gesui"]
    assert_profile_shape(mog)
    assert mog["name"] == "毛呂山・越生・鳩山公共下水道組合" and mog["parent"] is None
    assert mog["network_segments"] == [{"code": "internet", "label": "インターネット接続系"}]
    assert [c["code"] for c in mog["threat_categories"]] == CATEGORIES


def test_assemblies_inherit_their_citys_segments(client, factory):
    orgs = organizations(client, factory, {"toride-gikai": ["csirt"], "kumamoto-gikai": ["csirt"]})
    assert sorted(orgs) == ["kumamoto-gikai", "toride-gikai"]   # the parents are not the caller's
    gikai = orgs["toride-gikai"]
    assert_profile_shape(gikai)
    assert gikai["name"] == "取手市議会" and gikai["parent"] == "toride"
    assert gikai["network_segments"] == SEGMENTS
    assert [c["code"] for c in gikai["threat_categories"]] == CATEGORIES
    assert {"code": "6-4", "label": "人的セキュリティ"} in gikai["policy_clauses"]
    assert orgs["kumamoto-gikai"]["parent"] == "kumamoto"
    assert orgs["kumamoto-gikai"]["network_segments"] == SEGMENTS


def test_organizations_need_a_token(client):
    for headers in ({}, {"Authorization": "Bearer csirt_unknown"}):
        response = client.get(ORGS, headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"
        assert set(response.json["error"]) == {"code", "message", "fields"}


def test_openapi_is_public_and_describes_the_incident_paths(client):
    for headers in ({}, {"Authorization": "Bearer csirt_unknown"}):
        response = client.get("/api/v1/openapi.json", headers=headers)
        assert response.status_code == 200
        assert response.mimetype == "application/json"
    doc = response.json
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/incidents"])
    assert {"get", "patch"} <= set(paths["/api/v1/incidents/{id}"])
    assert "get" in paths["/api/v1/organizations"]
    assert "201" in paths["/api/v1/incidents"]["post"]["responses"]
    assert "409" in paths["/api/v1/incidents/{id}"]["patch"]["responses"]
    schemas = doc["components"]["schemas"]
    assert {"organization", "title", "threat_category", "detected_at"} <= set(schemas["IncidentCreate"]["required"])
    assert "version" in schemas["IncidentUpdate"]["required"]
    assert schemas["Error"]["required"] == ["error"]
