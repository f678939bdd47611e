"""incident_counts under bulk loads (a restore, the benchmark's seeding).

The triggers of migration 0010 keep the counts one incident at a time. On PostgreSQL they run at
commit, and a single transaction that inserts a million incidents would update the same few
hundred count rows a million times, each update a new row version the next one has to walk past.
A bulk load therefore turns PostgreSQL's insert trigger off for its own transaction (the DDL is
transactional: other sessions never see it off) and counts once, with one GROUP BY, at the end.
SQLite's triggers are immediate and cheap per row; they stay on.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

INSERT_TRIGGER = "incident_counts_insert_delete"
_RECOUNT = (
    "INSERT INTO incident_counts (organization_id, threat_category, stage, severity, n) "
    "SELECT organization_id, threat_category, stage, severity, count(*) FROM incidents "
    "GROUP BY organization_id, threat_category, stage, severity"
)


@contextmanager
def bulk_load(conn: Connection) -> Iterator[None]:
    """Inserts into `incidents` inside the block are counted once at its end, in the same
    transaction. Only for loading a database nobody else writes to (restore, seeding)."""
    if conn.dialect.name != "postgresql" or not conn.scalar(
            text("SELECT count(*) FROM pg_trigger WHERE tgname = :name"), {"name": INSERT_TRIGGER}):
        yield  # SQLite, or a schema before 0010 (which counts what is there when it comes)
        return
    conn.exec_driver_sql(f"ALTER TABLE incidents DISABLE TRIGGER {INSERT_TRIGGER}")
    yield
    recount(conn)
    conn.exec_driver_sql(f"ALTER TABLE incidents ENABLE TRIGGER {INSERT_TRIGGER}")


def recount(conn: Connection) -> None:
    """incident_counts made again from the incidents."""
    conn.execute(text("DELETE FROM incident_counts"))
    conn.execute(text(_RECOUNT))
