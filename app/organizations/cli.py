"""`init` and `orgs` (API.md, "Command line")."""
from __future__ import annotations

import click
from flask import current_app

from app.core.db import db
from app.core.migrate import upgrade_head
from app.organizations.services import profiles, sync_organizations


def register_cli(app) -> None:
    @app.cli.command("init")
    def init_command():
        """Apply all migrations and load the organization profiles and playbooks."""
        upgrade_head(current_app.config["DATABASE_URL"])
        orgs = sync_organizations()
        db.session.commit()
        click.echo(f"database migrated; {len(orgs)} organizations loaded from playbooks/organizations")

    @app.cli.command("orgs")
    def orgs_command():
        """List organizations: code<TAB>name."""
        for code, profile in sorted(profiles().items()):
            click.echo(f"{code}\t{profile.name}")
