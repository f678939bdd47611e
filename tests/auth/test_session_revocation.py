"""Issue 15, item 4: sessions end on the server. A copy of the session cookie taken while signed in
stops working after sign-out, "sign out everywhere", a password or TOTP change and a deactivation;
a deactivated person's API tokens stop too, and stay stopped if the person comes back."""
from __future__ import annotations

import pyotp
import pytest
import yaml
from sqlalchemy import select, update

from app.auth.models import ApiToken, RevokedSession, User
from app.auth.services import create_api_token
from app.core.db import db
from app.roster.file import import_roster, read_roster
from tests.factories import PASSWORD, csrf_token


def sign_in(client, user, password=PASSWORD):
    page = client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": password,
                                           "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and response.headers["Location"] == "/incidents/"


def copy_of(app, client):
    """A second browser holding the same session cookie (what someone who copied it has)."""
    name = app.config["SESSION_COOKIE_NAME"]
    other = app.test_client()
    other.set_cookie(name, client.get_cookie(name).value)
    assert other.get("/incidents/").status_code == 200  # the copy works before the trigger
    return other


@pytest.fixture
def copied(app, client, factory):
    """A csirt of ageo signed in with `client`, and a copy of the cookie in a second browser."""
    user = factory.user({"ageo": ["csirt"]})
    sign_in(client, user)
    return user, copy_of(app, client)


def signed_out(client) -> bool:
    response = client.get("/incidents/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def post_form(client, page: str, action: str, **data):
    return client.post(action, data=data | {"csrf_token": csrf_token(client.get(page).text)})


def roster(tmp_path, people, organization="ageo"):
    path = tmp_path / "roster.yaml"
    path.write_text(yaml.safe_dump({"organization": organization, "people": people}, allow_unicode=True), encoding="utf-8")
    result = import_roster(read_roster(path, None))
    db.session.commit()
    return result


def entry(user, password=PASSWORD, roles=("csirt",)):
    return {"email": user.email, "name": user.name, "password": password, "roles": list(roles)}


def test_a_cookie_copied_before_sign_out_is_signed_out_after_it(app, client, copied):
    user, copy = copied
    assert post_form(client, "/incidents/", "/logout").status_code == 302
    assert signed_out(copy)
    assert signed_out(client)
    sign_in(client, user)  # signing in again works, with a new session
    assert client.get("/incidents/").status_code == 200
    assert signed_out(copy)


def test_signing_out_on_one_device_keeps_the_persons_other_sessions(app, client, copied):
    """Sign-out ends this session (and every copy of its cookie), not the person's laptop at home."""
    user, copy = copied
    elsewhere = app.test_client()
    sign_in(elsewhere, user)
    assert post_form(client, "/incidents/", "/logout").status_code == 302
    assert signed_out(client) and signed_out(copy)
    assert elsewhere.get("/incidents/").status_code == 200
    assert db.session.scalar(select(RevokedSession.user_id)) == user.id


def test_sign_out_everywhere_ends_the_other_sessions_and_keeps_this_one(app, client, copied):
    user, copy = copied
    page = client.get("/account/security")
    assert "ほかの端末でのログインをすべて終了する" in page.text
    response = client.post("/account/security/sign-out-everywhere", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and response.headers["Location"] == "/account/security"
    assert "ほかの端末・ブラウザでのログインをすべて終了しました。" in client.get("/account/security").text
    assert client.get("/incidents/").status_code == 200
    assert signed_out(copy)


def test_sign_out_everywhere_needs_the_csrf_token(app, client, copied):
    user, copy = copied
    assert client.post("/account/security/sign-out-everywhere").status_code == 400
    assert copy.get("/incidents/").status_code == 200
    assert db.session.get(User, user.id).session_generation == 0


def test_sign_out_everywhere_in_english(app, client, factory):
    user = factory.user({"ageo": ["csirt"]})
    sign_in(client, user)
    post_form(client, "/incidents/", "/lang/en", next="/account/security")
    page = client.get("/account/security")
    assert "Sign out all other devices" in page.text


def test_a_password_change_in_the_roster_ends_the_sessions(app, client, factory, tmp_path):
    user = factory.user({"ageo": ["csirt"]})
    roster(tmp_path, [entry(user)])
    sign_in(client, user)
    copy = copy_of(app, client)
    roster(tmp_path, [entry(user)])  # the same password again: nothing changes
    assert copy.get("/incidents/").status_code == 200
    roster(tmp_path, [entry(user, password="a brand new password")])
    assert signed_out(copy)
    assert signed_out(client)


def _enable_totp(client) -> str:
    page = client.get("/account/security/totp")
    with client.session_transaction() as stored:
        secret = stored["totp_secret"]
    response = client.post("/account/security/totp", data={"code": pyotp.TOTP(secret).now(),
                                                           "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and response.headers["Location"] == "/account/security"
    return secret


def test_turning_totp_on_and_off_ends_the_other_sessions(app, client, copied):
    user, copy = copied
    secret = _enable_totp(client)
    assert signed_out(copy)
    assert client.get("/incidents/").status_code == 200  # the person's own session goes on
    copy = copy_of(app, client)
    db.session.execute(update(User).where(User.id == user.id).values(totp_last_step=None))
    db.session.commit()
    response = post_form(client, "/account/security", "/account/security/totp/disable", code=pyotp.TOTP(secret).now())
    assert response.status_code == 302
    assert db.session.get(User, user.id).totp_enabled_at is None
    assert signed_out(copy)
    assert client.get("/incidents/").status_code == 200


def test_mfa_reset_ends_the_sessions(app, client, factory):
    user = factory.user({"ageo": ["csirt"]})
    sign_in(client, user)
    _enable_totp(client)
    other = copy_of(app, client)  # a session that signed in with the second factor
    result = app.test_cli_runner().invoke(args=["mfa", "reset", user.email])
    assert result.exit_code == 0, result.output
    assert signed_out(other)
    assert signed_out(client)


@pytest.mark.parametrize("how", ["dropped from the roster", "role removed"])
def test_losing_a_role_ends_the_sessions(app, client, factory, tmp_path, how):
    user = factory.user({"ageo": ["csirt"], "saga": ["csirt"]})
    keeper = factory.user({"ageo": ["csirt"]})
    roster(tmp_path, [entry(user, roles=("csirt", "auditor")), entry(keeper)])
    token = factory.token(user)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    sign_in(client, user)
    copy = copy_of(app, client)

    roster(tmp_path, [entry(keeper)] if how == "dropped from the roster" else [entry(user, roles=("auditor",)), entry(keeper)])
    assert signed_out(copy)
    assert signed_out(client)
    db.session.expire_all()
    # still a member of saga: the session ends, the unscoped token still acts there
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    sign_in(client, user)  # and signs in again with the roles left
    assert client.get("/incidents/").status_code == 200


def test_a_person_deactivated_everywhere_loses_their_tokens_for_good(app, client, factory, tmp_path):
    user = factory.user({"ageo": ["csirt"]})
    keeper = factory.user({"ageo": ["csirt"]})
    roster(tmp_path, [entry(user), entry(keeper)])
    headers = {"Authorization": f"Bearer {factory.token(user)}"}
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    sign_in(client, user)
    copy = copy_of(app, client)

    roster(tmp_path, [entry(keeper)])
    assert client.get("/api/v1/incidents", headers=headers).status_code == 401
    assert signed_out(copy)
    assert db.session.scalars(select(ApiToken.revoked_at).where(ApiToken.user_id == user.id)).one() is not None

    roster(tmp_path, [entry(user), entry(keeper)])  # back in the roster (a mistake undone)
    assert client.get("/api/v1/incidents", headers=headers).status_code == 401
    assert signed_out(copy)


def test_a_token_scoped_to_the_body_that_dropped_the_person_is_revoked(app, client, factory, tmp_path):
    user = factory.user({"ageo": ["csirt"], "saga": ["csirt"]})
    keeper = factory.user({"ageo": ["csirt"]})
    roster(tmp_path, [entry(user), entry(keeper)])
    scoped, unscoped = create_api_token(user.email, organization="ageo"), create_api_token(user.email)
    db.session.commit()
    roster(tmp_path, [entry(keeper)])
    roster(tmp_path, [entry(user), entry(keeper)])
    assert client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {scoped}"}).status_code == 401
    assert client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {unscoped}"}).status_code == 200


def test_a_password_change_between_password_and_code_ends_the_half_way_state(app, client, factory, tmp_path):
    user = factory.user({"ageo": ["csirt"]})
    roster(tmp_path, [entry(user)])
    sign_in(client, user)
    secret = _enable_totp(client)
    post_form(client, "/incidents/", "/logout")
    page = client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    assert response.headers["Location"] == "/login/code"
    token = csrf_token(client.get("/login/code").text)
    roster(tmp_path, [entry(user, password="a brand new password")])
    db.session.execute(update(User).where(User.id == user.id).values(totp_last_step=None))
    db.session.commit()
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert signed_out(client)
