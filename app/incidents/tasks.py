"""Checklist tasks of an incident, from its body's playbook and added by hand."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select

from app.auth.models import Membership, User
from app.core.db import db
from app.core.errors import NotFound, ValidationFailed
from app.core.permissions import Permission, roles_with
from app.core.playbooks import playbooks
from app.core.timeutil import now_utc
from app.incidents import events, timeline
from app.incidents.access import authorize
from app.incidents.models import Incident, Stage, Task
from app.incidents.playbook import Playbook, playbook_for
from app.organizations.services import get_profile


def incident_playbook(incident: Incident) -> Playbook:
    return playbook_for(playbooks().checklists, get_profile(incident.organization.code))


def tasks_of(incident: Incident) -> list[Task]:
    order = {stage.value: n for n, stage in enumerate(Stage)}
    tasks = db.session.scalars(select(Task).where(Task.incident_id == incident.id).order_by(Task.position, Task.id))
    return sorted(tasks, key=lambda t: (order[t.stage], t.position, t.id))


def checklist_conditions(incident: Incident) -> frozenset[str]:
    """The conditions of checklist items (playbook ItemWhen) that hold for the incident: its
    reporting rules (the body's, or its 機関's), and what the reacting domains answer."""
    rules = get_profile(incident.organization.code).reporting.rules_for(incident.organ)
    held = {f"rules:{rules}"}
    for answer in events.announce(events.checklist_conditions, incident):
        held |= set(answer)
    return frozenset(held)


def sync_playbook_tasks(incident: Incident, actor: User | None) -> tuple[list[dict], list[Task]]:
    """Adds the playbook items of the incident's category, and of the conditions that hold for it,
    that it lacks; drops open items it no longer calls for. Completed tasks and tasks added by hand
    are always kept."""
    playbook = incident_playbook(incident)
    items = playbook.items_for(incident.threat_category, incident.subcategory, checklist_conditions(incident))
    wanted = {item.code for item in items}
    existing = list(db.session.scalars(select(Task).where(Task.incident_id == incident.id)))
    have = {t.code for t in existing if t.code}
    position = max((t.position for t in existing), default=0)
    added = [
        {"incident_id": incident.id, "stage": item.stage, "code": item.code, "source": item.source, "title": item.title,
         "guidance": item.guidance, "required": item.required, "role": item.role, "position": position + n,
         "done": False, "created_at": now_utc()}
        for n, item in enumerate((i for i in items if i.code not in have), start=1)
    ]
    if added:
        db.session.execute(insert(Task), added)  # one executemany, not one INSERT per task
    dropped = [t for t in existing if t.code and t.code not in wanted and not t.done and t.source != "manual"]
    for task in dropped:
        db.session.delete(task)
    db.session.flush()
    if existing and (added or dropped):
        conditional = {item.code for item in playbook.items if item.conditions}
        changed = {t["code"] for t in added} | {t.code for t in dropped}
        cause = "報告の要否・報告先の変更により" if changed <= conditional else "区分の変更により"
        timeline.record(incident, actor, "tasks_changed",
                        f"{cause}タスクを {len(added)} 件追加、未完了の {len(dropped)} 件を除外",
                        {"added": [t["code"] for t in added], "removed": [t.code for t in dropped]})
    return added, dropped


def open_required(incident: Incident, stage: str) -> list[Task]:
    """Required tasks of `stage` still open: they hold the incident in that stage. (Tasks of an
    earlier stage that an officer overrode do not block again.)"""
    return list(db.session.scalars(select(Task).where(
        Task.incident_id == incident.id, Task.stage == stage, Task.required.is_(True), Task.done.is_(False),
    ).order_by(Task.position, Task.id)))


def get_task(incident: Incident, task_id: int) -> Task:
    task = db.session.get(Task, task_id) if 0 < task_id < 2**31 else None
    if task is None or task.incident_id != incident.id:
        raise NotFound(_("タスクが見つかりません。"))
    return task


def _require_work(user: User, incident: Incident, operation: str, sent: set[str]) -> None:
    authorize(user, incident.organization_id, operation, sent, _l("このインシデントの作業を行う権限がありません。"))


def workers_of(organization_id: int):
    """People of the incident's body who may work it and complete its tasks (not auditors, not
    reporters): the choices for a task's assignee and the incident's owner and members."""
    return select(User).join(Membership).where(
        Membership.organization_id == organization_id, Membership.active.is_(True),
        Membership.role.in_(roles_with(Permission.INCIDENT_WORK)))


def members_of(incident: Incident) -> list[User]:
    """The assignee choices: those who may complete the task."""
    return list(db.session.scalars(workers_of(incident.organization_id).distinct().order_by(User.name)))


def member_by_email(incident: Incident, email: str) -> User:
    """The person a task is assigned to: 422 `assignee` unless they may work incidents of its body."""
    user = db.session.scalar(workers_of(incident.organization_id).where(func.lower(User.email) == email.strip().lower()).limit(1))
    if user is None:
        raise ValidationFailed(_("入力内容に誤りがあります。"),
                               {"assignee": _("この団体でインシデント対応を行える担当者ではありません（監査担当・職員・他団体の方は指定できません）。")})
    return user


def update_task(user: User, incident: Incident, task: Task, done: bool | None = None,
                assignee_email: str | None = None, assign: bool = False) -> Task:
    assignee = member_by_email(incident, assignee_email) if assign and assignee_email else None
    _require_work(user, incident, "task.update", ({"done"} if done is not None else set()) | ({"assignee"} if assign else set()))
    if assign and task.assignee_id != (assignee.id if assignee else None):
        task.assignee_id = assignee.id if assignee else None
        task.assignee = assignee
        entry = timeline.record(incident, user, "task_assigned",
                                f"タスク「{task.title}」の担当: {assignee.name if assignee else '（なし）'}",
                                {"task_id": task.id, "assignee": assignee.email if assignee else None})
        if assignee is not None:
            db.session.flush()
            events.announce(events.task_assigned, incident, actor=user, task=task, assignee=assignee, entry=entry)
    if done is not None and done != task.done:
        task.done = done
        task.done_by_id, task.done_at = (user.id, now_utc()) if done else (None, None)
        task.done_by = user if done else None
        timeline.record(incident, user, "task_done" if done else "task_reopened",
                        f"タスク「{task.title}」を{'完了' if done else '未完了に戻'}しました",
                        {"task_id": task.id, "code": task.code})
    db.session.flush()
    return task


def add_task(user: User, incident: Incident, stage: str, title: str, guidance: str = "", required: bool = False,
             assignee_email: str | None = None) -> Task:
    assignee = member_by_email(incident, assignee_email) if assignee_email else None
    if stage == Stage.CLOSED.value:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"stage": _("終結の段階にはタスクを追加できません。")})
    _require_work(user, incident, "task.create", ({"required"} if required else set()) | ({"assignee"} if assignee else set()))
    position = (db.session.scalar(select(func.max(Task.position)).where(Task.incident_id == incident.id)) or 0) + 1
    task = Task(incident_id=incident.id, stage=stage, code=None, source="manual", title=title, guidance=guidance,
                required=required, position=position, created_by_id=user.id,
                assignee_id=assignee.id if assignee else None)
    db.session.add(task)
    db.session.flush()
    entry = timeline.record(incident, user, "task_added", f"タスク「{title}」を追加しました",
                            {"task_id": task.id, "stage": stage, "required": required})
    if assignee is not None:
        db.session.flush()
        events.announce(events.task_assigned, incident, actor=user, task=task, assignee=assignee, entry=entry)
    return task
