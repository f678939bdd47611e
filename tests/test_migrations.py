"""Migrations build the schema from nothing, agree with the models, and go down and up again."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from app.config import REPO_ROOT
from app.core.db import make_engine
from app.core.migrate import alembic_config, upgrade_head
from app.models import Base
from tests.migration_support import current_revision, head_revision, schema_differences, tables

TABLES = {"organizations", "users", "api_tokens", "incidents", "incident_counts", "tick_jobs", "memberships", "reference_counters",
          "tasks", "timeline_events", "evidence", "audit_log", "audit_head",
          "notifications", "escalations", "oncall_overrides", "oncall_rotations", "roster_policies",
          "deadlines", "post_incident_records", "recommendations", "login_failures", "reports", "report_additions", "revoked_sessions",
          "risk_assessments", "risk_near_misses", "risk_findings", "risk_circumstances", "notification_choices",
          "incident_people"}


def test_single_linear_history():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revisions = list(script.walk_revisions())
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    assert revisions[-1].down_revision is None
    assert revisions[0].revision == head_revision()
    for newer, older in zip(revisions, revisions[1:], strict=False):
        assert newer.down_revision == older.revision


def test_comparison_sees_a_missing_schema(fresh_url):
    """Guards the checks below: on an empty database compare_metadata reports every table."""
    added = {diff[1].name for diff in schema_differences(fresh_url) if diff[0] == "add_table"}
    assert added == TABLES


def test_upgrade_head_on_an_empty_database(fresh_url):
    assert tables(fresh_url) == set()
    upgrade_head(fresh_url)
    assert tables(fresh_url) == TABLES | {"alembic_version"}
    assert current_revision(fresh_url) == head_revision()
    upgrade_head(fresh_url)  # a second run is a no-op
    assert current_revision(fresh_url) == head_revision()


def test_fresh_database_matches_the_models(fresh_url):
    upgrade_head(fresh_url)
    assert schema_differences(fresh_url) == []


def test_app_database_matches_the_models(app, database_url):
    """The fixture database was built by `upgrade head` too (conftest `_app`)."""
    assert current_revision(database_url) == head_revision()
    assert set(Base.metadata.tables) == TABLES
    assert schema_differences(database_url) == []


def test_fresh_sqlite_file_upgrades(tmp_path):
    url = f"sqlite:///{tmp_path / 'brand-new.db'}"
    upgrade_head(url)
    assert (tmp_path / "brand-new.db").is_file()
    assert tables(url) == TABLES | {"alembic_version"}
    assert schema_differences(url) == []


def test_downgrade_base_then_upgrade_head(fresh_url):
    upgrade_head(fresh_url)
    command.downgrade(alembic_config(fresh_url), "base")
    assert tables(fresh_url) <= {"alembic_version"}
    assert current_revision(fresh_url) is None
    upgrade_head(fresh_url)
    assert tables(fresh_url) == TABLES | {"alembic_version"}
    assert current_revision(fresh_url) == head_revision()
    assert schema_differences(fresh_url) == []


def test_step_by_step_down_and_up(fresh_url):
    """Every revision downgrades and upgrades on its own (not only the whole range)."""
    script = ScriptDirectory.from_config(alembic_config(fresh_url))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    cfg = alembic_config(fresh_url)
    for revision in revisions:
        command.upgrade(cfg, revision)
        assert current_revision(fresh_url) == revision
    for revision in reversed(revisions[:-1]):
        command.downgrade(cfg, revision)
        assert current_revision(fresh_url) == revision
    command.downgrade(cfg, "base")
    assert current_revision(fresh_url) is None


def test_migrated_schema_enforces_constraints(fresh_url):
    upgrade_head(fresh_url)
    engine = make_engine(fresh_url)
    now = "2026-11-22 00:00:00"
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO organizations (id, code, name, kind, reference_prefix, updated_at) "
                              "VALUES (1, 'ageo', '上尾市', 'city', 'AGEO', :now)"), {"now": now})
            conn.execute(text("INSERT INTO users (id, email, name, available, created_at) "
                              "VALUES (1, 'a@example.jp', 'A', true, :now)"), {"now": now})
            conn.execute(text("INSERT INTO memberships (user_id, organization_id, role, active, created_at) "
                              "VALUES (1, 1, 'csirt', true, :now)"), {"now": now})
        bad = [
            ("INSERT INTO memberships (user_id, organization_id, role, active, created_at) "
             "VALUES (1, 1, 'mayor', true, :now)"),                                   # role_known
            ("INSERT INTO memberships (user_id, organization_id, role, active, created_at) "
             "VALUES (1, 1, 'csirt', true, :now)"),                                   # uq user/org/role
            "INSERT INTO users (email, name, available, created_at) VALUES ('a@example.jp', 'B', true, :now)",
            ("INSERT INTO memberships (user_id, organization_id, role, active, created_at) "
             "VALUES (99, 1, 'ciso', true, :now)"),                                   # foreign key
            ("INSERT INTO organizations (code, name, kind, reference_prefix, updated_at) "
             "VALUES ('ageo', 'x', 'city', 'X', :now)"),                              # unique code
        ]
        for statement in bad:
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text(statement), {"now": now})
    finally:
        engine.dispose()


def test_cli_init_migrates_and_loads_organizations_idempotently(tmp_path):
    env = dict(os.environ, INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
               PLAYBOOKS_PATH=str(REPO_ROOT / "playbooks"), SCHEDULER_ENABLED="0")
    flask = [str(Path(sys.executable).with_name("flask")), "--app", "wsgi"]
    for _ in range(2):
        result = subprocess.run(flask + ["init"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "database migrated; 7 organizations loaded from playbooks/organizations"
    url = env["DATABASE_URL"]
    assert current_revision(url) == head_revision()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT o.code, p.code FROM organizations o "
                                     "LEFT JOIN organizations p ON p.id = o.parent_id ORDER BY o.code")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("ageo", None), ("kumamoto", None), ("kumamoto-gikai", "kumamoto"), ("mog-gesui", None), ("saga", None),
        ("toride", None), ("toride-gikai", "toride"),
    ]
    orgs = subprocess.run(flask + ["orgs"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert orgs.returncode == 0, orgs.stderr
    assert orgs.stdout.splitlines()[0] == "ageo\t上尾市"
    assert "toride-gikai\t取手市議会" in orgs.stdout.splitlines()
    assert len(orgs.stdout.splitlines()) == 7


def _insert(conn, table: str, **values) -> None:
    """A row with the given values and a plain value for every other NOT NULL column, whatever
    the schema of the revision under test."""
    for column in inspect(conn).get_columns(table):
        if column["name"] in values or column["nullable"] or column.get("default") is not None \
                or column.get("autoincrement") is True or column["name"] == "id":
            continue
        kind = str(column["type"]).upper()
        values[column["name"]] = (0 if "INT" in kind else False if "BOOL" in kind else "{}" if "JSON" in kind
                                  else "2026-11-20 00:00:00.000000" if "TIME" in kind else "x")
    names = ", ".join(values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"), values)


def test_0004_upgrades_a_populated_database_and_fills_in_stage_times(fresh_url):
    """An incident that had left 被害拡大の防止 and 復旧 before 0004 gets contained_at and
    recovered_at from its timeline; its notifications survive the rebuilt table."""
    cfg = alembic_config(fresh_url)
    command.upgrade(cfg, "0003")
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            _insert(conn, "organizations", id=1, code="ageo", name="上尾市", kind="city", reference_prefix="AGEO")
            _insert(conn, "users", id=1, email="a@example.jp", name="A", available=True)
            _insert(conn, "incidents", id=1, organization_id=1, reference="AGEO-2026-0001", ref_year=2026, ref_number=1,
                    threat_category="intentional", severity="low", computed_severity="low", stage="prevent",
                    source="internal", network_segments="[]", impacts="[]", asset_classes="{}", version=1)
            moves = [("01", "stage_changed", "triage", "report"), ("02", "stage_overridden", "contain", "recover"),
                     ("03", "stage_back", "recover", "contain"), ("04", "stage_changed", "contain", "recover"),
                     ("05", "stage_changed", "recover", "prevent")]
            for hour, kind, before, after in moves:
                _insert(conn, "timeline_events", incident_id=1, at=f"2026-11-20 {hour}:00:00.000000", kind=kind, summary="段階",
                        data=f'{{"from": "{before}", "to": "{after}"}}')
            _insert(conn, "notifications", event_id="e-1", incident_id=1, cycle=1, step=0, level=1, event="escalation",
                    recipient_id=1, recipient="a@example.jp", channel="email", status="sent", attempts=1)
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            contained, recovered = conn.execute(text("SELECT contained_at, recovered_at FROM incidents")).one()
            assert str(contained).startswith("2026-11-20 02:00:00") and str(recovered).startswith("2026-11-20 05:00:00")
            assert conn.execute(text("SELECT event_id, deadline_id FROM notifications")).all() == [("e-1", None)]
            assert conn.execute(text("SELECT pd_ordinance_sensitive FROM incidents")).scalar() in (False, 0)
        assert schema_differences(fresh_url) == []
    finally:
        engine.dispose()
