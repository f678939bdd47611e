"""Helpers shared by the migration tests (the `fresh_url` fixture is in conftest.py)."""
from __future__ import annotations

from collections import Counter

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from app.core.db import make_engine
from app.core.migrate import alembic_config
from app.models import Base


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several heads: {heads}"
    return heads[0]


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def schema_differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def incident_counts(snap: dict[str, list[dict]]) -> list[dict]:
    """incident_counts as the incidents of a snapshot ({table: rows}) make it: one row per body,
    category, stage and severity, sorted."""
    tally = Counter((r["organization_id"], r["threat_category"], r["stage"], r["severity"]) for r in snap["incidents"])
    return sorted(({"organization_id": o, "threat_category": c, "stage": s, "severity": v, "n": n}
                   for (o, c, s, v), n in tally.items()), key=lambda row: tuple(row.values()))
