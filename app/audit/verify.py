"""Verifying the audit chains, and the checkpoints of their heads kept outside the database.

A checkpoint is one JSON line: the time, every chain's head (sequence number, hash, entry id)
and an HMAC over all of it with the audit key. `<INSTANCE_PATH>/audit-checkpoints` collects
them (append-only); copies kept elsewhere are checked with `audit verify --against FILE`.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, select

from app.audit.chain import GENESIS, canonical_json, entry_mac, legacy_hash
from app.audit.keys import Keyring, audit_keyring
from app.audit.models import LEGACY_CHAIN, AuditEntry, AuditHead
from app.core import jsonbody as bounded_json
from app.core.db import db
from app.core.timeutil import iso_utc, now_utc

log = logging.getLogger(__name__)
CHECKPOINT_FILE = "audit-checkpoints"
CHECKPOINT_TYPE = "audit-checkpoint"


class CheckpointError(Exception):
    """A checkpoint that cannot be read or is not authentic."""


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    first_bad: int | None
    reason: str | None = None
    checkpoints: int = 0

    def as_dict(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "first_bad": self.first_bad}


# --- checkpoints ---------------------------------------------------------------------------

def checkpoint_path() -> Path:
    return Path(current_app.config["INSTANCE_PATH"]) / CHECKPOINT_FILE


def make_checkpoint(conn=None) -> dict:
    """The heads of every chain as `conn` (a connection or session; default the app's) sees them, signed."""
    conn = conn or db.session
    keyring = audit_keyring()
    rows = conn.execute(
        select(AuditHead.chain, AuditHead.last_id, AuditHead.last_hash, AuditEntry.id)
        .outerjoin(AuditEntry, and_(AuditEntry.chain == AuditHead.chain, AuditEntry.seq == AuditHead.last_id))
        .order_by(AuditHead.chain))
    body = {"type": CHECKPOINT_TYPE, "at": iso_utc(now_utc()), "key_id": keyring.current,
            "heads": {chain: {"seq": seq, "hash": last_hash, "entry": entry} for chain, seq, last_hash, entry in rows}}
    return body | {"mac": keyring.mac(keyring.current, canonical_json(body))}


def write_checkpoint() -> dict:
    """Appends a checkpoint to the instance's file (created with mode 0600) and to the log."""
    checkpoint = make_checkpoint()
    db.session.rollback()  # read only
    record_checkpoint(checkpoint)
    return checkpoint


def record_checkpoint(checkpoint: dict) -> None:
    line = json.dumps(checkpoint, ensure_ascii=False, sort_keys=True)
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())
    log.info("audit checkpoint %s", line)


def read_checkpoints(path: Path) -> list[tuple[str, dict]]:
    """(label, checkpoint) for every line of the file; a line that is not one is an error."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        label = f"{path} line {number}"
        try:
            checkpoint = bounded_json.loads(line)
        except ValueError:
            raise CheckpointError(f"{label} is not a checkpoint (not JSON)") from None
        found.append((label, checkpoint))
    return found


def check_checkpoint(label: str, checkpoint, keyring: Keyring) -> dict:
    if not isinstance(checkpoint, dict) or checkpoint.get("type") != CHECKPOINT_TYPE or not isinstance(
            checkpoint.get("heads"), dict):
        raise CheckpointError(f"{label} is not an audit checkpoint")
    body = {k: v for k, v in checkpoint.items() if k != "mac"}
    if checkpoint.get("key_id") not in keyring.keys:
        raise CheckpointError(f"{label} is signed with an unknown key id {checkpoint.get('key_id')!r}")
    if not keyring.matches(checkpoint["key_id"], canonical_json(body), checkpoint.get("mac", "")):
        raise CheckpointError(f"{label} does not match its MAC: it was altered or not made with this instance's key")
    return checkpoint


@dataclass
class _Expected:
    """What the checkpoints say each chain held: (chain, seq) → (hash, entry id, label)."""
    at: dict[tuple[str, int], tuple[str, int | None, str]] = field(default_factory=dict)
    last: dict[str, tuple[int, int | None, str]] = field(default_factory=dict)

    def add(self, label: str, checkpoint: dict) -> None:
        for chain, head in checkpoint["heads"].items():
            seq, entry = int(head["seq"]), head.get("entry")
            if seq <= 0:
                continue
            self.at[(chain, seq)] = (head["hash"], entry, label)
            if seq > self.last.get(chain, (0, None, ""))[0]:
                self.last[chain] = (seq, entry, label)


def _expected(against: Iterable[Path], extra: Iterable[tuple[str, dict]], keyring: Keyring) -> tuple[_Expected, int]:
    sources = [checkpoint_path(), *against]
    expected, count = _Expected(), 0
    labelled = [item for path in sources if path.exists() for item in read_checkpoints(path)] + list(extra)
    for label, checkpoint in labelled:
        expected.add(label, check_checkpoint(label, checkpoint, keyring))
        count += 1
    return expected, count


# --- verification --------------------------------------------------------------------------

class _Broken(Exception):
    def __init__(self, entry_id: int | None, reason: str):
        super().__init__(reason)
        self.entry_id, self.reason = entry_id, reason


def verify(against: Iterable[Path] = (), extra: Iterable[tuple[str, dict]] = ()) -> VerifyResult:
    """Walks every chain and reports the first entry whose sequence, link or MAC breaks, or that
    differs from or is missing since a checkpoint (`against`: more checkpoint files; `extra`:
    (label, checkpoint) pairs, e.g. a backup's)."""
    keyring = audit_keyring(fresh=True)
    try:
        expected, checkpoints = _expected(against, extra, keyring)
    except (CheckpointError, OSError) as exc:
        return VerifyResult(False, 0, None, str(exc))
    heads = {chain: (seq, last_hash) for chain, seq, last_hash in
             db.session.execute(select(AuditHead.chain, AuditHead.last_id, AuditHead.last_hash))}
    walk = _Walk(keyring, expected, heads)
    try:
        walk.run()
    except _Broken as broken:
        return VerifyResult(False, walk.count, broken.entry_id, broken.reason, checkpoints)
    return VerifyResult(True, walk.count, None, None, checkpoints)


class _Walk:
    def __init__(self, keyring: Keyring, expected: _Expected, heads: dict[str, tuple[int, str]]):
        self.keyring, self.expected, self.heads = keyring, expected, dict(heads)
        # every keyed chain starts where the legacy chain ends: rewriting that one changes their links
        self.genesis = heads.get(LEGACY_CHAIN, (0, GENESIS))[1]
        self.count = 0
        self.seen: set[str] = set()

    def run(self) -> None:
        chain, seq, prev, last_id = None, 0, GENESIS, None
        rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.chain, AuditEntry.seq)
                                  .execution_options(yield_per=1000))
        for entry in rows:
            if entry.chain != chain:
                if chain is not None:
                    self.finish(chain, seq, prev, last_id)
                chain, seq, prev = entry.chain, 0, GENESIS if entry.chain == LEGACY_CHAIN else self.genesis
            self.count += 1
            self.check(entry, seq + 1, prev)
            seq, prev, last_id = entry.seq, entry.hash, entry.id
        if chain is not None:
            self.finish(chain, seq, prev, last_id)
        for empty in sorted((set(self.heads) | set(self.expected.last)) - self.seen):  # chains without entries
            self.finish(empty, 0, GENESIS, None)

    def check(self, entry: AuditEntry, seq: int, prev: str) -> None:
        where = f"entry {entry.id} ({entry.chain} #{entry.seq})"
        if entry.seq != seq:
            gap = f"#{seq} is" if entry.seq == seq + 1 else f"#{seq} to #{entry.seq - 1} are"
            raise _Broken(entry.id, f"{where}: {gap} missing from the chain")
        if entry.prev_hash != prev:
            raise _Broken(entry.id, f"{where} does not link to the entry before it")
        if entry.chain == LEGACY_CHAIN:
            if entry.key_id is not None or legacy_hash(entry) != entry.hash:
                raise _Broken(entry.id, f"{where} does not match its hash")
        elif entry.key_id not in self.keyring.keys:
            raise _Broken(entry.id, f"{where} is signed with an unknown key id {entry.key_id!r}")
        elif entry_mac(entry, self.keyring) != entry.hash:
            raise _Broken(entry.id, f"{where} does not match its MAC: altered, or re-hashed without the key")
        known = self.expected.at.get((entry.chain, entry.seq))
        if known and (known[0] != entry.hash or known[1] not in (None, entry.id)):
            raise _Broken(entry.id, f"{where} differs from the checkpoint ({known[2]})")

    def finish(self, chain: str, last_seq: int, last_hash: str, last_id: int | None) -> None:
        """The end of a chain: nothing a checkpoint saw may be missing, and the head must agree."""
        self.seen.add(chain)
        checkpointed = self.expected.last.get(chain)
        if checkpointed and checkpointed[0] > last_seq:
            seq, entry, label = checkpointed
            raise _Broken(entry, f"{chain}: entries after #{last_seq} are missing; the checkpoint ({label}) "
                                 f"names #{seq} (entry {entry})")
        head = self.heads.pop(chain, None)
        if last_seq == 0 and (head is None or head[0] == 0):
            return
        if head is None or head != (last_seq, last_hash):
            said = "no head" if head is None else f"its head says #{head[0]}"
            raise _Broken(last_id, f"{chain}: the chain ends at #{last_seq} but {said}")
