"""Appending to and verifying the audit log."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

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
    seq, prev_hash = session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(last_id=AuditHead.last_id + 1)
        .returning(AuditHead.last_id, AuditHead.last_hash)
    ).one()
    entry = AuditEntry(
        id=seq, at=now_utc(), actor_id=getattr(actor, "id", None),
        actor=getattr(actor, "email", None) or "system", action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id), organization=organization,
        payload=canonical_json(payload or {}), prev_hash=prev_hash,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=entry.hash))
    return entry


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
