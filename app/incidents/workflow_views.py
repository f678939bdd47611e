"""Page actions on an incident: stage moves, tasks, notes and evidence. Each is a CSRF-checked
POST that calls the same service as the API and redirects back to the incident page."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from pydantic import ValidationError

from app.core.db import attempt
from app.core.errors import DomainError, Forbidden, NotFound
from app.core.formerrors import form_messages
from app.incidents import evidence, notes, stages, tasks
from app.incidents.access import get_incident
from app.incidents.workflow_schemas import NoteCreate, TaskCreate

bp = Blueprint("workflow", __name__, url_prefix="/incidents/<int:incident_id>")


class ActionForm(FlaskForm):
    """Carries only the CSRF token; the fields are read and validated by the services."""


def _back(incident_id: int, anchor: str = ""):
    return redirect(url_for("incidents.show", incident_id=incident_id) + (f"#{anchor}" if anchor else ""))


def run_action(incident_id: int, anchor: str, action, success: str):
    """Checks CSRF, runs the service; on a rule's refusal undoes it and shows its message."""
    if not ActionForm().validate_on_submit():
        flash(_("フォームの有効期限が切れました。もう一度操作してください。"), "error")
        return _back(incident_id, anchor)
    try:
        with attempt():
            action()
        flash(success, "success")
    except ValidationError as exc:
        for message in form_messages(exc).values():
            flash(message, "error")
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        flash(exc.message + (" " + "、".join(exc.fields.values()) if exc.fields and exc.status == 409 else ""), "error")
        for message in exc.fields.values() if exc.status == 422 else ():
            flash(message, "error")
    return _back(incident_id, anchor)


@bp.post("/stage")
@login_required
def move_stage(incident_id: int):
    incident = get_incident(current_user, incident_id)
    form = request.form
    return run_action(incident_id, "stage", lambda: stages.move_stage(
        current_user, incident, form.get("to", ""), form.get("reason"), form.get("override") == "y",
        form.get("not_incident") == "y"), _("段階を変更しました。"))


@bp.post("/tasks/<int:task_id>")
@login_required
def update_task(incident_id: int, task_id: int):
    incident = get_incident(current_user, incident_id)
    task = tasks.get_task(incident, task_id)
    form = request.form
    done = {"done": True, "reopen": False}.get(form.get("action", ""))
    assign = "assignee" in form
    return run_action(incident_id, f"task-{task_id}", lambda: tasks.update_task(
        current_user, incident, task, done=done, assignee_email=form.get("assignee") or None, assign=assign),
        _("タスクを更新しました。"))


@bp.post("/tasks")
@login_required
def add_task(incident_id: int):
    incident = get_incident(current_user, incident_id)
    form = request.form

    def action():
        data = TaskCreate.model_validate({"stage": form.get("stage", ""), "title": form.get("title", ""),
                                          "guidance": form.get("guidance", ""), "required": form.get("required") == "y"})
        tasks.add_task(current_user, incident, data.stage.value, data.title, data.guidance, data.required)
    return run_action(incident_id, "tasks", action, _("タスクを追加しました。"))


@bp.post("/notes")
@login_required
def add_note(incident_id: int):
    incident = get_incident(current_user, incident_id)

    def action():
        notes.add_note(current_user, incident, NoteCreate.model_validate({"body": request.form.get("body", "")}).body)
    return run_action(incident_id, "timeline", action, _("メモを追加しました。"))


@bp.post("/evidence")
@login_required
def upload_evidence(incident_id: int):
    incident = get_incident(current_user, incident_id)
    upload = request.files.get("file")

    def action():
        if upload is None or not upload.filename:
            raise DomainError(_("ファイルを選んでください。"))
        evidence.store_evidence(current_user, incident, upload.stream, upload.filename,
                                request.form.get("description", ""), upload.mimetype)
    return run_action(incident_id, "evidence", action, _("証拠を保全しました。"))


@bp.get("/evidence/<int:evidence_id>")
@login_required
def download_evidence(incident_id: int, evidence_id: int):
    incident = get_incident(current_user, incident_id)
    item = evidence.get_evidence(incident, evidence_id)
    path = evidence.open_for_download(current_user, incident, item, "web")
    return evidence.attachment_response(path, item)
