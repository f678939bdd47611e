"""`intake maildir PATH` and `intake imap`; the same intake in every tick when configured."""
from __future__ import annotations

import logging
from pathlib import Path

import click
from flask import current_app

from app.core.db import db
from app.core.playbooks import playbooks
from app.intake.imap import process_imap
from app.intake.mail import IntakeError, Tally
from app.intake.maildir import process_maildir

log = logging.getLogger(__name__)


def intake_tick() -> dict:
    """One pass over INTAKE_MAILDIR and/or the IMAP mailbox, for the ticker (each on its own:
    a failing one does not stop the other)."""
    config, result = current_app.config, {}
    jobs = [("maildir", lambda: process_maildir(config["INTAKE_MAILDIR"])) if config.get("INTAKE_MAILDIR") else None,
            ("imap", process_imap) if config.get("INTAKE_IMAP_HOST") else None]
    for name, job in filter(None, jobs):
        try:
            tally = job()
        except IntakeError as exc:
            db.session.rollback()
            log.error("mail intake (%s) did not run: %s", name, exc)
            continue
        for note in tally.notes:
            log.warning("mail intake (%s): %s", name, note)
        result[name] = tally.as_dict()
    return result


def _report(tally: Tally) -> None:
    for note in tally.notes:
        click.echo(note)
    click.echo(tally.summary())
    if tally.failed:
        raise click.ClickException(f"{tally.failed} message(s) could not be filed and were left in place "
                                   "(see the log); they are tried again at the next run")


def register_cli(app) -> None:
    playbooks(app).add_tick_job("intake", intake_tick, "INTAKE_SECONDS")

    @app.cli.group("intake")
    def intake_group():
        """E-mail to the triage queue (one report per message, exactly once)."""

    @intake_group.command("maildir")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--organization", help="every message is this body's (a dedicated mailbox); "
                                         "default: by recipient address (INTAKE_ADDRESSES)")
    def intake_maildir(path: Path, organization: str | None):
        """File every new message of the maildir at PATH, then move it into PATH/.processed."""
        try:
            tally = process_maildir(path, organization)
        except IntakeError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        _report(tally)

    @intake_group.command("imap")
    @click.option("--organization", help="every message is this body's; default: by recipient address")
    def intake_imap(organization: str | None):
        """File every message of the IMAP folder (INTAKE_IMAP_*) not yet flagged $CsirtProcessed."""
        try:
            tally = process_imap(organization)
        except IntakeError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        _report(tally)
