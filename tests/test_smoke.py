def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_create_and_get_incident(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    response = client.post("/api/v1/incidents", headers=headers, json={
        "organization": "ageo", "title": "標的型メール", "threat_category": "intentional",
        "detected_at": "2026-11-20T10:00:00+09:00",
    })
    assert response.status_code == 201, response.json
    assert response.json["reference"] == "AGEO-2026-0001"
    got = client.get(f"/api/v1/incidents/{response.json['id']}", headers=headers)
    assert got.json["title"] == "標的型メール"
    assert got.json["detected_at"] == "2026-11-20T01:00:00Z"
