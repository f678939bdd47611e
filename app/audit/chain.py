"""What an audit entry's hash covers: the keyed MAC of entries since 0012, and the unkeyed
SHA-256 of the entries written before (the sealed legacy chain)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from app.audit.keys import Keyring
from app.core.timeutil import iso_utc

GENESIS = "0" * 64


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, (dt.date, set, frozenset)):
        return value.isoformat() if isinstance(value, dt.date) else sorted(value)
    return str(value)


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_default)


def _fields(entry) -> dict:
    return {"at": iso_utc(entry.at), "actor": entry.actor, "actor_id": entry.actor_id, "action": entry.action,
            "object_type": entry.object_type, "object_id": entry.object_id, "organization": entry.organization,
            "payload": entry.payload, "prev": entry.prev_hash}


def material(entry) -> str:
    """Everything the MAC covers: the fields, the chain and place in it, the key's id, the link."""
    return canonical_json(_fields(entry) | {"chain": entry.chain, "seq": entry.seq, "key_id": entry.key_id})


def entry_mac(entry, keyring: Keyring) -> str | None:
    return keyring.mac(entry.key_id, material(entry))


def legacy_hash(entry) -> str:
    """The unkeyed hash entries had before 0012 (kept to verify them, never to write)."""
    return hashlib.sha256(canonical_json(_fields(entry) | {"id": entry.id}).encode("utf-8")).hexdigest()
