"""Backup and restore of the database and the evidence files together, on either engine.

A backup is a directory (or a .tar.gz of one, optionally age-encrypted), every part mode 0600:
`manifest.json` (schema revision, row counts, the SHA-256 of every file and the audit log's
checkpoint at the snapshot, signed with the backup key), `tables/<table>.jsonl` (every row, in
primary-key order; not incident_counts, which the database derives) and `evidence/<sha256>`
(each preserved file, named by its hash). The rows are read from one
snapshot: on SQLite from a copy made with SQLite's online backup API, on PostgreSQL inside one
REPEATABLE READ transaction. Evidence files never change once written (content-addressed), so
those the snapshot names are all there is to copy.

Being logical rather than a file copy, a backup of SQLite restores into PostgreSQL and back.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import Connection, Date, Engine, func, insert, inspect, select, text

from app.audit.keys import Keyring, backup_keyring
from app.audit.verify import make_checkpoint
from app.backup.archive import BackupError, copy_private, encrypt, is_archive, pack, private_file, unpack
from app.backup.manifest import FORMAT, check_files, read_manifest, sha256_of, sign
from app.core.db import UTCDateTime, make_engine
from app.core.migrate import alembic_config, upgrade_head
from app.incidents.counts import bulk_load
from app.incidents.evidence import blob_path
from app.models import Base

__all__ = ["BackupError", "create_backup", "restore_backup", "verify_backup"]
BATCH = 1000
# Rows an instance has once initialised (`init`), replaced by the backup's; any other row means
# it is in use and a restore is refused. Named as people know them:
SETUP_TABLES = {"organizations", "tick_jobs", "audit_head", "incident_counts", "login_failures"}
KNOWN_AS = {"incidents": "incidents", "users": "people", "audit_log": "audit entries"}


def _encode(value):
    if isinstance(value, dt.date):  # datetimes and dates (the risk register's days)
        return value.isoformat()
    return value


@contextmanager
def _snapshot(database_url: str) -> Iterator[Connection]:
    if database_url.startswith("sqlite"):
        source = Path(database_url.split("///", 1)[1])
        if not source.is_file():
            raise BackupError(f"no database at {source}")
        with tempfile.TemporaryDirectory(prefix="csirt-snapshot-") as tmp:
            copy = Path(tmp) / "snapshot.db"
            live, target = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True), sqlite3.connect(copy)
            try:
                live.backup(target)
            finally:
                live.close()
                target.close()
            engine = make_engine(f"sqlite:///{copy}")
            try:
                with engine.connect() as conn:
                    yield conn
            finally:
                engine.dispose()
        return
    engine = make_engine(database_url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            yield conn
    finally:
        engine.dispose()


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def create_backup(database_url: str, evidence_dir: Path, target: Path, recipients: list | None = None,
                  keyring: Keyring | None = None) -> dict:
    """Writes the backup to `target` (a new directory, or a .tar.gz file; encrypted to the age
    `recipients` if given, always a file then); returns the manifest."""
    keyring = keyring or backup_keyring()
    archive = recipients is not None or is_archive(target)
    if target.exists():
        raise BackupError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    # built beside the target (in a 0700 folder) and renamed into place when complete: a failed backup leaves nothing
    with tempfile.TemporaryDirectory(prefix=".csirt-backup-", dir=target.parent) as tmp:
        root = Path(tmp) / "backup"
        for folder in (root, root / "tables", root / "evidence"):
            folder.mkdir(mode=0o700)
        manifest = {"format": FORMAT, "created_at": dt.datetime.now(dt.UTC).isoformat(), "tables": {}, "files": {}}
        with _snapshot(database_url) as conn:
            manifest["revision"] = _revision(conn)
            manifest["audit"] = make_checkpoint(conn)  # the heads in this snapshot, for after the restore
            for table in _backed_up_tables():
                manifest["tables"][table.name] = _dump(conn, table, root / "tables" / f"{table.name}.jsonl")
            hashes = conn.scalars(select(Base.metadata.tables["evidence"].c.sha256).distinct()).all()
        for sha in hashes:
            source = blob_path(sha, evidence_dir)
            if not source.is_file():
                raise BackupError(f"evidence file {sha} is missing from {evidence_dir}")
            copy_private(source, root / "evidence" / sha)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            manifest["files"][path.relative_to(root).as_posix()] = sha256_of(path)
        manifest = sign(manifest, keyring)
        with private_file(root / "manifest.json") as out:
            out.write(json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        if not archive:
            root.rename(target)
            return manifest
        packed = Path(tmp) / "backup.tar.gz"
        pack(root, packed)
        if recipients is not None:
            encrypt(packed, Path(tmp) / "backup.age", recipients)
            packed = Path(tmp) / "backup.age"
        packed.rename(target)
    return manifest


def _dump(conn: Connection, table, path: Path) -> int:
    count = 0
    with private_file(path) as out:
        rows = conn.execute(select(table).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH))
        for row in rows:
            out.write((json.dumps({k: _encode(v) for k, v in row._mapping.items()}, ensure_ascii=False) + "\n")
                      .encode("utf-8"))
            count += 1
    return count


def _backed_up_tables() -> list:
    """Every table but those the database derives from the others (incident_counts)."""
    return [t for t in Base.metadata.sorted_tables if not t.info.get("derived")]


def verify_backup(root: Path, keyring: Keyring | None = None) -> dict:
    """Checks the manifest's signature, then every file against it, before anything is restored."""
    manifest = read_manifest(root, keyring or backup_keyring())
    check_files(root, manifest)
    return manifest


def _decode_row(table, raw: dict) -> dict:
    row = {}
    for column in table.columns:
        if column.name not in raw:
            continue  # added by a later migration: its default applies when the database is upgraded
        value = raw[column.name]
        if value is not None and isinstance(column.type, UTCDateTime):
            value = dt.datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, Date):
            value = dt.date.fromisoformat(value)
        row[column.name] = value
    return row


def _in_use(engine: Engine) -> list[str]:
    """What the database holds beyond what `init` puts there, e.g. ["incidents: 3", "people: 2"]."""
    with engine.connect() as conn:
        existing = set(inspect(conn).get_table_names())
        counts = [(t.name, conn.scalar(select(func.count()).select_from(t))) for t in Base.metadata.sorted_tables
                  if t.name in existing and t.name not in SETUP_TABLES]
    return [f"{KNOWN_AS.get(name, name)}: {count}" for name, count in counts if count]


def _migrate_to(database_url: str, engine: Engine, revision: str | None) -> None:
    """An empty or only initialised database, migrated to the backup's schema (down if need be)."""
    with engine.connect() as conn:
        current = _revision(conn)
    cfg = alembic_config(database_url)
    try:
        if current is None or revision is None:
            command.upgrade(cfg, revision or "base")
        elif current != revision:
            command.downgrade(cfg, revision)  # an initialised newer schema: nothing but the setup rows in it
    except CommandError as exc:
        raise BackupError(f"cannot bring the database to the backup's schema {revision}: {exc}") from exc


def restore_backup(database_url: str, evidence_dir: Path, source: Path, identity: Path | None = None,
                   keyring: Keyring | None = None) -> dict:
    """Restores into an empty or only initialised database (migrated here to the backup's
    revision, then to head); answers the manifest."""
    with tempfile.TemporaryDirectory(prefix="csirt-restore-") as tmp:
        root = unpack(source, Path(tmp), identity)
        manifest = verify_backup(root, keyring)
        engine = make_engine(database_url)
        try:
            for check in ("before", "after"):  # before migrating anything, and of the migrated schema
                busy = _in_use(engine)
                if busy:
                    raise BackupError(f"the database is not empty ({', '.join(busy)}): restore into a new one")
                if check == "before":
                    _migrate_to(database_url, engine, manifest["revision"])
            with engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
                existing = set(inspect(conn).get_table_names())
                for table in reversed(Base.metadata.sorted_tables):  # what `init` wrote, replaced by the backup's
                    if table.name in SETUP_TABLES and table.name in existing:
                        conn.execute(table.delete())
                with bulk_load(conn):  # incident_counts, derived, is counted from the incidents
                    for table in _backed_up_tables():
                        _load(conn, table, root / "tables" / f"{table.name}.jsonl")
                if engine.dialect.name == "postgresql":
                    _reset_sequences(conn)
        finally:
            engine.dispose()
        upgrade_head(database_url)
        evidence_dir.mkdir(parents=True, exist_ok=True)
        for name in manifest["files"]:
            if name.startswith("evidence/"):
                target = blob_path(name.split("/", 1)[1], evidence_dir)
                target.parent.mkdir(exist_ok=True)
                if not target.exists():
                    copy_private(root / name, target)
                target.chmod(0o440)  # as stored evidence is: written once
    return manifest


def _load(conn: Connection, table, path: Path) -> None:
    """Inserts the rows in batches. A column pointing into its own table (a deputy) is filled in
    afterwards, so that the order of the rows does not matter."""
    if not path.is_file():
        return  # a table that did not exist at the backup's revision
    own = [fk.parent for fk in table.foreign_keys if fk.column.table is table]
    key = list(table.primary_key.columns)[0]
    later: list[dict] = []
    batch: list[dict] = []
    with path.open(encoding="utf-8") as rows:
        for line in rows:
            row = _decode_row(table, json.loads(line))
            links = {c.name: row[c.name] for c in own if row.get(c.name) is not None}
            if links:  # the columns with an `onupdate` are given their own values, or the UPDATE would stamp them
                kept = {c.name: row[c.name] for c in table.columns if c.onupdate is not None and c.name in row}
                later.append({"_key": row[key.name], **links, **kept})
                row |= dict.fromkeys(links)
            batch.append(row)
            if len(batch) >= BATCH:
                conn.execute(insert(table), batch)
                batch = []
    if batch:
        conn.execute(insert(table), batch)
    for link in later:
        values = {k: v for k, v in link.items() if k != "_key"}
        conn.execute(table.update().where(key == link["_key"]).values(**values))


def _reset_sequences(conn: Connection) -> None:
    """Explicit ids were inserted: each serial sequence continues after the largest."""
    for table in Base.metadata.sorted_tables:
        key = list(table.primary_key.columns)
        if len(key) == 1 and key[0].autoincrement in (True, "auto") and key[0].type.python_type is int:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key[0].name}'), "
                              f"COALESCE((SELECT MAX({key[0].name}) FROM {table.name}), 1), "
                              f"(SELECT MAX({key[0].name}) FROM {table.name}) IS NOT NULL)"))
