"""The printable 緊急時連絡体制 sheet of each body, and its export as static HTML files."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from app.core.db import db
from app.incidents.access import overseen_organization, overseen_organizations
from app.organizations.models import Organization
from app.plan.sheet import contact_sheet

bp = Blueprint("plan", __name__, url_prefix="/plan")


@bp.get("")
@login_required
def index():
    return render_template("plan/index.html", organizations=overseen_organizations(current_user))


@bp.get("/<code>")
@login_required
def sheet(code: str):
    return render_template("plan/sheet.html", sheet=contact_sheet(overseen_organization(current_user, code)))


def export_plan(directory: Path) -> list[Path]:
    """Every body's sheet as a self-contained HTML file (CSS inline) and an index: opens from a
    USB stick in any browser, without a server."""
    directory.mkdir(parents=True, exist_ok=True)
    css = (Path(current_app.static_folder) / "print.css").read_text(encoding="utf-8")
    written, entries = [], []
    for organization in db.session.scalars(select(Organization).order_by(Organization.code)):
        sheet = contact_sheet(organization)
        path = directory / f"{organization.code}.html"
        path.write_text(render_template("plan/sheet.html", sheet=sheet, inline_css=css), encoding="utf-8")
        written.append(path)
        entries.append((organization.code, sheet["profile"].name))
    index = directory / "index.html"
    index.write_text(render_template("plan/export_index.html", entries=entries, inline_css=css), encoding="utf-8")
    return [index, *written]


def register_cli(app) -> None:
    @app.cli.command("export-plan")
    @click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
    def export_plan_command(directory: Path):
        """Write every body's 緊急時連絡体制 as static HTML files into DIRECTORY (for a USB stick)."""
        with app.test_request_context(base_url=app.config["BASE_URL"]):
            paths = export_plan(directory)
        click.echo(f"{len(paths) - 1} sheets and index.html written to {directory}")
