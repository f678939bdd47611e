"""Pages: the dashboard of open deadlines, filing a deadline, adding a notice."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core.formerrors import parse_form_datetime
from app.core.timeutil import now_utc
from app.deadlines import services
from app.deadlines.serializers import time_left
from app.incidents.access import get_incident
from app.incidents.workflow_views import run_action

bp = Blueprint("deadlines", __name__)
PER_PAGE = 50


@bp.get("/deadlines")
@login_required
def dashboard():
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
    rows, total = services.open_deadlines(current_user, None, page, PER_PAGE)
    return render_template("deadlines/index.html", rows=rows, total=total, page=page, per_page=PER_PAGE,
                           time_left=time_left, now=now_utc())


@bp.post("/incidents/<int:incident_id>/deadlines/<int:deadline_id>/met")
@login_required
def mark_met(incident_id: int, deadline_id: int):
    incident = get_incident(current_user, incident_id)
    deadline = services.get_deadline(incident, deadline_id)
    form = request.form
    return run_action(incident_id, "deadlines", lambda: services.mark_met(
        current_user, incident, deadline, form.get("reference"), parse_form_datetime(form.get("met_at"), "met_at"),
        form.get("note")), _("期限を完了にしました。"))


@bp.post("/incidents/<int:incident_id>/deadlines")
@login_required
def add_notice(incident_id: int):
    incident = get_incident(current_user, incident_id)
    form = request.form
    return run_action(incident_id, "deadlines", lambda: services.add_notice(
        current_user, incident, form.get("kind", ""), parse_form_datetime(form.get("due_at"), "due_at"),
        form.get("note")), _("報告・通知を追加しました。"))
