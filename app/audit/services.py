"""Appending to the audit log: one keyed chain per body (and one for entries without a body)."""
from __future__ import annotations

from itertools import groupby
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.audit.chain import GENESIS, canonical_json, legacy_hash, material
from app.audit.keys import audit_keyring
from app.audit.models import LEGACY_CHAIN, SYSTEM_CHAIN, AuditEntry, AuditHead
from app.audit.verify import VerifyResult, verify
from app.core.db import db
from app.core.timeutil import now_utc

__all__ = ["GENESIS", "VerifyResult", "append", "append_many", "canonical_json", "legacy_hash", "verify"]


def append(actor, action: str, object_type: str, object_id: Any = None, organization: str | None = None,
           payload: dict | None = None) -> AuditEntry:
    """Adds one entry. Its chain's head row UPDATE takes a row lock (PostgreSQL; SQLite: the write
    lock) until commit, so concurrent requests of one body append one after another."""
    session = db.session
    session.flush()
    entry = _entry(actor, action, object_type, object_id, organization, payload)
    _link(entry.chain, [entry])
    session.add(entry)
    return entry


def append_many(items: list[tuple[Any, str, str, Any, str | None, dict | None]]) -> None:
    """Adds entries (actor, action, object_type, object_id, organization, payload) in order, with
    one head update per chain and one multi-row INSERT: the ticker records thousands of steps per
    batch. The chains are locked in name order, so two batches cannot wait on each other."""
    if not items:
        return
    db.session.flush()
    entries = [_entry(*item) for item in items]
    for chain, linked in groupby(sorted(entries, key=lambda e: e.chain), key=lambda e: e.chain):
        _link(chain, list(linked))
    db.session.execute(insert(AuditEntry), [{column: getattr(e, column) for column in _COLUMNS} for e in entries])


_COLUMNS = ("chain", "seq", "key_id", "at", "actor_id", "actor", "action", "object_type", "object_id",
            "organization", "payload", "prev_hash", "hash")


def _entry(actor, action, object_type, object_id, organization, payload) -> AuditEntry:
    return AuditEntry(
        chain=organization or SYSTEM_CHAIN, at=now_utc(), actor_id=getattr(actor, "id", None),
        actor=getattr(actor, "email", None) or "system", action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id), organization=organization,
        payload=canonical_json(payload or {}),
    )


def _link(chain: str, entries: list[AuditEntry]) -> None:
    """Reserves len(entries) sequence numbers of the chain, links and signs the entries."""
    keyring = audit_keyring()
    last_seq, prev_hash = _reserve(chain, len(entries))
    for seq, entry in enumerate(entries, start=last_seq - len(entries) + 1):
        entry.seq, entry.key_id, entry.prev_hash = seq, keyring.current, prev_hash
        entry.hash = prev_hash = keyring.mac(keyring.current, material(entry))
    db.session.execute(update(AuditHead).where(AuditHead.chain == chain).values(last_hash=prev_hash))


def _reserve(chain: str, count: int) -> tuple[int, str]:
    reserve = (update(AuditHead).where(AuditHead.chain == chain).values(last_id=AuditHead.last_id + count)
               .returning(AuditHead.last_id, AuditHead.last_hash))
    row = db.session.execute(reserve).one_or_none()
    if row is None:  # the chain's first entry: a new chain starts where the sealed legacy chain ends
        start = db.session.scalar(select(AuditHead.last_hash).where(AuditHead.chain == LEGACY_CHAIN)) or GENESIS
        dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
        db.session.execute(dialect.insert(AuditHead).values(chain=chain, last_id=0, last_hash=start)
                           .on_conflict_do_nothing(index_elements=["chain"]))
        row = db.session.execute(reserve).one()
    return row[0], row[1]
