import json

import click
from flask import current_app

from app.jobs.scheduler import run_forever, run_tick


def register_cli(app) -> None:
    @app.cli.command("ticker")
    def ticker_command():
        """Run the escalation/outbox ticker in this process until stopped (every TICK_SECONDS)."""
        click.echo(f"ticker: every {current_app.config['TICK_SECONDS']} s; Ctrl-C to stop")
        try:
            run_forever(current_app._get_current_object())
        except KeyboardInterrupt:
            pass

    @app.cli.command("tick")
    def tick_command():
        """Run one tick now and print what it did."""
        click.echo(json.dumps(run_tick(current_app._get_current_object())))
