"""One declarative base, one UTC datetime type, a per-app-context session, and one transaction
per request."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import JSON, DateTime, MetaData, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC; always returns aware UTC datetimes (SQLite loses the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON, list[Any]: JSON}


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """Binds an engine to a Flask app; `db.session` is one Session per application context."""

    def init_app(self, app) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["db_engine"] = engine
        app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)

        @app.teardown_appcontext
        def _close_session(_exc):
            session = g.pop("db_session", None)
            if session is not None:
                session.rollback()
                session.close()

    def end_request(self, commit: bool) -> None:
        """Commits or rolls back the request's transaction, if the request opened a session."""
        session = g.get("db_session")
        if session is None:
            return
        if not commit:
            session.rollback()
            return
        try:
            session.commit()
        except BaseException:
            session.rollback()
            raise

    @property
    def engine(self) -> Engine:
        return current_app.extensions["db_engine"]

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = current_app.extensions["db_sessionmaker"]()
        return g.db_session


db = Database()


class TransactionalFlask(Flask):
    """One transaction per request, ended in one place (as indico's request handler and warehouse's
    pyramid_tm do): services flush, views and API handlers never commit.

    A view that returns a response below 400 (a page, a redirect after a write, a 201) commits; an
    exception or a 4xx/5xx answer rolls everything back. So a refusal a view answers as a page with
    200 or a redirect (the form again, a flash) must undo its attempt itself (`attempt()` below);
    a refusal whose writes must stay answers below 400 too: the sign-in failure page (200) keeps
    what the request recorded. The commit runs inside the dispatch, so a failure to commit (a stale
    version, a lock timeout) reaches the same error handlers as one raised by the view. Background
    jobs, CLI commands and the login throttle's own connection commit explicitly.
    """

    def dispatch_request(self):
        try:
            response = self.make_response(super().dispatch_request())
        except BaseException:
            db.end_request(commit=False)
            raise
        db.end_request(commit=response.status_code < 400)
        return response


@contextmanager
def attempt() -> Iterator[None]:
    """A step whose refusal the page shows in place (the form again, a redirect with the message)
    instead of answering an error: a refused step leaves nothing behind, although the request then
    answers below 400 and commits."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise


def database_now() -> dt.datetime:
    """The database server's clock (UTC): what processes on several machines agree on. SQLite
    lives on this machine, so its clock is ours."""
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.scalar(text("SELECT statement_timestamp()")).astimezone(dt.UTC)
    return dt.datetime.now(dt.UTC)


def due_batch(query, limit: int, of: Any = None):
    """A batch of due work for one process: on PostgreSQL rows another process holds are skipped
    (FOR UPDATE SKIP LOCKED), so processes share the work; SQLite has one writer anyway."""
    query = query.limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=of, skip_locked=True) if of is not None else query.with_for_update(skip_locked=True)
    return query
