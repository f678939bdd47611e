"""Issue 15 item 10: every form, posted without its CSRF token by someone signed in who may do what
it does, is refused (400) and changes nothing; and the API, which authenticates by bearer token
only, does nothing for a request that carries just the session cookie. The forms and the API's
writing endpoints are read from the URL map, so a new one is swept too."""
from __future__ import annotations

import hashlib

from sqlalchemy import text

from app.core.db import Base, db
from tests.security.support import ACTORS, BODIES, build_worlds, sign_in, url_values

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _rules(app, api: bool) -> list[tuple[str, str, object]]:
    return sorted(((rule.endpoint, method, rule) for rule in app.url_map.iter_rules()
                   for method in rule.methods & WRITES if rule.rule.startswith("/api/") == api),
                  key=lambda item: (item[0], item[1]))


def _fingerprint() -> str:
    """Every table's rows, hashed: what any of these requests could have changed."""
    db.session.expire_all()
    digest = hashlib.sha256()
    for name in sorted(Base.metadata.tables):
        for row in db.session.execute(text(f"SELECT * FROM {name} ORDER BY 1")):  # noqa: S608 - our own table names
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _signed_in(app, factory):
    admin = sign_in(app, factory, next(a for a in ACTORS if a.name == "admin"))  # may do everything in body A
    reporter = factory.user({"ageo": ["reporter"]}, email="csrf-reporter@example.jp")
    csirt = factory.user({"ageo": ["csirt"]}, email="csrf-csirt@example.jp")
    [world] = build_worlds(reporter, csirt, 1)
    db.session.commit()
    return admin, world


def test_csrf_protection_is_on_in_the_tested_app(app):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True and "csrf" in app.extensions


def _sweep(app, factory, api: bool, minimum: int, send) -> tuple[object, dict[str, object]]:
    """Sends every writing rule (of the API, or of the pages) its valid body, as body A's admin,
    through `send`; asserts that nothing changed; returns the admin's session and the answers."""
    admin, world = _signed_in(app, factory)
    rules = _rules(app, api)
    assert len(rules) >= minimum
    before = _fingerprint()
    answers = {}
    for endpoint, method, rule in rules:
        _domain, path = rule.build(url_values((endpoint, method), set(rule.arguments), world))
        answers[f"{method} {path}"] = send(admin, path, method, BODIES.get((endpoint, method), lambda w: {})(world))
    assert _fingerprint() == before
    return admin, answers


def _status(response, value):
    response.close()
    return value


def test_every_form_without_its_token_is_refused_and_changes_nothing(app, factory):
    admin, answers = _sweep(app, factory, False, 23, lambda admin, path, method, body: _status(
        response := admin.client.open(path, method=method, data=body.get("data", {})), response.status_code))
    assert {k: v for k, v in answers.items() if v != 400} == {}
    assert admin.client.get("/incidents/").status_code == 200  # the unprotected sign-out did not sign out


def test_the_api_ignores_a_session_cookie(app, factory):
    # the session cookie and even the page's CSRF token, but no bearer token
    _admin, answers = _sweep(app, factory, True, 14, lambda admin, path, method, body: _status(
        response := admin.client.open(path, method=method, headers={"X-CSRFToken": admin.csrf}, **body),
        (response.status_code, (response.json or {}).get("error", {}).get("code"))))
    assert {k: v for k, v in answers.items() if v != (401, "unauthorized")} == {}
