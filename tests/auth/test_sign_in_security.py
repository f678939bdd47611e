"""Sign-in hardening (issue 8): throttling per account and per address, a fresh session at sign-in,
idle and absolute timeouts, HSTS over HTTPS only, and no open redirect through `next`."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select, update

from app.auth.models import LoginFailure
from app.core.db import db
from tests.concurrency import run_in_threads
from tests.factories import PASSWORD, csrf_token

TOO_MANY = "ログインの失敗が続いたため、しばらくログインできません。"


def attempt(client, email, password, address="192.0.2.10", next_path=""):
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    return client.post("/login", data={"email": email, "password": password, "next": next_path,
                                       "csrf_token": csrf_token(page.text)}, environ_base={"REMOTE_ADDR": address})


def failures() -> int:
    return db.session.scalar(select(func.count()).select_from(LoginFailure))


def test_five_failures_lock_the_account_even_for_the_right_password(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    for n in range(5):
        response = attempt(client, user.email, "wrong password here")
        assert response.status_code == 200 and "メールアドレスまたはパスワードが正しくありません。" in response.text
        assert failures() == n + 1
    locked = attempt(client, user.email, PASSWORD)
    assert locked.status_code == 429 and TOO_MANY in locked.text
    assert failures() == 5  # a refused attempt is not checked, so not counted either
    other = factory.user({"ageo": ["csirt"]})
    assert attempt(client, other.email, PASSWORD).status_code == 302  # other accounts are not locked
    # the window passes: the account signs in again, and its failures are cleared
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    db.session.execute(update(LoginFailure).values(failed_at=long_ago))
    db.session.commit()
    assert attempt(client, user.email, PASSWORD).status_code == 302
    assert db.session.scalar(select(func.count()).where(LoginFailure.account == user.email)) == 0


def test_the_account_is_matched_however_the_email_is_typed(client, factory):
    factory.user({"ageo": ["csirt"]}, email="kato@city.example.jp")
    for _ in range(5):
        attempt(client, "  KATO@City.Example.JP ", "wrong password here")
    assert attempt(client, "kato@city.example.jp", PASSWORD).status_code == 429


def test_twenty_failures_from_one_address_refuse_that_address(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    for n in range(20):
        attempt(client, f"nobody{n}@example.jp", "wrong password here", address="198.51.100.7")
    refused = attempt(client, user.email, PASSWORD, address="198.51.100.7")
    assert refused.status_code == 429 and TOO_MANY in refused.text
    assert attempt(client, user.email, PASSWORD, address="198.51.100.8").status_code == 302


def _simultaneous_guesses(app, count: int, email_of, address="192.0.2.66") -> list[int]:
    barrier, lock, statuses = threading.Barrier(count), threading.Lock(), []

    def worker(n: int) -> None:
        with app.app_context():
            client = app.test_client()
            page = client.get("/login", environ_base={"REMOTE_ADDR": address})
            data = {"email": email_of(n), "password": f"wrong guess {n:04d}", "csrf_token": csrf_token(page.text)}
            barrier.wait(timeout=60)
            response = client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})
            with lock:
                statuses.append(response.status_code)

    assert run_in_threads(worker, count, timeout=180) == []
    return sorted(statuses)


def test_simultaneous_guesses_at_one_account_are_counted_one_by_one(app, client, factory):
    """Issue 15, item 5 (the same class as the public form): 20 guesses at once, 5 checked."""
    user = factory.user({"ageo": ["csirt"]})
    assert _simultaneous_guesses(app, 20, lambda n: user.email) == [200] * 5 + [429] * 15
    assert failures() == 5
    assert attempt(client, user.email, PASSWORD, address="198.51.100.99").status_code == 429


def test_simultaneous_guesses_from_one_address_at_many_accounts_are_counted_one_by_one(app, factory):
    assert app.config["LOGIN_MAX_FAILURES_ADDRESS"] == 20
    assert _simultaneous_guesses(app, 30, lambda n: f"sprayed{n}@example.jp") == [200] * 20 + [429] * 10
    assert failures() == 20


def test_a_sign_in_does_not_wait_for_another_persons_password_check(app, factory, monkeypatch):
    """The attempt is counted in a short transaction of its own: while one person's password is being
    checked (slow on purpose), a colleague behind the same office address signs in, and on SQLite
    any other writer writes, without waiting for it."""
    import app.auth.views as views

    slow, other = factory.user({"ageo": ["csirt"]}), factory.user({"ageo": ["csirt"]})
    checking, release = threading.Event(), threading.Event()
    real = views.authenticate

    def authenticate(email, password):
        if email == slow.email:
            checking.set()
            release.wait(30)
        return real(email, password)

    monkeypatch.setattr(views, "authenticate", authenticate)
    results = {}

    def sign_in(number: int) -> None:
        results[number] = attempt(app.test_client(), (slow, other)[number].email, PASSWORD).status_code

    first = threading.Thread(target=sign_in, args=(0,))
    first.start()
    try:
        assert checking.wait(10)
        began = time.monotonic()
        sign_in(1)
        waited = time.monotonic() - began
    finally:
        release.set()
        first.join(30)
    assert results == {0: 302, 1: 302} and waited < 10, (results, waited)
    assert failures() == 0


def test_a_success_clears_the_accounts_failures(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    for _ in range(4):
        attempt(client, user.email, "wrong password here")
    assert attempt(client, user.email, PASSWORD).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/incidents/").text)})
    for _ in range(4):
        attempt(client, user.email, "wrong password here")
    assert attempt(client, user.email, PASSWORD).status_code == 302


def test_sign_in_starts_a_fresh_session(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        session["lang"] = "en"
    assert attempt(client, user.email, PASSWORD).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["lang"] == "en" and session["_user_id"] == str(user.id) and session["generation"] == 0
        assert abs(session["auth_at"] - time.time()) < 5


@pytest.mark.parametrize("key, age", [("seen_at", 31 * 60), ("auth_at", 12 * 3600 + 60)])
def test_an_idle_or_old_session_is_signed_out(client, factory, key, age):
    user = factory.user({"ageo": ["csirt"]})
    attempt(client, user.email, PASSWORD)
    assert client.get("/incidents/").status_code == 200
    with client.session_transaction() as session:
        session[key] -= age
    response = client.get("/incidents/?stage=triage")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/incidents/?stage%3Dtriage"
    page = client.get(response.headers["Location"])
    assert "一定時間が経過したため、ログアウトしました。" in page.text
    assert client.get("/incidents/").status_code == 302  # really signed out


def test_activity_keeps_the_session_alive(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    attempt(client, user.email, PASSWORD)
    with client.session_transaction() as session:
        session["seen_at"] -= 29 * 60
    assert client.get("/incidents/").status_code == 200
    with client.session_transaction() as session:
        assert abs(session["seen_at"] - time.time()) < 5


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://csirt.example.jp")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("target", ["//evil.example.com/x", "https://evil.example.com/", "/\\evil.example.com",
                                    "javascript:alert(1)", "http:/evil.example.com", "evil.example.com"])
def test_next_never_leaves_the_site(client, factory, target):
    user = factory.user({"ageo": ["csirt"]})
    response = attempt(client, user.email, PASSWORD, next_path=target)
    assert response.status_code == 302 and response.headers["Location"] == "/incidents/"


def test_next_within_the_site_is_followed(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    response = attempt(client, user.email, PASSWORD, next_path="/deadlines")
    assert response.headers["Location"] == "/deadlines"


def test_security_headers_on_pages(client):
    headers = client.get("/login").headers
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "same-origin"
    cookie = headers["Set-Cookie"]  # the session cookie that carries the CSRF token
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
