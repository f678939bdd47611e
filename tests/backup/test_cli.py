"""`flask --app wsgi backup PATH` and `restore PATH` as an operator runs them: counts on success,
"audit log: ok" after a restore, and `Error:` with the reason (exit 1) when refused."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import REPO_ROOT
from app.models import Base
from tests.backup.support import api_state, app_on, populate, read_table, table_names
from tests.conftest import pg_available, share_audit_keys

FLASK = [str(Path(sys.executable).with_name("flask")), "--app", "wsgi"]


def run(database_url: str, instance: Path, *args: str) -> subprocess.CompletedProcess:
    share_audit_keys(instance)
    env = dict(os.environ, DATABASE_URL=database_url, INSTANCE_PATH=str(instance), EVIDENCE_PATH="",
               PLAYBOOKS_PATH=str(REPO_ROOT / "playbooks"), SCHEDULER_ENABLED="0")
    return subprocess.run(FLASK + list(args), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180)


def refused(result: subprocess.CompletedProcess, reason: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"Error: {reason}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@pytest.fixture
def populated(app, client, factory):
    return populate(client, factory)


def test_backup_then_restore_on_the_command_line(app, populated, databases, tmp_path, engine_name, frozen_now):
    live = Path(app.config["INSTANCE_PATH"])
    made = run(app.config["DATABASE_URL"], live, "backup", str(tmp_path / "nightly"))
    assert made.returncode == 0, made.stderr
    rows = sum(len(read_table(tmp_path / "nightly", p.stem)) for p in (tmp_path / "nightly" / "tables").iterdir())
    match = re.fullmatch(rf"backup written to {re.escape(str(tmp_path / 'nightly'))}: (\d+) rows in (\d+) tables, "
                         r"(\d+) evidence files, schema (\w+)\n", made.stdout)
    assert match, made.stdout
    backed_up = [t for t in Base.metadata.tables.values() if not t.info.get("derived")]  # not incident_counts
    assert (int(match[1]), int(match[2]), int(match[3])) == (rows, len(backed_up), 3)
    assert rows > 100

    instance = tmp_path / "restored-instance"
    url = databases.new(engine_name)
    restored = run(url, instance, "restore", str(tmp_path / "nightly"))
    assert restored.returncode == 0, restored.stderr
    audit = len(read_table(tmp_path / "nightly", "audit_log"))
    assert re.fullmatch(rf"restored {rows} rows from {re.escape(str(tmp_path / 'nightly'))} \(made [^)]+\); "
                        rf"audit log: ok, {audit} entries\n", restored.stdout), restored.stdout
    verified = run(url, instance, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with app_on(url, instance) as second:
        assert api_state(second.test_client(), populated["headers"], populated["ids"]) == \
            api_state(app.test_client(), populated["headers"], populated["ids"])

    refused(run(url, instance, "restore", str(tmp_path / "nightly")), "the database is not empty (")
    refused(run(app.config["DATABASE_URL"], live, "backup", str(tmp_path / "nightly")),
            f"{tmp_path / 'nightly'} already exists")


def test_archive_on_the_command_line_and_the_other_engine(app, populated, databases, tmp_path, engine_name):
    other = "postgresql" if engine_name == "sqlite" else "sqlite"
    if other == "postgresql" and not pg_available():
        pytest.skip("PostgreSQL not reachable")
    archive = tmp_path / "nightly.tar.gz"
    made = run(app.config["DATABASE_URL"], Path(app.config["INSTANCE_PATH"]), "backup", str(archive))
    assert made.returncode == 0 and made.stdout.startswith(f"backup written to {archive}: "), made.stderr
    url = databases.new(other)
    restored = run(url, tmp_path / "restored", "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert "; audit log: ok, " in restored.stdout
    assert "incidents" in table_names(url)


def test_errors_exit_non_zero_with_the_reason(app, populated, databases, tmp_path, engine_name):
    made = run(app.config["DATABASE_URL"], Path(app.config["INSTANCE_PATH"]), "backup", str(tmp_path / "b"))
    assert made.returncode == 0, made.stderr
    target = tmp_path / "b" / "tables" / "timeline_events.jsonl"
    target.write_bytes(target.read_bytes().replace(b"\"note\"", b"\"nOte\"", 1))
    url = databases.new(engine_name)
    refused(run(url, tmp_path / "r", "restore", str(tmp_path / "b")),
            "tables/timeline_events.jsonl does not match its SHA-256 in the manifest")
    assert table_names(url) == set()
    refused(run(url, tmp_path / "r", "restore", str(tmp_path / "nowhere.tar.gz")),
            f"{tmp_path / 'nowhere.tar.gz'} does not exist")
    assert table_names(url) == set()
    assert not (tmp_path / "r" / "evidence").exists()


def test_a_file_that_is_not_a_backup_archive_is_an_error_not_a_traceback(app, databases, tmp_path, engine_name):
    junk = tmp_path / "notes.tar.gz"
    junk.write_text("this is not a gzip file")
    result = run(databases.new(engine_name), tmp_path / "r", "restore", str(junk))
    refused(result, f"{junk}")


def test_backing_up_a_sqlite_database_that_does_not_exist_is_an_error(tmp_path):
    missing = tmp_path / "typo.db"
    result = run(f"sqlite:///{missing}", tmp_path / "instance", "backup", str(tmp_path / "out"))
    assert not missing.exists()  # not created at the source path by the attempt
    refused(result, f"no database at {missing}")
