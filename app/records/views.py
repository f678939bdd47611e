"""Pages of the post-incident record: edit (drafted from the incident), approve, print, Markdown."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from pydantic import ValidationError

from app.core.db import attempt
from app.core.errors import DomainError, Forbidden, NotFound
from app.core.formerrors import form_messages
from app.core.permissions import Permission
from app.core.timeutil import parse_iso
from app.incidents import stages
from app.incidents.access import can, get_incident
from app.incidents.workflow_views import ActionForm, run_action
from app.organizations.services import get_profile
from app.records import services
from app.records.schemas import RecordInput
from app.records.serializers import TEXT_FIELDS, record_json, record_markdown

bp = Blueprint("records", __name__, url_prefix="/incidents/<int:incident_id>")
BLANK_ROWS = 3
MAX_ROWS = 60  # the schema allows 50 recommendations; a forged `rows` must not make us loop for long


def _form_input(form) -> dict:
    """The form as the API's body: recommendation rows with no text are dropped."""
    rows = []
    rows_sent = form.get("rows", "0")
    for index in range(min(int(rows_sent), MAX_ROWS) if rows_sent.isdigit() else 0):
        text = form.get(f"rec-{index}-text", "").strip()
        if not text:
            continue
        row_id = form.get(f"rec-{index}-id", "")
        rows.append({"id": int(row_id) if row_id.isdigit() else None, "text": text,
                     "clause": form.get(f"rec-{index}-clause") or None,
                     "status": form.get(f"rec-{index}-status") or "proposed"})
    version = form.get("version", "")
    return {name: form.get(name, "") for name in TEXT_FIELDS} | {
        "policy_clauses": form.getlist("policy_clauses"), "recommendations": rows,
        "version": int(version) if version.isdigit() else None}


def _page(incident, data: dict, errors: dict | None = None, status: int = 200):
    profile = get_profile(incident.organization.code)
    record = services.record_for(incident)
    return render_template(
        "records/edit.html", incident=incident, profile=profile, data=data, errors=errors or {},
        blank_rows=BLANK_ROWS, record=record, times={k: parse_iso(v) for k, v in data["times"].items()},
        can_edit=can(current_user, Permission.INCIDENT_EDIT, incident.organization_id),
        can_approve=can(current_user, Permission.INCIDENT_CLOSE, incident.organization_id),
        form=ActionForm(), statuses=services.STATUS_LABELS, time_labels=services.TIME_LABELS,
    ), status


@bp.get("/record")
@login_required
def edit(incident_id: int):
    incident = get_incident(current_user, incident_id)
    return _page(incident, record_json(incident, services.record_for(incident)))


@bp.post("/record")
@login_required
def save(incident_id: int):
    incident = get_incident(current_user, incident_id)
    submitted = _form_input(request.form)
    shown = record_json(incident, services.record_for(incident)) | submitted
    if not ActionForm().validate_on_submit():
        flash(_("フォームの有効期限が切れました。もう一度保存してください。"), "error")
        return _page(incident, shown, status=400)
    try:
        with attempt():  # the page shown again reads the record as it was
            services.save(current_user, incident, RecordInput.model_validate(submitted))
    except ValidationError as exc:
        return _page(incident, shown, form_messages(exc), status=422)
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:  # 422 from the profile checks, 409 approved or stale
        flash(exc.message, "error")
        return _page(incident, shown, dict(exc.fields or {}), status=exc.status)
    flash(_("事後報告を保存しました。"), "success")
    return redirect(url_for("records.edit", incident_id=incident_id))


@bp.post("/record/approve")
@login_required
def approve(incident_id: int):
    incident = get_incident(current_user, incident_id)
    return run_action(incident_id, "stage", lambda: stages.move_stage(current_user, incident, "closed"),
                      _("事後報告を承認し、インシデントを終結しました。"))


@bp.get("/record/print")
@login_required
def print_view(incident_id: int):
    incident = get_incident(current_user, incident_id)
    data = record_json(incident, services.record_for(incident))
    profile = get_profile(incident.organization.code)
    return render_template("records/print.html", incident=incident, profile=profile, data=data,
                           clauses={c.code: c for c in profile.policy_clauses}, statuses=services.STATUS_LABELS,
                           times={k: parse_iso(v) for k, v in data["times"].items()}, time_labels=services.TIME_LABELS,
                           text_fields=TEXT_FIELDS)


@bp.get("/record.md")
@login_required
def markdown(incident_id: int):
    incident = get_incident(current_user, incident_id)
    body = record_markdown(incident, services.record_for(incident))
    response = Response(body, mimetype="text/markdown")
    response.headers["Content-Disposition"] = f'attachment; filename="{incident.reference}-record.md"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
