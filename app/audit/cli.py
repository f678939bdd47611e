import click

from app.audit.services import verify


def register_cli(app) -> None:
    @app.cli.group("audit")
    def audit_group():
        """The hash-chained audit log."""

    @audit_group.command("verify")
    def audit_verify():
        """Check the whole chain; exits 1 and names the first broken entry if it was altered."""
        result = verify()
        if result.ok:
            click.echo(f"ok: {result.entries} entries, chain intact")
            return
        click.echo(f"BROKEN: the chain breaks at entry {result.first_bad} ({result.entries} entries read)", err=True)
        raise SystemExit(1)
