"""Named locks held to the end of the transaction, so that a count and the insert it allows are
one step for every process (rate limits, sign-in throttling): without one, twenty simultaneous
requests all count the same four rows and all insert a fifth."""
from __future__ import annotations

from sqlalchemy import Connection, text

from app.core.db import db


def begin_writing(connection: Connection | None = None) -> None:
    """SQLite: take the database's write lock now (BEGIN IMMEDIATE) rather than at the first write.
    pysqlite starts a transaction only at the first INSERT/UPDATE/DELETE, so what is read before
    that could change before this transaction writes; and a SAVEPOINT issued before any would
    itself be the outermost transaction, committing alone when released."""
    connection = connection or db.session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def hold(*names: str, connection: Connection | None = None) -> None:
    """Waits for and holds the locks of these names until the transaction (of the session, or of
    `connection`) ends. PostgreSQL: transaction-scoped advisory locks, taken in a fixed order (no
    deadlock between two holders of the same pair); SQLite: its single write lock, which serializes
    all writers anyway."""
    connection = connection or db.session.connection()
    if connection.dialect.name != "postgresql":
        begin_writing(connection)
        return
    for name in sorted(set(names)):
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})
