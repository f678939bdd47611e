"""Issue 15, item 2: the attacks on the audit log by someone who controls the database but not
the application's secrets (the key, the checkpoints kept outside it), and key rotation."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import shutil
import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from app.core.db import db
from tests.audit.test_audit_chain import API, api_verify, audit_ids, body, chains, cli, execute, make_entries

CHECKPOINTS = "audit-checkpoints"


def rows(sql: str, **params) -> list:
    with db.engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def checkpoint(app) -> dict:
    code, output = cli(app, "audit", "checkpoint")
    assert code == 0, output
    return json.loads(output)


@pytest.fixture
def csirt(factory):
    return factory.headers(factory.user({"ageo": ["csirt"]}))


def test_a_checkpoint_is_printed_appended_signed_and_private(app, client, csirt):
    from app.audit import keys
    make_entries(client, csirt)
    first = checkpoint(app)
    path = app.config["INSTANCE_PATH"] / CHECKPOINTS
    ageo = rows("SELECT id, seq, hash FROM audit_log WHERE chain = 'ageo' ORDER BY seq")[-1]
    assert first["heads"]["ageo"] == {"seq": ageo.seq, "hash": ageo.hash, "entry": ageo.id}
    assert set(first) == {"type", "at", "key_id", "heads", "mac"} and first["key_id"] == keys.audit_keyring().current
    make_entries(client, csirt, n_incidents=1)
    second = checkpoint(app)
    assert second["heads"]["ageo"]["seq"] > first["heads"]["ageo"]["seq"]
    assert [json.loads(line) for line in path.read_text().splitlines()] == [first, second]
    assert path.stat().st_mode & 0o777 == 0o600
    code, output = cli(app, "audit", "verify")
    assert code == 0 and "chain intact, 2 checkpoints agree" in output


def test_deleting_the_newest_entries_and_resetting_the_head_is_found_through_a_checkpoint(app, client, csirt, auditor,
                                                                                         tmp_path):
    """The first attack of the issue: delete the newest entries, set the head to the last one left."""
    make_entries(client, csirt, n_incidents=3)
    filed = checkpoint(app)
    kept_elsewhere = tmp_path / "filed-away"
    shutil.copy(app.config["INSTANCE_PATH"] / CHECKPOINTS, kept_elsewhere)
    ageo = rows("SELECT id, seq, hash FROM audit_log WHERE chain = 'ageo' ORDER BY seq")
    keep = ageo[-4]
    execute("DELETE FROM audit_log WHERE chain = 'ageo' AND seq > :seq", seq=keep.seq)
    execute("UPDATE audit_head SET last_id = :seq, last_hash = :hash WHERE chain = 'ageo'", seq=keep.seq, hash=keep.hash)

    (app.config["INSTANCE_PATH"] / CHECKPOINTS).rename(tmp_path / "aside")
    assert cli(app, "audit", "verify")[0] == 0  # without a checkpoint the cut is invisible: said in the README
    (tmp_path / "aside").rename(app.config["INSTANCE_PATH"] / CHECKPOINTS)

    missing = filed["heads"]["ageo"]
    assert missing == {"seq": ageo[-1].seq, "hash": ageo[-1].hash, "entry": ageo[-1].id}
    assert api_verify(client, auditor) == {"ok": False, "entries": len(audit_ids()), "first_bad": ageo[-1].id}
    code, output = cli(app, "audit", "verify")
    assert code == 1
    assert f"BROKEN: ageo: entries after #{keep.seq} are missing; the checkpoint (" in output
    assert f"names #{ageo[-1].seq} (entry {ageo[-1].id})" in output
    # the instance's file removed too: the copy filed away still tells
    (app.config["INSTANCE_PATH"] / CHECKPOINTS).unlink()
    code, output = cli(app, "audit", "verify", "--against", str(kept_elsewhere))
    assert code == 1 and f"{kept_elsewhere} line 1) names #{ageo[-1].seq} (entry {ageo[-1].id})" in output


def test_a_checkpoint_file_nested_thousands_deep_is_named_not_a_traceback(app, client, csirt, tmp_path):
    client.post(API, headers=csirt, json=body("標的型メール"))
    deep = tmp_path / "deep-checkpoints"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    code, output = cli(app, "audit", "verify", "--against", str(deep))
    assert code != 0 and f"{deep} line 1 is not a checkpoint (not JSON)" in output, output
    assert "Traceback" not in output and "RecursionError" not in output


def old_entry_hash(row) -> str:
    """The product's own hash function before issue 15 (app/audit/services.py at 44be058)."""
    at = row.at if isinstance(row.at, dt.datetime) else dt.datetime.fromisoformat(str(row.at))
    at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at
    material = json.dumps({
        "id": row.id, "at": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"), "actor": row.actor,
        "actor_id": row.actor_id, "action": row.action, "object_type": row.object_type, "object_id": row.object_id,
        "organization": row.organization, "payload": row.payload, "prev": row.prev_hash,
    }, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def test_an_entry_rewritten_and_every_hash_recomputed_with_the_old_function_is_found(app, client, csirt, auditor):
    """The second attack of the issue: rewrite an entry, recompute every hash after it."""
    make_entries(client, csirt, n_incidents=2)
    entries = rows("SELECT * FROM audit_log ORDER BY id")
    victim = entries[2]
    prev = entries[1].hash
    for row in entries[2:]:
        forged = row._asdict() | {"prev_hash": prev}
        if row.id == victim.id:
            forged["payload"] = json.dumps({"summary": "なかったことに"}, ensure_ascii=False)
        forged["hash"] = prev = old_entry_hash(type("Row", (), forged))
        execute("UPDATE audit_log SET payload = :payload, prev_hash = :prev_hash, hash = :hash WHERE id = :id", **forged)
    execute("UPDATE audit_head SET last_hash = :hash", hash=prev)
    result = api_verify(client, auditor)
    assert (result["ok"], result["first_bad"]) == (False, victim.id)
    code, output = cli(app, "audit", "verify")
    assert code == 1 and f"entry {victim.id} (" in output and "does not match its MAC" in output


@pytest.mark.parametrize("forgery", ["wrong-key", "no-key-id", "legacy-chain"])
def test_an_entry_re_signed_without_the_key_is_found(app, client, csirt, auditor, forgery):
    from app.audit.chain import legacy_hash, material
    from app.audit.models import AuditEntry
    make_entries(client, csirt, n_incidents=1)
    victim = db.session.scalars(select(AuditEntry).where(AuditEntry.chain == "ageo").order_by(AuditEntry.seq)).all()[1]
    forged = SimpleNamespace(**{c: getattr(victim, c) for c in AuditEntry.__table__.columns.keys()})
    forged.payload = '{"summary":"改ざん"}'
    victim = forged
    if forgery == "wrong-key":  # the right function and key id, another key
        hashed = hmac.new(b"guessed", material(forged).encode(), hashlib.sha256).hexdigest()
        execute("UPDATE audit_log SET payload = :p, hash = :h WHERE id = :id", p=forged.payload, h=hashed, id=victim.id)
        reason = "does not match its MAC"
    elif forgery == "no-key-id":
        forged.key_id = None
        execute("UPDATE audit_log SET payload = :p, key_id = NULL, hash = :h WHERE id = :id", p=forged.payload,
                h=legacy_hash(forged), id=victim.id)
        reason = "is signed with an unknown key id None"
    else:  # passed off as an entry from before 0012, hashed without a key
        forged.chain, forged.key_id = ":legacy", None
        execute("UPDATE audit_log SET chain = :c, payload = :p, key_id = NULL, hash = :h WHERE id = :id",
                c=":legacy", p=forged.payload, h=legacy_hash(forged), id=victim.id)
        reason = "(:legacy #2): #1 is missing from the chain"
    assert api_verify(client, auditor)["first_bad"] == victim.id
    code, output = cli(app, "audit", "verify")
    assert code == 1 and f"entry {victim.id}" in output and reason in output, output


def test_a_forged_checkpoint_is_refused(app, client, csirt):
    make_entries(client, csirt, n_incidents=1)
    filed = checkpoint(app)
    path = app.config["INSTANCE_PATH"] / CHECKPOINTS
    lowered = filed | {"heads": {"ageo": filed["heads"]["ageo"] | {"seq": 1}}}
    path.write_text(json.dumps(lowered) + "\n")
    code, output = cli(app, "audit", "verify")
    assert code == 1 and f"{path} line 1 does not match its MAC" in output
    path.write_text(json.dumps(filed | {"key_id": "0123456789abcdef"}) + "\n")
    code, output = cli(app, "audit", "verify")
    assert code == 1 and f"{path} line 1 is signed with an unknown key id '0123456789abcdef'" in output
    path.write_text("not json\n")
    assert cli(app, "audit", "verify")[0] == 1


def test_the_ticker_writes_a_checkpoint_once_per_period(app, client, csirt, caplog):
    from app.jobs.scheduler import run_tick
    make_entries(client, csirt, n_incidents=1)
    path = app.config["INSTANCE_PATH"] / CHECKPOINTS
    with caplog.at_level("INFO", logger="app.audit"):
        assert run_tick(app)["audit_checkpoint"] == {"chains": len(chains())}
        run_tick(app)  # not due again for AUDIT_CHECKPOINT_MINUTES
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    assert [r.getMessage() for r in caplog.records if r.name == "app.audit.verify"] == [f"audit checkpoint {lines[0]}"]
    [(due, started)] = rows("SELECT due_at, started_at FROM tick_jobs WHERE name = 'audit_checkpoint'")
    due, started = (dt.datetime.fromisoformat(str(v)) for v in (due, started))
    assert due - started == dt.timedelta(minutes=60)


@pytest.fixture
def own_keys(app, tmp_path, monkeypatch):
    """The app on a key file of its own (tmp_path), put back afterwards."""
    from app.audit import keys
    saved = dict(app.extensions)
    monkeypatch.setitem(app.config, "INSTANCE_PATH", tmp_path)
    keys.init_app(app)
    yield tmp_path / "audit_keys"
    app.extensions.update(saved)


def test_rotating_the_key_keeps_the_old_entries_verifiable(app, client, csirt, auditor, own_keys):
    from app.audit import keys
    make_entries(client, csirt, n_incidents=1)
    first = keys.audit_keyring().current
    assert own_keys.stat().st_mode & 0o777 == 0o600
    code, output = cli(app, "audit", "rotate-key")
    assert code == 0, output
    keys.init_app(app)  # as a restart does
    second = keys.audit_keyring().current
    assert second != first and f"new audit key {second}" in output
    assert len(own_keys.read_text().split()) == 2
    make_entries(client, csirt, n_incidents=1)
    assert {row.key_id for row in rows("SELECT DISTINCT key_id FROM audit_log")} == {first, second}
    assert checkpoint(app)["key_id"] == second
    assert api_verify(client, auditor)["ok"] is True

    # without the old key the entries it signed cannot be checked: named, not passed
    own_keys.write_text(own_keys.read_text().split()[1] + "\n")
    oldest = rows("SELECT id FROM audit_log WHERE key_id = :k ORDER BY chain, seq", k=first)[0].id
    code, output = cli(app, "audit", "verify")
    assert code == 1 and f"is signed with an unknown key id '{first}'" in output
    assert api_verify(client, auditor)["first_bad"] in {r.id for r in rows("SELECT id FROM audit_log WHERE key_id = :k",
                                                                           k=first)}
    assert oldest


def test_keys_from_the_environment(tmp_path):
    from app.audit import keys
    ring = keys.load_audit_keyring({"INSTANCE_PATH": tmp_path, "AUDIT_KEY": "new-key", "AUDIT_KEYS_OLD": "old-1, old-2"})
    assert ring.current == keys.key_id(b"new-key")
    assert set(ring.keys) == {keys.key_id(k) for k in (b"new-key", b"old-1", b"old-2")}
    assert not (tmp_path / "audit_keys").exists()  # nothing generated when the key is given
    with pytest.raises(keys.AuditKeyError):
        keys.rotate({"INSTANCE_PATH": tmp_path, "AUDIT_KEY": "new-key"})
    generated = keys.load_audit_keyring({"INSTANCE_PATH": tmp_path})
    assert (tmp_path / "audit_keys").stat().st_mode & 0o777 == 0o600
    assert keys.load_audit_keyring({"INSTANCE_PATH": tmp_path}) == generated  # read again, not made anew
    assert generated.current not in ring.keys


def create_while_ageo_is_open(app, headers: dict, organization: str, *, chained: bool) -> tuple[list[int], float]:
    """Creates an incident of `organization` while a transaction of ageo stays open with an audit entry:
    pending, or (chained) already chained as its commit does, holding the chain's head. The holder
    lets go after 30 s; answers the status codes and how long the create took."""
    from app.audit.services import append, write_pending
    holding, done = threading.Event(), threading.Event()
    answers: list[int] = []

    def hold_ageo():
        with app.app_context():
            append(None, "test.hold", "test", None, "ageo", {})
            if chained:
                write_pending(db.session)
            else:
                db.session.execute(text("SELECT 1"))
            holding.set()
            done.wait(timeout=30)
            db.session.commit()

    holder = threading.Thread(target=hold_ageo)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        began = time.monotonic()
        answers.append(app.test_client().post(API, headers=headers, json=body("事案") | {"organization": organization})
                       .status_code)
        waited = time.monotonic() - began
    finally:
        done.set()
        holder.join(timeout=30)
    return answers, waited


@pytest.mark.parametrize("organization, chained", [
    ("saga", True),   # one body's committing transaction holds its chain's head; another body writes meanwhile
    ("ageo", False),  # write throughput: a transaction not yet committing holds no chain, not even its own body's
], ids=["bodies do not wait on each other", "a chain is locked only at the commit"])
def test_writers_do_not_wait_on_an_open_transaction(app, factory, engine_name, organization, chained):
    if engine_name != "postgresql":
        pytest.skip("SQLite has one write lock for the whole database")
    headers = factory.headers(factory.user({organization: ["csirt"]}))
    db.session.commit()
    answers, waited = create_while_ageo_is_open(app, headers, organization, chained=chained)
    assert answers == [201] and waited < 10, (answers, waited)


def test_processes_starting_together_make_one_key(tmp_path):
    from app.audit import keys
    made: list[str] = []
    barrier = threading.Barrier(8)

    def start(_n: int) -> None:
        barrier.wait(timeout=30)
        made.append(keys.load_audit_keyring({"INSTANCE_PATH": tmp_path}).current)

    from tests.concurrency import run_in_threads
    assert run_in_threads(start, 8) == []
    assert len(made) == 8 and len(set(made)) == 1
    assert len((tmp_path / "audit_keys").read_text().split()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit_keys"]  # no drafts left
