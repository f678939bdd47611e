"""flask --app wsgi audit verify | checkpoint | rotate-key."""
from __future__ import annotations

import json
from pathlib import Path

import click

from app.audit import keys
from app.audit.verify import VerifyResult, verify, write_checkpoint
from app.core.playbooks import playbooks


def checkpoint_job() -> dict:
    """The ticker's job (every AUDIT_CHECKPOINT_MINUTES, once across all processes)."""
    checkpoint = write_checkpoint()
    return {"chains": len(checkpoint["heads"])}


def report(result: VerifyResult) -> None:
    """`ok: …` on stdout, or `BROKEN: …` naming the first bad entry on stderr and exit 1."""
    if result.ok:
        click.echo(f"ok: {result.entries} entries, chain intact, {result.checkpoints} checkpoints agree")
        return
    click.echo(f"BROKEN: {result.reason} (first bad entry {result.first_bad}; {result.entries} entries read)", err=True)
    raise SystemExit(1)


def register_cli(app) -> None:
    keys.init_app(app)
    playbooks(app).add_tick_job("audit_checkpoint", checkpoint_job, "AUDIT_CHECKPOINT_SECONDS")

    @app.cli.group("audit")
    def audit_group():
        """The keyed, hash-chained audit log."""

    @audit_group.command("verify")
    @click.option("--against", "against", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="a file of checkpoints kept elsewhere (repeatable)")
    def audit_verify(against: tuple[Path, ...]):
        """Check every chain and every checkpoint known (the instance's file, and --against);
        exits 1 and names the first bad entry if the log was altered or cut short."""
        report(verify(against))

    @audit_group.command("checkpoint")
    def audit_checkpoint():
        """Append the heads of every chain, signed, to INSTANCE_PATH/audit-checkpoints and print them."""
        click.echo(json.dumps(write_checkpoint(), ensure_ascii=False, sort_keys=True))

    @audit_group.command("rotate-key")
    def audit_rotate_key():
        """Add a new audit key to INSTANCE_PATH/audit_keys; it signs after the servers restart."""
        try:
            click.echo(f"new audit key {keys.rotate(app.config)}: restart the servers and the ticker to sign with it")
        except keys.AuditKeyError as exc:
            raise click.ClickException(str(exc)) from None
