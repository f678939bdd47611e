"""Alembic environment: the URL comes from DATABASE_URL (or the app's config when run by `init`)."""
from __future__ import annotations

from alembic import context

from app.models import Base
from app.core.db import make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    from app.config import Config
    return Config().DATABASE_URL


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    if connection.dialect.name == "sqlite":
        # Batch migrations rebuild a table (copy, drop, rename): with foreign keys enforced, the
        # drop fails on a database that holds data. Alembic's documented remedy: off while migrating.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # else alembic finds a transaction open and never commits its own
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
