"""Appending to and verifying the audit log."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from app.audit.models import AuditEntry, AuditHead
from app.core.db import db
from app.core.timeutil import iso_utc, now_utc

GENESIS = "0" * 64


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, (dt.date, set, frozenset)):
        return value.isoformat() if isinstance(value, dt.date) else sorted(value)
    return str(value)


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_default)


def entry_hash(entry: AuditEntry) -> str:
    material = canonical_json({
        "id": entry.id, "at": iso_utc(entry.at), "actor": entry.actor, "actor_id": entry.actor_id,
        "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
        "organization": entry.organization, "payload": entry.payload, "prev": entry.prev_hash,
    })
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def append(actor, action: str, object_type: str, object_id: Any = None, organization: str | None = None,
           payload: dict | None = None) -> AuditEntry:
    """Adds one entry. The head row's UPDATE takes a row lock (PostgreSQL) or the write lock
    (SQLite) until commit, so concurrent requests append one after another."""
    session = db.session
    session.flush()
    entry = _chain([_entry(actor, action, object_type, object_id, organization, payload)])[0]
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=entry.hash))
    return entry


def append_many(items: list[tuple[Any, str, str, Any, str | None, dict | None]]) -> None:
    """Adds entries (actor, action, object_type, object_id, organization, payload) in order, with
    one head update and one multi-row INSERT: the ticker records thousands of steps per batch."""
    if not items:
        return
    db.session.flush()
    entries = _chain([_entry(*item) for item in items])
    db.session.execute(insert(AuditEntry), [{column: getattr(e, column) for column in _COLUMNS} for e in entries])
    db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=entries[-1].hash))


_COLUMNS = ("id", "at", "actor_id", "actor", "action", "object_type", "object_id", "organization", "payload",
            "prev_hash", "hash")


def _entry(actor, action, object_type, object_id, organization, payload) -> AuditEntry:
    return AuditEntry(
        at=now_utc(), actor_id=getattr(actor, "id", None), actor=getattr(actor, "email", None) or "system",
        action=action, object_type=object_type, object_id=None if object_id is None else str(object_id),
        organization=organization, payload=canonical_json(payload or {}),
    )


def _chain(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Reserves len(entries) sequence numbers on the head row and links the entries."""
    last_id, prev_hash = db.session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(last_id=AuditHead.last_id + len(entries))
        .returning(AuditHead.last_id, AuditHead.last_hash)
    ).one()
    for number, entry in enumerate(entries, start=last_id - len(entries) + 1):
        entry.id, entry.prev_hash = number, prev_hash
        entry.hash = prev_hash = entry_hash(entry)
    return entries


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    first_bad: int | None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "first_bad": self.first_bad}


def verify() -> VerifyResult:
    """Walks the whole chain and reports the first entry whose sequence, link or hash breaks.

    After a DELETE that is the entry following the gap; after deleting the last entries, the
    first missing id (the head row still remembers how far the chain went).
    """
    session = db.session
    expected_id, prev_hash, count = 1, GENESIS, 0
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000))
    for entry in rows:
        count += 1
        if entry.id != expected_id or entry.prev_hash != prev_hash or entry_hash(entry) != entry.hash:
            return VerifyResult(False, count, entry.id)
        expected_id, prev_hash = entry.id + 1, entry.hash
    head = session.get(AuditHead, 1)
    if head is None or head.last_id != expected_id - 1 or head.last_hash != prev_hash:
        return VerifyResult(False, count, expected_id)
    return VerifyResult(True, count, None)
