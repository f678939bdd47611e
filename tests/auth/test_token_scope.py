"""API tokens scoped to one body, with a lifetime, listed and revoked from the command line."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from app.audit.models import AuditEntry
from app.auth.models import ApiToken, Membership
from app.core.db import db
from app.organizations.models import Organization
from tests.auth.test_tokens import bearer, create, token_from

EMAIL = "sato@city.example.jp"


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_a_scoped_token_acts_only_in_its_body(app, client, factory):
    person = factory.user({"ageo": ["csirt"], "saga": ["csirt"]}, email=EMAIL)
    saga_incident = factory.incident(person, organization="saga")
    ageo_incident = factory.incident(person, organization="ageo")
    token = token_from(create(app, EMAIL, "--organization", "ageo"))
    headers = bearer(token)
    assert [o["code"] for o in client.get("/api/v1/organizations", headers=headers).json["items"]] == ["ageo"]
    assert client.get(f"/api/v1/incidents/{ageo_incident.id}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/incidents/{saga_incident.id}", headers=headers).status_code == 404
    listed = client.get("/api/v1/incidents", headers=headers).json
    assert [i["id"] for i in listed["items"]] == [ageo_incident.id]
    body = {"organization": "saga", "title": "x", "threat_category": "intentional", "detected_at": "2026-11-01T09:00:00+09:00"}
    refused = client.post("/api/v1/incidents", headers=headers, json=body)
    assert refused.status_code == 422 and set(refused.json["error"]["fields"]) == {"organization"}
    # the same person's unscoped token still sees both
    both = bearer(token_from(create(app, EMAIL)))
    assert client.get(f"/api/v1/incidents/{saga_incident.id}", headers=both).status_code == 200


def test_a_scoped_token_stops_when_the_role_in_that_body_ends(app, client, factory):
    factory.user({"ageo": ["csirt"], "saga": ["csirt"]}, email=EMAIL)
    token = token_from(create(app, EMAIL, "--organization", "saga"))
    assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 200
    saga = db.session.scalar(select(Organization.id).where(Organization.code == "saga"))
    db.session.execute(update(Membership).where(Membership.organization_id == saga).values(active=False))
    db.session.commit()
    assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 401


def test_scope_must_be_one_of_the_persons_bodies(app, factory):
    factory.user({"ageo": ["csirt"]}, email=EMAIL)
    for code in ("saga", "nowhere"):
        result = create(app, EMAIL, "--organization", code)
        assert result.exit_code != 0
        assert f"holds no role in organization '{code}'" in result.output
    assert db.session.scalar(select(ApiToken.id)) is None


def test_lifetime_option(app, client, factory):
    factory.user({"ageo": ["csirt"]}, email=EMAIL)
    token_from(create(app, EMAIL, "--expires-in", "90d", "--name", "SIEM"))
    token_from(create(app, EMAIL, "--expires-in", "never"))
    db.session.expire_all()
    short, forever = db.session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
    assert dt.timedelta(days=90) - dt.timedelta(seconds=5) < short.expires_at - short.created_at <= dt.timedelta(days=90)
    assert forever.expires_at is None
    bad = create(app, EMAIL, "--expires-in", "soon")
    assert bad.exit_code == 2 and "'soon' is not a duration" in bad.output


def test_list_and_revoke(app, client, factory):
    factory.user({"ageo": ["csirt"]}, email=EMAIL)
    token = token_from(create(app, EMAIL, "--name", "SOC", "--organization", "ageo"))
    assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 200
    token_id = db.session.scalar(select(ApiToken.id))
    listed = run(app, "token", "list", EMAIL)
    assert listed.exit_code == 0
    fields = listed.output.strip().split("\t")
    assert (fields[0], fields[1], fields[2], fields[5], fields[6]) == (str(token_id), "SOC", "ageo", "-", "active")
    assert token not in listed.output
    revoked = run(app, "token", "revoke", str(token_id))
    assert revoked.exit_code == 0 and revoked.output.startswith(f"token {token_id} revoked at ")
    assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 401
    assert run(app, "token", "list", EMAIL).output.strip().endswith("\trevoked")
    assert run(app, "token", "revoke", "999999").exit_code == 1
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("auth.token%"))
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["auth.token_created", "auth.token_revoked"]
