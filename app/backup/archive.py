"""A backup on disk: a directory, or a .tar.gz of one, optionally encrypted with age.

What may be in it is fixed: `manifest.json`, `tables/<table>.jsonl`, `evidence/<sha-256>` and
those two folders, nothing else: no links, devices, `..` or absolute names. An archive is read
member by member into a private folder (never with extractall), and refused once its members
add up to more than MAX_RATIO times its compressed size (a decompression bomb).
"""
from __future__ import annotations

import os
import re
import shutil
import tarfile
import zlib
from pathlib import Path

import pyrage

FILE_NAME = re.compile(r"manifest\.json|tables/[a-z_]+\.jsonl|evidence/[0-9a-f]{64}")
FOLDERS = {"tables", "evidence"}
MAX_RATIO = 200      # gzip reaches ~1000:1 on zeros; row dumps and logs stay well under this
SLACK = 10 << 20     # and a small archive may hold a few MiB of anything
AGE_MAGIC = b"age-encryption.org/v1"
ARCNAME = "backup"


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why."""


def private_file(path: Path):
    """A new file only its owner can read (0600), opened for binary writing."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def copy_private(source: Path, target: Path) -> None:
    with source.open("rb") as src, private_file(target) as out:
        shutil.copyfileobj(src, out, 1 << 20)


def is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz", ".age"))


def pack(root: Path, archive: Path) -> None:
    with private_file(archive) as out, tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(root, arcname=ARCNAME)


# --- age ----------------------------------------------------------------------------------

def recipients(value: str) -> list:
    """age recipients (age1…, or ssh-ed25519/ssh-rsa public keys): given, or one a line in a file."""
    lines = Path(value).read_text(encoding="utf-8").splitlines() if Path(value).is_file() else [value]
    found = []
    for line in (line.strip() for line in lines):
        if not line or line.startswith("#"):
            continue
        try:
            found.append(pyrage.ssh.Recipient.from_str(line) if line.startswith("ssh-")
                         else pyrage.x25519.Recipient.from_str(line))
        except pyrage.RecipientError as exc:
            raise BackupError(f"not an age recipient: {line[:20]}… ({exc})") from None
    if not found:
        raise BackupError(f"no age recipient in {value}")
    return found


def identities(path: Path) -> list:
    """The identities of an age identity file (AGE-SECRET-KEY-… lines) or an SSH private key."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise BackupError(f"cannot read the identity file {path}: {exc}") from None
    try:
        if b"AGE-SECRET-KEY-" in content:
            return [pyrage.x25519.Identity.from_str(line.strip()) for line in content.decode().splitlines()
                    if line.strip().startswith("AGE-SECRET-KEY-")]
        return [pyrage.ssh.Identity.from_buffer(content)]
    except (pyrage.IdentityError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is not an age identity file ({exc})") from None


def encrypt(plain: Path, target: Path, to: list) -> None:
    with private_file(target):
        pass  # created 0600 before age writes into it
    try:
        pyrage.encrypt_file(str(plain), str(target), to)
    except pyrage.EncryptError as exc:
        raise BackupError(f"cannot encrypt the backup: {exc}") from None


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(AGE_MAGIC)) == AGE_MAGIC


# --- reading ------------------------------------------------------------------------------

def _refuse(where: Path, name: str) -> BackupError:
    return BackupError(f"{where}: refused {name!r}: a backup holds only manifest.json, tables/<table>.jsonl and "
                       "evidence/<sha-256> files (no links, no other names)")


def check_directory(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink() or not (path.is_dir() and name in FOLDERS or path.is_file() and FILE_NAME.fullmatch(name)):
            raise _refuse(root, name)


def unpack(source: Path, tmp: Path, identity: Path | None) -> Path:
    """The backup's folder: `source` itself, or a private copy of the archive's members."""
    if source.is_dir():
        check_directory(source)
        return source
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    archive = source
    if is_encrypted(source):
        if identity is None:
            raise BackupError(f"{source} is encrypted: give the age identity file (--identity FILE or BACKUP_AGE_IDENTITY)")
        archive = tmp / "decrypted.tar.gz"
        keys = identities(identity)
        try:
            pyrage.decrypt_file(str(source), str(archive), keys)
        except pyrage.DecryptError as exc:
            raise BackupError(f"{source} cannot be decrypted with {identity}: {exc}") from None
    root = tmp / ARCNAME
    root.mkdir(mode=0o700)
    _extract(archive, root, source)
    return root


def _extract(archive: Path, root: Path, source: Path) -> None:
    budget, total, seen = MAX_RATIO * archive.stat().st_size + SLACK, 0, set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name.rstrip("/") == ARCNAME and member.isdir():
                    continue
                name = member.name.removeprefix(f"{ARCNAME}/")
                if name == member.name or name in seen:
                    raise _refuse(source, member.name)
                seen.add(name)
                if member.isdir() and name.rstrip("/") in FOLDERS:
                    (root / name).mkdir(mode=0o700, exist_ok=True)
                    continue
                if not member.isfile() or not FILE_NAME.fullmatch(name):
                    raise _refuse(source, member.name)
                total += member.size
                if total > budget:
                    raise BackupError(f"{source} expands to more than {budget} bytes ({MAX_RATIO} times its size): "
                                      "refused as a decompression bomb")
                (root / name).parent.mkdir(mode=0o700, exist_ok=True)
                with tar.extractfile(member) as src, private_file(root / name) as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BackupError(f"{source} is not a backup archive: {exc}") from exc
