"""`token create EMAIL` and Bearer authentication (API.md, "Command line" and "JSON API v1")."""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import func, select, text, update

from app.auth.models import ApiToken, Membership
from app.core.db import db


def create(app, email, *extra):
    return app.test_cli_runner().invoke(args=["token", "create", email, *extra])


def token_from(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.rstrip("\n").splitlines()[-1]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_create_prints_the_token_alone_on_the_last_line(app, factory):
    person = factory.user({"ageo": ["csirt"]}, email="sato@city.example.jp")
    result = create(app, "sato@city.example.jp")
    lines = result.output.rstrip("\n").splitlines()
    token = token_from(result)
    assert token == token.strip() and " " not in token
    assert token.startswith("csirt_")
    assert len(token) >= 40
    assert lines[0] == "store this token now; it is not shown again:"
    db.session.expire_all()
    rows = db.session.scalars(select(ApiToken)).all()
    assert len(rows) == 1
    assert rows[0].user_id == person.id
    assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert rows[0].revoked_at is None and rows[0].organization_id is None
    lifetime = rows[0].expires_at - rows[0].created_at  # a year unless asked otherwise
    assert dt.timedelta(days=365) - dt.timedelta(seconds=5) < lifetime <= dt.timedelta(days=365)


def test_email_is_case_insensitive_and_name_is_kept(app, factory):
    factory.user({"saga": ["admin"]}, email="ito@city.example.jp")
    token = token_from(create(app, "  ITO@City.Example.jp ", "--name", "SOC forwarder"))
    db.session.expire_all()
    row = db.session.scalar(select(ApiToken))
    assert row.name == "SOC forwarder"
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_only_the_hash_is_stored(app, factory):
    factory.user({"ageo": ["csirt"]}, email="sato@city.example.jp")
    token = token_from(create(app, "sato@city.example.jp"))
    secret_part = token.removeprefix("csirt_")
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_tokens")).all()
    assert len(rows) == 1
    for value in rows[0]:
        assert token not in str(value)
        assert secret_part not in str(value)
    assert hashlib.sha256(token.encode()).hexdigest() in [str(v) for v in rows[0]]


def test_each_token_is_new(app, factory):
    factory.user({"ageo": ["csirt"]}, email="sato@city.example.jp")
    first = token_from(create(app, "sato@city.example.jp"))
    second = token_from(create(app, "sato@city.example.jp"))
    assert first != second
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 2


def test_token_authenticates_organizations(app, client, factory):
    factory.user({"ageo": ["csirt"], "saga": ["auditor"]}, email="sato@city.example.jp")
    token = token_from(create(app, "sato@city.example.jp"))
    response = client.get("/api/v1/organizations", headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["total"] == 2
    assert [o["code"] for o in response.json["items"]] == ["ageo", "saga"]
    ageo = response.json["items"][0]
    assert ageo["name"] == "上尾市"
    assert ageo["parent"] is None
    assert [c["code"] for c in ageo["threat_categories"]] == [
        "intentional", "unintentional", "disaster", "pandemic", "infrastructure"]
    assert [s["code"] for s in ageo["network_segments"]] == ["mynumber", "lgwan", "internet"]
    saga = response.json["items"][1]
    assert [c["code"] for c in saga["threat_categories"]][-1] == "other"


def test_assembly_member_sees_the_parent(app, client, factory):
    factory.user({"toride-gikai": ["reporter"]}, email="giin@city.example.jp")
    token = token_from(create(app, "giin@city.example.jp"))
    response = client.get("/api/v1/organizations", headers=bearer(token))
    assert response.status_code == 200
    [body] = response.json["items"]
    assert (body["code"], body["name"], body["parent"]) == ("toride-gikai", "取手市議会", "toride")
    assert [s["code"] for s in body["network_segments"]] == ["mynumber", "lgwan", "internet"]


def test_unknown_email_fails(app, factory):
    factory.user({"ageo": ["csirt"]}, email="sato@city.example.jp")
    result = create(app, "nobody@city.example.jp")
    assert result.exit_code != 0
    assert "nobody@city.example.jp" in result.output
    assert "csirt_" not in result.output
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_missing_or_bad_token_is_401(app, client, factory):
    factory.user({"ageo": ["csirt"]}, email="sato@city.example.jp")
    token = token_from(create(app, "sato@city.example.jp"))
    assert client.get("/api/v1/organizations").status_code == 401
    for header in (f"Bearer {token}x", f"Bearer {token[:-1]}", "Bearer csirt_nothing", f"Token {token}", token,
                   f"Bearer {hashlib.sha256(token.encode()).hexdigest()}"):
        response = client.get("/api/v1/organizations", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json["error"]["code"]
    response = client.get("/api/v1/organizations")
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_revoked_token_is_401(app, client, factory):
    factory.user({"ageo": ["csirt"]}, email="sato@city.example.jp")
    token = token_from(create(app, "sato@city.example.jp"))
    assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 200
    db.session.execute(update(ApiToken).values(revoked_at=dt.datetime.now(dt.UTC)))
    db.session.commit()
    response = client.get("/api/v1/organizations", headers=bearer(token))
    assert response.status_code == 401
    assert set(response.json["error"]) >= {"code", "message"}


def test_expired_token_is_401(app, client, factory):
    factory.user({"ageo": ["csirt"]}, email="sato@city.example.jp")
    token = token_from(create(app, "sato@city.example.jp"))
    now = dt.datetime.now(dt.UTC)
    db.session.execute(update(ApiToken).values(expires_at=now + dt.timedelta(hours=1)))
    db.session.commit()
    assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 200
    db.session.execute(update(ApiToken).values(expires_at=now - dt.timedelta(seconds=1)))
    db.session.commit()
    assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 401


def test_token_of_a_deactivated_person_is_401(app, client, factory):
    factory.user({"ageo": ["csirt"]}, email="sato@city.example.jp")
    token = token_from(create(app, "sato@city.example.jp"))
    db.session.execute(update(Membership).values(active=False))
    db.session.commit()
    assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 401
