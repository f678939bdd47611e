"""flask --app wsgi backup PATH / restore PATH."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from app.audit.services import verify
from app.backup.services import BackupError, create_backup, restore_backup
from app.incidents.evidence import evidence_dir


def register_cli(app) -> None:
    @app.cli.command("backup")
    @click.argument("path", type=click.Path(path_type=Path))
    def backup_command(path: Path):
        """Back up the database and the evidence files to PATH (a new directory, or PATH.tar.gz)."""
        try:
            manifest = create_backup(current_app.config["DATABASE_URL"], evidence_dir(), path)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        rows = sum(manifest["tables"].values())
        files = sum(1 for name in manifest["files"] if name.startswith("evidence/"))
        click.echo(f"backup written to {path}: {rows} rows in {len(manifest['tables'])} tables, {files} evidence files, "
                   f"schema {manifest['revision']}")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(path_type=Path))
    def restore_command(path: Path):
        """Restore a backup into this instance's (empty) database and evidence folder, then verify the audit log."""
        try:
            manifest = restore_backup(current_app.config["DATABASE_URL"], evidence_dir(), path)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        result = verify()
        click.echo(f"restored {sum(manifest['tables'].values())} rows from {path} (made {manifest['created_at']}); "
                   f"audit log: {'ok' if result.ok else 'BROKEN at entry ' + str(result.first_bad)}, {result.entries} entries")
        if not result.ok:
            raise SystemExit(1)
