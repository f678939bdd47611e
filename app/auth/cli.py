"""`roster import FILE` and `token create|list|revoke` (API.md, "Command line")."""
from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from app.audit import services as audit
from app.auth import totp
from app.auth.services import create_api_token, revoke_token, tokens_of, user_by_email
from app.core.db import db
from app.core.durations import parse_duration
from app.core.errors import DomainError
from app.core.timeutil import now_utc
from app.organizations.models import Organization
from app.roster.file import RosterError, import_roster, read_roster


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
    @click.option("--organization", help="the token acts only in this body (organization code)")
    @click.option("--expires-in", default="365d", show_default=True,
                  help="lifetime like 90d or 12h; 'never' for a token that lives until revoked")
    def token_create(email: str, name: str | None, organization: str | None, expires_in: str):
        """Create an API token; the token is printed alone on the last line."""
        try:
            lifetime = None if expires_in == "never" else parse_duration(expires_in)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expires-in") from None
        try:
            token = create_api_token(email, name, organization, lifetime)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        audit.append(None, "auth.token_created", "user", email,
                     payload={"name": name, "organization": organization, "expires_in": expires_in})
        db.session.commit()
        click.echo("store this token now; it is not shown again:")
        click.echo(token)

    @token_group.command("list")
    @click.argument("email")
    def token_list(email: str):
        """A person's tokens: id, name, body, created, expires, revoked, state (never the token)."""
        try:
            rows = tokens_of(email)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        codes = {o.id: o.code for o in db.session.scalars(select(Organization))}
        now = now_utc()
        for row in rows:
            state = "revoked" if row.revoked_at else "expired" if row.expires_at and row.expires_at <= now else "active"
            click.echo("\t".join([str(row.id), row.name or "-", codes.get(row.organization_id, "*"),
                                  _iso(row.created_at), _iso(row.expires_at), _iso(row.revoked_at), state]))

    @token_group.command("revoke")
    @click.argument("token_id", type=int)
    def token_revoke(token_id: int):
        """Revoke a token by its id (from `token list`): refused from the next request on."""
        try:
            row = revoke_token(token_id)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        audit.append(None, "auth.token_revoked", "api_token", row.id)
        db.session.commit()
        click.echo(f"token {row.id} revoked at {_iso(row.revoked_at)}")

    @app.cli.group("mfa")
    def mfa_group():
        """Second factor (TOTP) of people."""

    @mfa_group.command("reset")
    @click.argument("email")
    def mfa_reset(email: str):
        """Turn a person's TOTP off (a lost phone); where their role requires it, they set it up again at sign-in."""
        user = user_by_email(email)
        if user is None:
            raise click.ClickException(f"no person with e-mail {email}")
        totp.disable(user)
        audit.append(None, "auth.totp_reset", "user", user.id, payload={"email": user.email})
        db.session.commit()
        click.echo(f"two-factor authentication of {user.email} reset")


def _iso(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"
