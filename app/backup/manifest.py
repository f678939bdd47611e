"""The backup's manifest: signed with the backup key, and every file checked against it.

The signature is an HMAC over the manifest's canonical JSON without it; the manifest holds the
SHA-256 of every file and the audit log's checkpoint at the snapshot, so nothing in a backup can
be changed and the manifest recomputed without the key (which is not in the backup).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from app.audit.chain import canonical_json
from app.audit.keys import Keyring
from app.backup.archive import BackupError
from app.core import jsonbody as bounded_json

FORMAT = "csirt-backup/2"
UNSIGNED_FORMATS = {"csirt-backup/1"}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sign(manifest: dict, keyring: Keyring) -> dict:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return body | {"signature": {"key_id": keyring.current, "mac": keyring.mac(keyring.current, canonical_json(body))}}


def read_manifest(root: Path, keyring: Keyring) -> dict:
    try:
        manifest = bounded_json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"no readable manifest.json in {root}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise BackupError("manifest.json is not a backup manifest")
    if manifest.get("format") in UNSIGNED_FORMATS:
        raise BackupError(f"the backup is unsigned (format {manifest['format']!r}, made before backups were signed): "
                          "refused, as anyone could have changed it")
    if manifest.get("format") != FORMAT:
        raise BackupError(f"not a backup of this application (format {manifest.get('format')!r})")
    signature = manifest.get("signature")
    if not isinstance(signature, dict):
        raise BackupError("the backup is unsigned (manifest.json has no signature): refused")
    if signature.get("key_id") not in keyring.keys:
        raise BackupError(f"the backup is signed with an unknown key (id {signature.get('key_id')!r}): set the "
                          "BACKUP_KEY or AUDIT_KEY of the instance that made it")
    body = {k: v for k, v in manifest.items() if k != "signature"}
    if not keyring.matches(signature["key_id"], canonical_json(body), signature.get("mac", "")):
        raise BackupError("manifest.json does not match its signature: the backup was altered")
    return manifest


def check_files(root: Path, manifest: dict) -> None:
    """Every file is the manifest's, with its hash; evidence is named by its content's hash and
    is exactly what the evidence rows name."""
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {"manifest.json"}
    if present != set(manifest["files"]):
        raise BackupError(f"files differ from the manifest: {sorted(present ^ set(manifest['files']))[:5]}")
    for name, digest in manifest["files"].items():
        actual = sha256_of(root / name)
        if actual != digest:
            raise BackupError(f"{name} does not match its SHA-256 in the manifest")
        if name.startswith("evidence/") and actual != name.split("/", 1)[1]:
            raise BackupError(f"{name} does not hold the file its name is the SHA-256 of")
    rows = root / "tables" / "evidence.jsonl"
    named = {json.loads(line)["sha256"] for line in rows.read_text(encoding="utf-8").splitlines()} if rows.is_file() else set()
    files = {name.split("/", 1)[1] for name in present if name.startswith("evidence/")}
    if named != files:
        raise BackupError(f"evidence rows and files differ: {sorted(named ^ files)[:5]}")
