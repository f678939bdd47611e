"""A backup restores into a new database of the same engine or of the other one, as a directory
or a .tar.gz: the API then answers exactly what it answered before, the evidence files are the
same bytes, the audit chain verifies, and new incidents continue the numbering and the ids."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.audit.services import verify
from app.backup.services import create_backup, restore_backup
from app.core.db import db
from app.incidents.evidence import evidence_dir
from app.incidents.models import Incident
from app.models import Base
from tests.backup.support import OTHER, api_state, app_on, ok, populate, read_table, table_names
from tests.workflow.helpers import API, create


def _check_restored(restored, before: dict, data: dict, audit_entries: int, max_id: int, ageo_numbers: int):
    client, h = restored.test_client(), data["headers"]
    assert api_state(client, h, data["ids"]) == before  # every incident, timeline, deadline, record, task ...
    with restored.app_context():
        result = verify()
        assert result.ok and result.entries == audit_entries, result
    for item in data["evidence"]:
        download = client.get(item["url"], headers=h)
        assert download.status_code == 200, download.get_data(as_text=True)
        assert hashlib.sha256(download.data).hexdigest() == item["sha256"]
        assert download.data == data["contents"][item["sha256"]]
        assert (restored.config["INSTANCE_PATH"] / "evidence" / item["sha256"][:2] / item["sha256"]).is_file()
    with restored.app_context():
        result = verify()
        assert result.ok, result
        assert result.entries == audit_entries + len(data["evidence"])  # each download above is audited

    new = create(client, h, title="復元後の新規登録")
    assert new["reference"] == f"AGEO-2026-{ageo_numbers + 1:04d}"
    assert new["id"] == max_id + 1
    again = create(client, h, title="復元後の新規登録（二件目）")
    assert again["reference"] == f"AGEO-2026-{ageo_numbers + 2:04d}" and again["id"] == max_id + 2
    task = ok(client.post(f"{API}/{new['id']}/tasks", headers=h, json={"stage": "triage", "title": "追加タスク"}), 201)
    note = ok(client.post(f"{API}/{new['id']}/notes", headers=h, json={"body": "復元後のメモ"}), 201)
    old_tasks = [t["id"] for i in data["ids"] for t in before[i]["tasks"]["items"]]
    old_events = [e["id"] for i in data["ids"] for e in before[i]["timeline"]["items"]]
    assert task["id"] > max(old_tasks) and note["id"] > max(old_events)
    with restored.app_context():
        result = verify()
        assert result.ok, result
        assert result.entries > audit_entries + len(data["evidence"])


def _round_trip(app, client, factory, databases, tmp_path, target_engine: str, archive: bool):
    data = populate(client, factory)
    before = api_state(client, data["headers"], data["ids"])
    original = verify()
    assert original.ok
    max_id = db.session.scalar(select(func.max(Incident.id)))
    ageo_numbers = len([i for i in before["list"]["items"] if i["organization"] == "ageo"])
    assert ageo_numbers == 4

    target = tmp_path / ("backup.tar.gz" if archive else "backup")
    manifest = create_backup(app.config["DATABASE_URL"], evidence_dir(), target)
    assert manifest["tables"]["incidents"] == 5 and manifest["tables"]["audit_log"] == original.entries
    assert manifest["tables"]["evidence"] == 4
    evidence_files = sorted(n for n in manifest["files"] if n.startswith("evidence/"))
    assert evidence_files == sorted(f"evidence/{sha}" for sha in data["contents"])  # the same file once
    assert target.is_file() if archive else (target / "manifest.json").is_file()

    url = databases.new(target_engine)
    instance = tmp_path / "restored-instance"
    restored_manifest = restore_backup(url, instance / "evidence", target)
    assert restored_manifest == manifest
    assert "incidents" in table_names(url)
    with app_on(url, instance) as restored:
        _check_restored(restored, before, data, original.entries, max_id, ageo_numbers)


@pytest.mark.parametrize("to", ["same", "other"])
def test_restore_gives_back_everything(app, client, factory, databases, tmp_path, engine_name, frozen_now, to):
    _round_trip(app, client, factory, databases, tmp_path, engine_name if to == "same" else OTHER[engine_name],
                archive=False)


def test_tar_gz_works_like_a_directory(app, client, factory, databases, tmp_path, engine_name, frozen_now):
    _round_trip(app, client, factory, databases, tmp_path, engine_name, archive=True)


def test_backup_content_is_one_jsonl_per_table_with_hashes(app, client, factory, tmp_path):
    data = populate(client, factory)
    manifest = create_backup(app.config["DATABASE_URL"], evidence_dir(), tmp_path / "b")
    root = tmp_path / "b"
    assert manifest["format"] == "csirt-backup/2" and manifest["revision"]
    assert set(manifest["signature"]) == {"key_id", "mac"} and manifest["audit"]["type"] == "audit-checkpoint"
    assert set(manifest["tables"]) == set(Base.metadata.tables) - {"incident_counts"}  # derived: the triggers rebuild it
    for name, count in manifest["tables"].items():
        rows = read_table(root, name)
        assert len(rows) == count
        if rows and "id" in rows[0]:
            assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)  # primary-key order
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest
    assert {r["id"] for r in read_table(root, "incidents")} == set(data["ids"])
    audit = read_table(root, "audit_log")
    heads = {row["chain"]: row for row in read_table(root, "audit_head")}
    for chain, head in heads.items():  # each body's chain, numbered without a gap up to its head
        entries = [r for r in audit if r["chain"] == chain]
        assert [r["seq"] for r in entries] == list(range(1, head["last_id"] + 1))
        assert head["last_hash"] == entries[-1]["hash"]
        assert manifest["audit"]["heads"][chain] == {"seq": head["last_id"], "hash": head["last_hash"],
                                                     "entry": entries[-1]["id"]}
    assert set(heads) == {"ageo", "saga"}
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == len(audit)
