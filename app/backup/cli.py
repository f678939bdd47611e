"""flask --app wsgi backup PATH [--encrypt-to RECIPIENT] / restore PATH [--identity FILE]."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from app.audit.verify import record_checkpoint, verify
from app.backup.archive import recipients as age_recipients
from app.backup.services import BackupError, create_backup, restore_backup
from app.incidents.evidence import evidence_dir


def register_cli(app) -> None:
    @app.cli.command("backup")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--encrypt-to", "recipient", help="encrypt to this age recipient (age1…, an SSH public key, or a "
                                                    "file of them); default BACKUP_AGE_RECIPIENT")
    def backup_command(path: Path, recipient: str | None):
        """Back up the database and the evidence files to PATH (a new directory, or PATH.tar.gz;
        one encrypted file with --encrypt-to), signed with BACKUP_KEY."""
        recipient = recipient or current_app.config.get("BACKUP_AGE_RECIPIENT")
        try:
            to = age_recipients(recipient) if recipient else None
            manifest = create_backup(current_app.config["DATABASE_URL"], evidence_dir(), path, to)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        rows = sum(manifest["tables"].values())
        files = sum(1 for name in manifest["files"] if name.startswith("evidence/"))
        click.echo(f"backup written to {path}: {rows} rows in {len(manifest['tables'])} tables, {files} evidence files, "
                   f"schema {manifest['revision']}" + (", encrypted" if to else ""))

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--identity", type=click.Path(path_type=Path),
                  help="the age identity file of an encrypted backup; default BACKUP_AGE_IDENTITY")
    def restore_command(path: Path, identity: Path | None):
        """Restore a backup into this instance's empty (or only initialised) database and evidence
        folder, then verify the audit log against the backup's checkpoint."""
        identity = identity or (Path(current_app.config["BACKUP_AGE_IDENTITY"])
                                if current_app.config.get("BACKUP_AGE_IDENTITY") else None)
        try:
            manifest = restore_backup(current_app.config["DATABASE_URL"], evidence_dir(), path, identity)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        result = verify(extra=[("the backup's checkpoint", manifest["audit"])])
        click.echo(f"restored {sum(manifest['tables'].values())} rows from {path} (made {manifest['created_at']}); "
                   f"audit log: {'ok' if result.ok else 'BROKEN at entry ' + str(result.first_bad)}, {result.entries} entries")
        if not result.ok:
            click.echo(f"BROKEN: {result.reason}", err=True)
            raise SystemExit(1)
        record_checkpoint(manifest["audit"])  # later `audit verify` runs check against it too
