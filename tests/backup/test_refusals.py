"""What a restore or a backup refuses, before writing anything: a backup whose files do not match
their manifest, a target database that already has data, a backup path that already exists."""
from __future__ import annotations

import json
import os
import tarfile

import pytest
from sqlalchemy import func, select

from app.backup.services import BackupError, create_backup, restore_backup
from app.core.db import db
from app.incidents.evidence import evidence_dir
from app.models import Base
from tests.backup.support import populate, table_names, upload
from tests.workflow.helpers import create


@pytest.fixture
def backup(app, client, factory, tmp_path):
    """A directory backup of a populated database; answers (path, manifest, data)."""
    data = populate(client, factory)
    path = tmp_path / "backup"
    return path, create_backup(app.config["DATABASE_URL"], evidence_dir(), path), data


def _flip_one_byte(path) -> None:
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))


def _pack(directory, archive) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname="backup")


def _assert_nothing_written(url: str, evidence) -> None:
    assert table_names(url) == set()  # not even migrated
    assert not evidence.exists()


@pytest.mark.parametrize("form", ["directory", "tar.gz"])
@pytest.mark.parametrize("victim", ["tables/incidents.jsonl", "tables/audit_log.jsonl", "tables/evidence.jsonl",
                                    "evidence"])
def test_a_tampered_file_is_refused_before_anything_is_written(backup, databases, tmp_path, engine_name, victim, form):
    path, manifest, data = backup
    if victim == "evidence":
        victim = next(name for name in manifest["files"] if name.startswith("evidence/"))
    _flip_one_byte(path / victim)
    source = path
    if form == "tar.gz":
        source = tmp_path / "tampered.tar.gz"
        _pack(path, source)
    url, evidence = databases.new(engine_name), tmp_path / "restored" / "evidence"
    with pytest.raises(BackupError) as refused:
        restore_backup(url, evidence, source)
    assert str(refused.value) == f"{victim} does not match its SHA-256 in the manifest"
    _assert_nothing_written(url, evidence)


@pytest.mark.parametrize("change", ["extra-file", "missing-file", "manifest-hash", "format", "no-manifest"])
def test_a_backup_that_differs_from_its_manifest_is_refused(backup, databases, tmp_path, engine_name, change):
    path, manifest, _data = backup
    if change == "extra-file":
        (path / "tables" / "notes.jsonl").write_text("")  # not a table of this application
        expected = "files differ from the manifest: ['tables/notes.jsonl']"
    elif change == "missing-file":
        victim = next(name for name in manifest["files"] if name.startswith("evidence/"))
        (path / victim).unlink()
        expected = f"files differ from the manifest: ['{victim}']"
    elif change == "manifest-hash":
        edited = json.loads((path / "manifest.json").read_text())
        edited["files"]["tables/incidents.jsonl"] = "0" * 64
        (path / "manifest.json").write_text(json.dumps(edited))
        expected = "manifest.json does not match its signature: the backup was altered"
    elif change == "format":
        (path / "manifest.json").write_text(json.dumps(manifest | {"format": "other/9"}))
        expected = "not a backup of this application (format 'other/9')"
    else:
        (path / "manifest.json").unlink()
        expected = f"no readable manifest.json in {path}"
    url, evidence = databases.new(engine_name), tmp_path / "restored" / "evidence"
    with pytest.raises(BackupError) as refused:
        restore_backup(url, evidence, path)
    assert str(refused.value).startswith(expected), str(refused.value)
    _assert_nothing_written(url, evidence)


def _counts() -> dict[str, int]:
    db.session.rollback()
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def test_a_database_with_data_is_refused_and_left_alone(app, backup, tmp_path):
    """Restoring over the live database itself: refused, naming every table that has rows."""
    path, _manifest, _data = backup
    before = _counts()
    known_as = {"users": "people", "audit_log": "audit entries"}
    setup = {"organizations", "tick_jobs", "audit_head", "incident_counts", "login_failures"}
    busy = [f"{known_as.get(name, name)}: {count}" for name, count in before.items() if count and name not in setup]
    assert {"incidents: 5", f"people: {before['users']}", f"audit entries: {before['audit_log']}"} <= set(busy)
    evidence = tmp_path / "other" / "evidence"
    with pytest.raises(BackupError) as refused:
        restore_backup(app.config["DATABASE_URL"], evidence, path)
    assert str(refused.value) == f"the database is not empty ({', '.join(busy)}): restore into a new one"
    assert _counts() == before
    assert not evidence.exists()


@pytest.mark.parametrize("name", ["existing", "existing.tar.gz"])
def test_backing_up_to_an_existing_path_is_refused(app, client, factory, tmp_path, name):
    create(client, factory.headers(factory.user()))
    target = tmp_path / name
    if name.endswith(".tar.gz"):
        target.write_bytes(b"an older archive")
    else:
        target.mkdir()
        (target / "keep.txt").write_text("someone's file")
    with pytest.raises(BackupError) as refused:
        create_backup(app.config["DATABASE_URL"], evidence_dir(), target)
    assert str(refused.value) == f"{target} already exists"
    if name.endswith(".tar.gz"):
        assert target.read_bytes() == b"an older archive"
    else:
        assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_a_missing_evidence_file_fails_the_backup_and_names_it(app, client, factory, tmp_path):
    headers = factory.headers(factory.user())
    incident = create(client, headers)
    item = upload(client, headers, incident["id"], os.urandom(100), "lost.bin")
    blob = evidence_dir() / item["sha256"][:2] / item["sha256"]
    blob.unlink()
    for target in (tmp_path / "b.tar.gz", tmp_path / "b"):
        with pytest.raises(BackupError) as refused:
            create_backup(app.config["DATABASE_URL"], evidence_dir(), target)
        assert str(refused.value) == f"evidence file {item['sha256']} is missing from {evidence_dir()}"
        assert not (target / "manifest.json").exists()  # nothing that could pass for a backup
    assert not (tmp_path / "b.tar.gz").exists()


def test_a_failed_directory_backup_leaves_nothing_behind(app, client, factory, tmp_path):
    headers = factory.headers(factory.user())
    item = upload(client, headers, create(client, headers)["id"], os.urandom(100), "lost.bin")
    (evidence_dir() / item["sha256"][:2] / item["sha256"]).unlink()
    target = tmp_path / "b"
    with pytest.raises(BackupError):
        create_backup(app.config["DATABASE_URL"], evidence_dir(), target)
    assert not target.exists()  # actual: b/tables/*.jsonl with every row, and empty b/evidence
