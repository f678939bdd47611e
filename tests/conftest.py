"""Fixtures: a real SQLite file and a real PostgreSQL database, both built by the migrations.

Every test that uses `app` runs once per engine (`--engines sqlite,postgresql`). PostgreSQL is
skipped when unreachable, except under CI=true, where it is required.
"""
from __future__ import annotations

import contextvars
import os
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.config import Config
from app.core.db import Base, db
from app.core.migrate import upgrade_head
from app.core.playbooks import playbooks
from app.organizations.services import sync_organizations

# One definition of the browser fixtures for every folder: a second session-scoped Chromium would
# start a second Playwright while the first one's event loop runs in this thread, which it refuses.
pytest_plugins = ("tests.browser.fixtures",)
PG_ADMIN = os.environ.get("TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
DATA_TABLES = ("incident_people", "risk_near_misses", "risk_findings", "risk_circumstances", "risk_assessments", "tick_jobs", "login_failures", "report_additions", "notifications", "notification_choices", "recommendations", "post_incident_records", "deadlines", "escalations", "oncall_overrides", "oncall_rotations", "roster_policies",
               "evidence", "reports", "tasks", "timeline_events", "audit_log", "audit_head", "incidents", "reference_counters", "api_tokens",
               "memberships", "revoked_sessions", "users")


def pytest_addoption(parser):
    parser.addoption("--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")


def pytest_generate_tests(metafunc):
    if "engine_name" in metafunc.fixturenames:
        engines = metafunc.config.getoption("engines").split(",")
        metafunc.parametrize("engine_name", engines, scope="session")


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def create_database(engine_name: str, directory, name: str) -> str:
    """A new, empty database: a SQLite file in `directory`, or a PostgreSQL database (skipped when
    PostgreSQL is unreachable, except under CI=true). Drop it with drop_database."""
    if engine_name == "sqlite":
        return f"sqlite:///{directory / f'{name}.db'}"
    if not pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is required under CI=true but is not reachable at 127.0.0.1:5432")
        pytest.skip("PostgreSQL not reachable")
    database = f"csirt_{name}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _new_database(engine_name: str, directory, name: str):
    url = create_database(engine_name, directory, name)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def database_url(engine_name, tmp_path_factory):
    yield from _new_database(engine_name, tmp_path_factory.mktemp("sqlite"), "test")


@pytest.fixture
def fresh_url(engine_name, tmp_path):
    """An empty database of the engine under test, created for this test only (migration tests)."""
    yield from _new_database(engine_name, tmp_path, "mig")


def share_audit_keys(instance: Path) -> None:
    """What an operator does for every server, ticker and restore target: the audit keys of the
    instance under test copied into `instance` (the audit log and backups are signed with them)."""
    from flask import current_app, has_app_context

    from app.audit.keys import KEY_FILE
    if not has_app_context():
        return
    keys = Path(current_app.config["INSTANCE_PATH"]) / KEY_FILE
    if keys.is_file() and instance.resolve() != keys.parent.resolve() and not (instance / KEY_FILE).exists():
        instance.mkdir(parents=True, exist_ok=True)
        shutil.copy(keys, instance / KEY_FILE)


class IsolatedClient(FlaskClient):
    """Each request runs in its own application context, as in production.

    The `app` fixture keeps an app context open for the test's own queries; without this,
    Flask would reuse it for every request and share `g` (the db session, the CSRF token).
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def _app(database_url, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    application = create_app(Config(INSTANCE_PATH=instance, DATABASE_URL=database_url, TESTING=True,
                                     SCHEDULER_ENABLED=False))
    application.test_client_class = IsolatedClient
    upgrade_head(database_url)
    with application.app_context():
        sync_organizations()
        db.session.commit()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def app(_app):
    """The app, with an application context; data tables are emptied after each test."""
    with _app.app_context():
        yield _app
        db.session.rollback()
        db.session.close()
        with db.engine.begin() as conn:
            for table in DATA_TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
        with db.engine.begin() as conn:  # after the commit that ran PostgreSQL's deferred count triggers
            conn.execute(text("DELETE FROM incident_counts"))
        # checkpoints name heads that are gone now: the next test starts without any
        (Path(_app.config["INSTANCE_PATH"]) / "audit-checkpoints").unlink(missing_ok=True)
    assert set(DATA_TABLES) | {"organizations", "incident_counts"} == set(Base.metadata.tables)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def factory(app):
    from tests.factories import Factory
    return Factory()


@pytest.fixture
def allow_webhooks(app, monkeypatch):
    """allow_webhooks("ageo", "127.0.0.1"): the body's profile lets webhooks go to those networks
    or hosts (webhooks.allow), for this test only. Loopback is refused otherwise."""
    from app.organizations.profiles import Webhooks

    def allow(code: str, *entries: str) -> None:
        profiles = playbooks(app).profiles
        monkeypatch.setitem(profiles, code, profiles[code].model_copy(update={"webhooks": Webhooks(allow=entries)}))
    return allow
