"""Runs Alembic from inside the app (used by `init` and the tests)."""
from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig

from app.config import REPO_ROOT


def alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig(str(REPO_ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
