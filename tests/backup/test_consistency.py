"""A backup taken while incidents are being created holds one consistent moment: every row's
incident is there, the audit head names the last entry, the counters match the references."""
from __future__ import annotations

import threading
import time

from app.audit.services import verify
from app.backup.services import create_backup, restore_backup
from app.incidents.evidence import evidence_dir
from tests.backup.support import app_on, read_table
from tests.workflow.helpers import API, incident_body

WRITE_SECONDS = 2.5


def _writer(app, headers, stop: threading.Event, made: list, errors: list) -> None:
    client = app.test_client()
    deadline = time.monotonic() + WRITE_SECONDS * 4  # bounded even if the main thread never stops it
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            body = incident_body(title=f"同時登録 {len(made) + 1}", personal_data={"involved": True, "persons": 200})
            response = client.post(API, headers=headers, json=body)
            if response.status_code != 201:
                errors.append(response.get_data(as_text=True))
                return
            made.append(response.json["id"])
            note = client.post(f"{API}/{made[-1]}/notes", headers=headers, json={"body": "メモ"})
            if note.status_code != 201:
                errors.append(note.get_data(as_text=True))
                return
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(repr(exc))


def _assert_consistent(root) -> dict:
    incidents = {row["id"]: row for row in read_table(root, "incidents")}
    for table in ("timeline_events", "tasks", "deadlines", "escalations", "evidence"):
        orphans = [row["id"] for row in read_table(root, table) if row["incident_id"] not in incidents]
        assert orphans == [], f"{table} rows without their incident: {orphans}"
    for event in read_table(root, "timeline_events"):
        if event["kind"] == "note":
            assert any(e["kind"] == "created" and e["incident_id"] == event["incident_id"]
                       for e in read_table(root, "timeline_events"))
    audit = read_table(root, "audit_log")
    for head in read_table(root, "audit_head"):  # every chain complete up to its head in the snapshot
        chain = sorted((row for row in audit if row["chain"] == head["chain"]), key=lambda row: row["seq"])
        assert [row["seq"] for row in chain] == list(range(1, head["last_id"] + 1))
        assert head["last_hash"] == (chain[-1]["hash"] if chain else head["last_hash"])
        for previous, entry in zip(chain, chain[1:], strict=False):
            assert entry["prev_hash"] == previous["hash"]
    for counter in read_table(root, "reference_counters"):
        numbers = sorted(i["ref_number"] for i in incidents.values()
                         if i["organization_id"] == counter["organization_id"] and i["ref_year"] == counter["year"])
        assert numbers == list(range(1, counter["last_number"] + 1))  # no reference the backup does not hold
    created = {e["incident_id"] for e in read_table(root, "timeline_events") if e["kind"] == "created"}
    assert created == set(incidents)
    return incidents


def test_a_backup_during_writes_is_one_consistent_snapshot(app, factory, databases, tmp_path, engine_name):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    stop, made, errors = threading.Event(), [], []
    writer = threading.Thread(target=_writer, args=(app, headers, stop, made, errors), daemon=True)
    writer.start()
    sizes, started = [], time.monotonic()
    try:
        while len(made) < 3 and time.monotonic() - started < WRITE_SECONDS and not errors:
            time.sleep(0.02)
        number = 0
        while time.monotonic() - started < WRITE_SECONDS and not errors:
            number += 1
            before = len(made)
            root = tmp_path / f"backup-{number}"
            create_backup(app.config["DATABASE_URL"], evidence_dir(), root)
            sizes.append((before, len(_assert_consistent(root)), len(made)))
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not writer.is_alive()
    assert errors == []
    assert len(sizes) >= 2 and sizes[-1][1] > sizes[0][1], sizes  # the writer kept writing between backups
    for started_with, held, ended_with in sizes:
        assert started_with <= held <= ended_with + 1, sizes

    url = databases.new(engine_name)
    restore_backup(url, tmp_path / "restored" / "evidence", tmp_path / f"backup-{number}")
    with app_on(url, tmp_path / "restored") as restored, restored.app_context():
        result = verify()
        assert result.ok and result.entries == len(read_table(tmp_path / f"backup-{number}", "audit_log")), result
