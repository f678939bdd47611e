"""Backup and restore of the database and the evidence files together, on either engine.

A backup is a directory (or a .tar.gz of one): `manifest.json` (schema revision, row counts and
the SHA-256 of every file), `tables/<table>.jsonl` (every row, in primary-key order; not
incident_counts, which the database derives) and `evidence/<sha256>` (each preserved file, named
by its hash). The rows are read from one
snapshot: on SQLite from a copy made with SQLite's online backup API, on PostgreSQL inside one
REPEATABLE READ transaction. Evidence files never change once written (content-addressed), so
those the snapshot names are all there is to copy.

Being logical rather than a file copy, a backup of SQLite restores into PostgreSQL and back.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, func, insert, inspect, select, text

from app.core.db import UTCDateTime, make_engine
from app.core.migrate import alembic_config, upgrade_head
from app.incidents.counts import bulk_load
from app.incidents.evidence import blob_path
from app.models import Base

FORMAT = "csirt-backup/1"
BATCH = 1000


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _encode(value):
    if isinstance(value, dt.datetime):
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


def create_backup(database_url: str, evidence_dir: Path, target: Path) -> dict:
    """Writes the backup to `target` (a new directory, or a .tar.gz file); returns the manifest."""
    archive = target.name.endswith((".tar.gz", ".tgz"))
    if target.exists():
        raise BackupError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    # built beside the target and renamed into place when complete: a failed backup leaves nothing
    with tempfile.TemporaryDirectory(prefix=".csirt-backup-", dir=target.parent) as tmp:
        root = Path(tmp) / "backup"
        (root / "tables").mkdir(parents=True)
        (root / "evidence").mkdir()
        manifest = {"format": FORMAT, "created_at": dt.datetime.now(dt.UTC).isoformat(), "tables": {}, "files": {}}
        with _snapshot(database_url) as conn:
            manifest["revision"] = _revision(conn)
            for table in _backed_up_tables():
                path = root / "tables" / f"{table.name}.jsonl"
                count = 0
                with path.open("w", encoding="utf-8") as out:
                    rows = conn.execute(select(table).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH))
                    for row in rows:
                        out.write(json.dumps({k: _encode(v) for k, v in row._mapping.items()}, ensure_ascii=False) + "\n")
                        count += 1
                manifest["tables"][table.name] = count
            hashes = conn.scalars(select(Base.metadata.tables["evidence"].c.sha256).distinct()).all()
        for sha in hashes:
            source = blob_path(sha, evidence_dir)
            if not source.is_file():
                raise BackupError(f"evidence file {sha} is missing from {evidence_dir}")
            shutil.copyfile(source, root / "evidence" / sha)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            manifest["files"][path.relative_to(root).as_posix()] = _sha256(path)
        (root / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        if archive:
            with tarfile.open(Path(tmp) / "backup.tar.gz", "w:gz") as tar:
                tar.add(root, arcname="backup")
            (Path(tmp) / "backup.tar.gz").rename(target)
        else:
            root.rename(target)
    return manifest


def _backed_up_tables() -> list:
    """Every table but those the database derives from the others (incident_counts)."""
    return [t for t in Base.metadata.sorted_tables if not t.info.get("derived")]


def _open_backup(source: Path, tmp: Path) -> Path:
    if source.is_dir():
        return source
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    try:
        with tarfile.open(source, "r:gz") as tar:
            tar.extractall(tmp, filter="data")  # the data filter refuses absolute paths, links out, devices
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{source} is not a backup archive: {exc}") from exc
    return tmp / "backup"


def verify_backup(root: Path) -> dict:
    """Reads the manifest and checks every file against its hash before anything is restored."""
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"no readable manifest.json in {root}: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"not a backup of this application (format {manifest.get('format')!r})")
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {"manifest.json"}
    if present != set(manifest["files"]):
        raise BackupError(f"files differ from the manifest: {sorted(present ^ set(manifest['files']))[:5]}")
    for name, digest in manifest["files"].items():
        if _sha256(root / name) != digest:
            raise BackupError(f"{name} does not match its SHA-256 in the manifest")
    return manifest


def _decode_row(table, raw: dict) -> dict:
    row = {}
    for column in table.columns:
        if column.name not in raw:
            continue  # added by a later migration: its default applies when the database is upgraded
        value = raw[column.name]
        if value is not None and isinstance(column.type, UTCDateTime):
            value = dt.datetime.fromisoformat(value)
        row[column.name] = value
    return row


def _nonempty_tables(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        existing = set(inspect(conn).get_table_names())
        return [t.name for t in Base.metadata.sorted_tables if t.name in existing and t.name != "audit_head"
                and conn.scalar(select(func.count()).select_from(t))]


def restore_backup(database_url: str, evidence_dir: Path, source: Path) -> dict:
    """Restores into an empty database (migrated here to the backup's revision, then to head)."""
    with tempfile.TemporaryDirectory(prefix="csirt-restore-") as tmp:
        root = _open_backup(source, Path(tmp))
        manifest = verify_backup(root)
        engine = make_engine(database_url)
        try:
            for check in ("before", "after"):  # before migrating anything, and of the migrated schema
                busy = _nonempty_tables(engine)
                if busy:
                    raise BackupError(f"the database is not empty ({', '.join(busy)}): restore into a new one")
                if check == "before":
                    command.upgrade(alembic_config(database_url), manifest["revision"] or "base")
            with engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
                conn.execute(Base.metadata.tables["audit_head"].delete())
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
                shutil.copyfile(root / name, target)
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
