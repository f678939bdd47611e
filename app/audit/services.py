"""Appending to the audit log: one keyed chain per body (and one for entries without a body)."""
from __future__ import annotations

from itertools import groupby
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.audit.chain import GENESIS, canonical_json, legacy_hash, material
from app.audit.keys import audit_keyring
from app.audit.models import LEGACY_CHAIN, SYSTEM_CHAIN, AuditEntry, AuditHead
from app.audit.verify import VerifyResult, verify
from app.core.db import db
from app.core.timeutil import now_utc

__all__ = ["GENESIS", "VerifyResult", "append", "append_many", "canonical_json", "legacy_hash", "verify"]


PENDING = "audit_pending"  # Session.info key: the transaction's entries, chained at its commit


def append(actor, action: str, object_type: str, object_id: Any = None, organization: str | None = None,
           payload: dict | None = None) -> AuditEntry:
    """Adds one entry to the transaction; it is chained and written when the transaction commits."""
    if actor is not None and getattr(actor, "id", 0) is None:
        db.session.flush()  # a person added in this transaction: their id is recorded
    entry = _entry(actor, action, object_type, object_id, organization, payload)
    _add(db.session, [entry])
    return entry


def append_many(items: list[tuple[Any, str, str, Any, str | None, dict | None]]) -> None:
    """Adds entries (actor, action, object_type, object_id, organization, payload) in order: the
    ticker records thousands of steps per batch, written with one head update per chain and one
    multi-row INSERT at the commit."""
    _add(db.session, [_entry(*item) for item in items])


def _add(session: Session, entries: list[AuditEntry]) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT may roll back alone, and its entries with it
        _write(session, entries)
    else:
        session.info.setdefault(PENDING, []).extend(entries)


@event.listens_for(Session, "before_commit")
def write_pending(session: Session) -> None:
    """Chains and inserts the transaction's entries. Each chain's head row UPDATE takes a row lock
    (PostgreSQL; SQLite: the write lock) until the COMMIT, so that the writers of one body append one
    after another. Done here, at the end, the lock is held for the commit alone, not for the whole
    request (deadlines, escalation, serialization), and the chains are always locked in name order,
    so two transactions that write to the same two chains cannot wait on each other."""
    entries = session.info.pop(PENDING, None)
    if entries:
        _write(session, entries)


def _write(session: Session, entries: list[AuditEntry]) -> None:
    session.flush()  # the transaction's other writes first: the chain's lock is taken last
    for chain, linked in groupby(sorted(entries, key=lambda e: e.chain), key=lambda e: e.chain):
        _link(session, chain, list(linked))
    session.execute(insert(AuditEntry), [{column: getattr(e, column) for column in _COLUMNS} for e in entries])


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING, None)


_COLUMNS = ("chain", "seq", "key_id", "at", "actor_id", "actor", "action", "object_type", "object_id",
            "organization", "payload", "prev_hash", "hash")


def _entry(actor, action, object_type, object_id, organization, payload) -> AuditEntry:
    return AuditEntry(
        chain=organization or SYSTEM_CHAIN, at=now_utc(), actor_id=getattr(actor, "id", None),
        actor=getattr(actor, "email", None) or "system", action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id), organization=organization,
        payload=canonical_json(payload or {}),
    )


def _link(session: Session, chain: str, entries: list[AuditEntry]) -> None:
    """Reserves len(entries) sequence numbers of the chain, links and signs the entries."""
    keyring = audit_keyring()
    last_seq, prev_hash = _reserve(session, chain, len(entries))
    for seq, entry in enumerate(entries, start=last_seq - len(entries) + 1):
        entry.seq, entry.key_id, entry.prev_hash = seq, keyring.current, prev_hash
        entry.hash = prev_hash = keyring.mac(keyring.current, material(entry))
    session.execute(update(AuditHead).where(AuditHead.chain == chain).values(last_hash=prev_hash))


def _reserve(session: Session, chain: str, count: int) -> tuple[int, str]:
    reserve = (update(AuditHead).where(AuditHead.chain == chain).values(last_id=AuditHead.last_id + count)
               .returning(AuditHead.last_id, AuditHead.last_hash))
    row = session.execute(reserve).one_or_none()
    if row is None:  # the chain's first entry: a new chain starts where the sealed legacy chain ends
        start = session.scalar(select(AuditHead.last_hash).where(AuditHead.chain == LEGACY_CHAIN)) or GENESIS
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(AuditHead).values(chain=chain, last_id=0, last_hash=start)
                        .on_conflict_do_nothing(index_elements=["chain"]))
        row = session.execute(reserve).one()
    return row[0], row[1]
