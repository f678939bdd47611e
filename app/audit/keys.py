"""The keys of the audit chain and of backups, kept outside the database.

AUDIT_KEY (environment) signs; without it the newest key of `<INSTANCE_PATH>/audit_keys` does
(one key a line, newest last; generated with mode 0600 on first start, like `secret_key`).
Older keys stay readable for verification: the other lines of that file and AUDIT_KEYS_OLD
(comma-separated). Each entry records the id of its key, a fingerprint that reveals nothing of it.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

KEY_FILE = "audit_keys"
BACKUP_LABEL = b"csirt-backup-key/1"


class AuditKeyError(Exception):
    """A key cannot be read or rotated; the message says why."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"csirt-key-id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]  # id → key
    current: str            # the id of the key that signs

    @classmethod
    def of(cls, keys: list[bytes], current: bytes) -> Keyring:
        return cls({key_id(k): k for k in [*keys, current]}, key_id(current))

    def mac(self, kid: str | None, material: str) -> str | None:
        """The HMAC-SHA256 of `material` with key `kid`, or None if that key is unknown."""
        key = self.keys.get(kid or "")
        return None if key is None else hmac.new(key, material.encode("utf-8"), hashlib.sha256).hexdigest()

    def matches(self, kid: str | None, material: str, mac: str) -> bool:
        expected = self.mac(kid, material)
        return expected is not None and hmac.compare_digest(expected, str(mac))

    def derived(self, label: bytes) -> Keyring:
        """A keyring of keys derived from these (HMAC of a label), e.g. the default backup key."""
        derive = {kid: hmac.new(key, label, hashlib.sha256).digest() for kid, key in self.keys.items()}
        return Keyring({key_id(k): k for k in derive.values()}, key_id(derive[self.current]))


def _split(value: str | None) -> list[bytes]:
    return [part.strip().encode() for part in (value or "").split(",") if part.strip()]


def _read_file(path: Path) -> list[bytes]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip().encode() for line in lines if line.strip() and not line.startswith("#")]


def _append_key(path: Path) -> bytes:
    key = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(key + "\n")
    path.chmod(0o600)
    return key.encode()


def _first_key(path: Path) -> list[bytes]:
    """The instance's first key, made once however many processes start together: written whole
    to a private file, then linked into place (which fails if another process got there first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_hex(32) + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return _read_file(path)


def load_audit_keyring(config) -> Keyring:
    path = Path(config["INSTANCE_PATH"]) / KEY_FILE
    from_file = _read_file(path)
    old = from_file + _split(config.get("AUDIT_KEYS_OLD"))
    if config.get("AUDIT_KEY"):
        return Keyring.of(old, str(config["AUDIT_KEY"]).encode())
    if not from_file:
        from_file = _first_key(path)
    return Keyring.of(old, from_file[-1])


def load_backup_keyring(config, audit: Keyring) -> Keyring:
    """BACKUP_KEY (and BACKUP_KEYS_OLD) if set; the keys derived from the audit keys are always
    accepted, so backups made before BACKUP_KEY was set still restore."""
    derived = audit.derived(BACKUP_LABEL)
    if not config.get("BACKUP_KEY"):
        return derived
    own = Keyring.of(_split(config.get("BACKUP_KEYS_OLD")), str(config["BACKUP_KEY"]).encode())
    return Keyring(derived.keys | own.keys, own.current)


def rotate(config) -> str:
    """Appends a new key to the instance's key file; it signs from the next start on."""
    if config.get("AUDIT_KEY"):
        raise AuditKeyError("AUDIT_KEY is set in the environment: set it to a new key and add the old one to AUDIT_KEYS_OLD")
    return key_id(_append_key(Path(config["INSTANCE_PATH"]) / KEY_FILE))


def init_app(app) -> None:
    audit = load_audit_keyring(app.config)
    app.extensions["audit_keyring"] = audit
    app.extensions["backup_keyring"] = load_backup_keyring(app.config, audit)


def audit_keyring(fresh: bool = False) -> Keyring:
    """The keys this process signs with; `fresh`: read again, with the keys another process (a
    restart after `audit rotate-key`) may have added since, for verifying."""
    if fresh:
        return load_audit_keyring(current_app.config)
    return current_app.extensions["audit_keyring"]


def backup_keyring() -> Keyring:
    return current_app.extensions["backup_keyring"]
