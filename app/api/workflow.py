"""Stage moves, tasks, timeline and notes of an incident."""
from flask import jsonify

from app.api import bp
from app.api.errors import api_user, parse_json
from app.api.incident_json import incident_json
from app.incidents import notes, stages, tasks, timeline
from app.incidents.access import get_incident
from app.incidents.serializers import event_json, task_json
from app.incidents.workflow_schemas import NoteCreate, StageMove, TaskCreate, TaskUpdate


@bp.post("/incidents/<int:incident_id>/stage")
def move_stage(incident_id: int):
    incident = get_incident(api_user(), incident_id)
    data = parse_json(StageMove)
    stages.move_stage(api_user(), incident, data.to, data.reason, data.override, data.not_incident)
    return jsonify(incident_json(incident))


@bp.get("/incidents/<int:incident_id>/tasks")
def list_tasks(incident_id: int):
    items = [task_json(t) for t in tasks.tasks_of(get_incident(api_user(), incident_id))]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/incidents/<int:incident_id>/tasks")
def create_task(incident_id: int):
    incident = get_incident(api_user(), incident_id)
    data = parse_json(TaskCreate)
    task = tasks.add_task(api_user(), incident, data.stage.value, data.title, data.guidance, data.required, data.assignee)
    return jsonify(task_json(task)), 201


@bp.patch("/incidents/<int:incident_id>/tasks/<int:task_id>")
def update_task(incident_id: int, task_id: int):
    incident = get_incident(api_user(), incident_id)
    task = tasks.get_task(incident, task_id)
    data = parse_json(TaskUpdate)
    tasks.update_task(api_user(), incident, task, done=data.done, assignee_email=data.assignee,
                      assign="assignee" in data.model_fields_set)
    return jsonify(task_json(task))


@bp.get("/incidents/<int:incident_id>/timeline")
def list_timeline(incident_id: int):
    items = [event_json(e) for e in timeline.events_for(get_incident(api_user(), incident_id))]
    return jsonify({"items": items, "total": len(items)})


@bp.post("/incidents/<int:incident_id>/notes")
def create_note(incident_id: int):
    incident = get_incident(api_user(), incident_id)
    data = parse_json(NoteCreate)
    event = notes.add_note(api_user(), incident, data.body)
    return jsonify(event_json(event)), 201
