"""The CSIRT's home: the triage queue of reports from every channel, oldest first, with what needs
attention now; a report's page with its one-click decisions (open, merge, 非該当)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from app import attention
from app.core.db import attempt
from app.core.errors import DomainError, Forbidden, NotFound
from app.core.permissions import Permission
from app.incidents import evidence as evidence_files
from app.incidents.access import can, overseen_organizations
from app.intake import services
from app.intake.models import ReportState

bp = Blueprint("triage", __name__, url_prefix="/triage")
PER_PAGE = 50


@bp.get("")
@login_required
def home():
    organizations = overseen_organizations(current_user)
    if not organizations:
        return redirect(url_for("incidents.index"))
    ids = [o.id for o in organizations]
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    reports, total = services.queue(ids, ReportState.NEW.value, page, PER_PAGE)
    return render_template(
        "intake/home.html", reports=reports, total=total, page=page, pages=max(1, -(-total // PER_PAGE)),
        escalations=attention.unacknowledged(ids), deadlines=attention.deadlines_due_soon(ids),
        quiet=attention.quiet_incidents(ids), organizations=organizations)


@bp.get("/reports/<int:report_id>")
@login_required
def show(report_id: int):
    report = services.get_report(current_user, report_id)
    incident = report.incident
    return render_template(
        "intake/report.html", report=report, additions=services.additions_of(report), incident=incident,
        files=services.attachments_of(report) if incident is None else evidence_files.evidence_of(incident),
        can_decide=can(current_user, Permission.INCIDENT_EDIT, report.organization_id), form=FlaskForm())


def _decided(report_id: int, action) -> object:
    report = services.get_report(current_user, report_id)
    services.require_decider(current_user, report)  # 403 before anything about the input
    if not FlaskForm().validate_on_submit():
        flash(_("フォームの有効期限が切れました。もう一度操作してください。"), "error")
        return redirect(url_for("triage.show", report_id=report.id))
    try:
        with attempt():
            target = action(report)
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        flash(next(iter(exc.fields.values())) if exc.fields else exc.message, "error")
        return redirect(url_for("triage.show", report_id=report.id))
    return target


@bp.post("/reports/<int:report_id>/merge")
@login_required
def merge(report_id: int):
    def action(report):
        incident = services.merge(current_user, report, request.form.get("reference", ""))
        flash(_("報告 %(receipt)s を %(ref)s に統合しました。", receipt=report.receipt, ref=incident.reference), "success")
        return redirect(url_for("incidents.show", incident_id=incident.id))
    return _decided(report_id, action)


@bp.post("/reports/<int:report_id>/dismiss")
@login_required
def dismiss(report_id: int):
    def action(report):
        services.dismiss(current_user, report, request.form.get("reason", ""))
        flash(_("報告 %(receipt)s を非該当として閉じました。", receipt=report.receipt), "success")
        return redirect(url_for("triage.home"))
    return _decided(report_id, action)


@bp.get("/reports/<int:report_id>/files/<int:evidence_id>")
@login_required
def download(report_id: int, evidence_id: int):
    report = services.get_report(current_user, report_id)
    item, path = services.report_file(current_user, report, evidence_id)
    return evidence_files.attachment_response(path, item)
