"""Issue 15, item 7: one check for every redirect to a target the user gave (`next` of sign-in and
of the language switch): a path on this site, nothing else."""
from __future__ import annotations

import pytest

from app.core.redirects import safe_next
from tests.factories import PASSWORD, csrf_token

OFF_SITE = ["/\\evil.example", "//evil.example", "https://evil.example/", "/%5Cevil.example", "/%5cevil.example",
            "%2F%2Fevil.example", "/%2F/evil.example", "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)",
            "http:/evil.example", "evil.example", "\\\\evil.example", " //evil.example"]
ON_SITE = ["/incidents/", "/incidents/?stage=triage&page=2", "/account/security", "/incidents/12#escalation"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_off_site_targets_are_refused(target):
    assert safe_next(target, "/home") == "/home"


@pytest.mark.parametrize("target", ON_SITE)
def test_paths_on_the_site_are_kept(target):
    assert safe_next(target, "/home") == target


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_language_switch_stays_on_the_site(client, target):
    token = csrf_token(client.get("/login").text)
    response = client.post("/lang/en", data={"csrf_token": token, "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    query = client.post(f"/lang/ja?next={target}", data={"csrf_token": token})
    assert query.status_code == 302 and query.headers["Location"] == "/"


def test_the_language_switch_returns_to_the_page(client):
    token = csrf_token(client.get("/login").text)
    response = client.post("/lang/en", data={"csrf_token": token, "next": "/login?next=/incidents/"})
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/incidents/"


@pytest.mark.parametrize("target", OFF_SITE)
def test_sign_in_stays_on_the_site(client, factory, target):
    user = factory.user({"ageo": ["csirt"]})
    page = client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "next": target,
                                           "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and response.headers["Location"] == "/incidents/"
