"""Two-factor sign-in with TOTP (issue 8): set up from the person's security page or, where a
body requires it for the person's role, at sign-in; codes are single-use; resettable from the CLI."""
from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import LoginFailure
from app.core.db import db
from app.core.playbooks import playbooks
from app.organizations.profiles import Security
from tests.factories import PASSWORD, csrf_token


def sign_in(client, user, password=PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"email": user.email, "password": password, "csrf_token": csrf_token(page.text)})


def send_code(client, path, code):
    page = client.get(path)
    return client.post(path, data={"code": code, "csrf_token": csrf_token(page.text)})


def pending_secret(client) -> str:
    with client.session_transaction() as session:
        return session["totp_secret"]


def code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def enrol(client, user) -> str:
    sign_in(client, user)
    page = client.get("/account/security/totp")
    assert page.status_code == 200 and "二要素認証の設定" in page.text and 'src="data:image/svg+xml' in page.text
    secret = pending_secret(client)
    assert " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) in page.text
    response = client.post("/account/security/totp", data={"code": code(secret), "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and response.headers["Location"] == "/account/security"
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account/security").text)})
    return secret


@pytest.fixture
def csirt_required(app, monkeypatch):
    profiles = playbooks(app).profiles
    monkeypatch.setitem(profiles, "ageo", profiles["ageo"].model_copy(update={"security": Security(mfa_required_roles=("csirt",))}))


def test_enrolment_needs_a_right_code(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    sign_in(client, user)
    page = client.get("/account/security/totp")
    wrong = client.post("/account/security/totp", data={"code": "000000", "csrf_token": csrf_token(page.text)})
    assert wrong.status_code == 200 and "確認コードが正しくありません。" in wrong.text
    db.session.refresh(user)
    assert user.totp_enabled_at is None and user.totp_secret is None


def test_password_then_code(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    secret = enrol(client, user)
    db.session.refresh(user)
    assert user.totp_secret == secret and user.totp_enabled_at is not None
    first = sign_in(client, user)
    assert first.status_code == 302 and first.headers["Location"] == "/login/code"
    assert client.get("/incidents/").status_code == 302  # not signed in yet
    wrong = send_code(client, "/login/code", "123456")
    assert "確認コードが正しくありません。" in wrong.text
    assert db.session.scalar(select(func.count()).where(LoginFailure.account == user.email)) == 1
    right = send_code(client, "/login/code", code(secret, 1))
    assert right.status_code == 302 and right.headers["Location"] == "/incidents/"
    assert client.get("/incidents/").status_code == 200
    assert db.session.scalar(select(func.count()).where(LoginFailure.account == user.email)) == 0


def test_a_code_works_only_once(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    secret = enrol(client, user)
    used = code(secret, 1)
    sign_in(client, user)
    assert send_code(client, "/login/code", used).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/incidents/").text)})
    sign_in(client, user)
    replay = send_code(client, "/login/code", used)
    assert replay.status_code == 200 and "確認コードが正しくありません。" in replay.text


def test_guessing_codes_is_throttled(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    secret = enrol(client, user)
    sign_in(client, user)
    for guess in ("111111", "222222", "333333", "444444", "555555"):
        send_code(client, "/login/code", guess)
    refused = send_code(client, "/login/code", code(secret, 1))
    assert refused.status_code == 429 and "しばらくログインできません" in refused.text


def test_the_code_step_expires(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    enrol(client, user)
    sign_in(client, user)
    with client.session_transaction() as session:
        session["pending_at"] -= 301
    assert client.get("/login/code").headers["Location"] == "/login"


def test_a_required_role_sets_it_up_at_sign_in(client, factory, csirt_required):
    user = factory.user({"ageo": ["csirt"]})
    first = sign_in(client, user)
    assert first.headers["Location"] == "/login/enrol"
    page = client.get("/login/enrol")
    assert "あなたの役割では二要素認証が必須です。" in page.text
    assert client.get("/incidents/").status_code == 302
    secret = pending_secret(client)
    done = client.post("/login/enrol", data={"code": code(secret), "csrf_token": csrf_token(page.text)})
    assert done.status_code == 302 and done.headers["Location"] == "/incidents/"
    assert client.get("/incidents/").status_code == 200
    # and it cannot be turned off while the role requires it
    security = client.get("/account/security")
    assert "あなたの役割では必須です。" in security.text and "二要素認証を解除する" not in security.text
    refused = client.post("/account/security/totp/disable", data={"code": code(secret, 1), "csrf_token": csrf_token(security.text)})
    assert refused.status_code == 302
    db.session.refresh(user)
    assert user.totp_enabled_at is not None


def test_a_role_that_does_not_require_it_signs_in_with_the_password(client, factory, csirt_required):
    user = factory.user({"ageo": ["auditor"]})
    assert sign_in(client, user).headers["Location"] == "/incidents/"


def signed_in_with_totp(client, factory):
    """A csirt member who has turned TOTP on and signed in with password and code."""
    user = factory.user({"ageo": ["csirt"]})
    secret = enrol(client, user)
    sign_in(client, user)
    send_code(client, "/login/code", code(secret, 1))
    return user, secret


def test_turning_it_off_needs_a_current_code(client, factory):
    user, secret = signed_in_with_totp(client, factory)
    security = client.get("/account/security")
    client.post("/account/security/totp/disable", data={"code": "000000", "csrf_token": csrf_token(security.text)})
    db.session.refresh(user)
    assert user.totp_enabled_at is not None
    user.totp_last_step -= 2  # a minute later: the codes used so far are behind us
    db.session.commit()
    client.post("/account/security/totp/disable", data={"code": code(secret), "csrf_token": csrf_token(security.text)})
    db.session.refresh(user)
    assert (user.totp_enabled_at, user.totp_secret) == (None, None)


def test_reset_from_the_command_line(app, client, factory):
    user = factory.user({"ageo": ["csirt"]})
    enrol(client, user)
    db.session.expire_all()  # the command shares this session here (not in a real shell): no stale person
    result = app.test_cli_runner().invoke(args=["mfa", "reset", user.email])
    assert result.exit_code == 0 and result.output == f"two-factor authentication of {user.email} reset\n"
    db.session.rollback()  # a new snapshot: the command committed in its own session
    assert user.totp_secret is None
    assert sign_in(client, user).headers["Location"] == "/incidents/"
    assert app.test_cli_runner().invoke(args=["mfa", "reset", "nobody@example.jp"]).exit_code == 1
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("auth.totp%")).order_by(AuditEntry.id)).all()
    assert actions == ["auth.totp_enabled", "auth.totp_reset"]


def test_the_secret_is_not_in_the_page_after_enrolment(client, factory):
    _user, secret = signed_in_with_totp(client, factory)
    assert secret not in client.get("/account/security").text


def test_guessing_the_code_that_turns_it_off_is_throttled(client, factory):
    user, secret = signed_in_with_totp(client, factory)
    security = client.get("/account/security")
    for guess in ("111111", "222222", "333333", "444444", "555555"):
        client.post("/account/security/totp/disable", data={"code": guess, "csrf_token": csrf_token(security.text)})
    assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 5  # each wrong guess counted
    db.session.refresh(user)
    user.totp_last_step -= 2
    db.session.commit()
    client.post("/account/security/totp/disable", data={"code": code(secret), "csrf_token": csrf_token(security.text)})
    assert "15分ほど待ってから" in client.get("/account/security").text
    db.session.refresh(user)
    assert user.totp_enabled_at is not None
