"""`roster import FILE` and `token create EMAIL` (API.md, "Command line")."""
from __future__ import annotations

from pathlib import Path

import click

from app.auth.roster import RosterError, import_roster, read_roster
from app.auth.services import create_api_token
from app.core.db import db
from app.core.errors import DomainError


def register_cli(app) -> None:
    @app.cli.group("roster")
    def roster_group():
        """People, roles, deputies and on-call rotations."""

    @roster_group.command("import")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--organization", help="organization code (CSV files without an organization column)")
    def roster_import(file: Path, organization: str | None):
        """Create/update people and roles from a YAML or CSV roster file."""
        try:
            roster = read_roster(file, organization)
            result = import_roster(roster)
        except RosterError as exc:
            db.session.rollback()
            raise click.ClickException(f"roster not imported: {exc}") from None
        db.session.commit()
        click.echo(
            f"{result.organization}: {len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.unchanged)} unchanged, {len(result.deactivated)} deactivated"
        )

    @app.cli.group("token")
    def token_group():
        """API tokens."""

    @token_group.command("create")
    @click.argument("email")
    @click.option("--name", help="what the token is for")
    def token_create(email: str, name: str | None):
        """Create an API token; the token is printed alone on the last line."""
        try:
            token = create_api_token(email, name)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        db.session.commit()
        click.echo("store this token now; it is not shown again:")
        click.echo(token)
