"""Incident pages: list with filters, new, show, edit. Thin: load, validate, call a service."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from pydantic import ValidationError

from app.core.db import attempt, db
from app.core.errors import Conflict, DomainError, NotFound
from app.core.formerrors import form_messages
from app.core.i18n import category_label
from app.core.permissions import Permission
from app.core.playbooks import playbooks
from app.core.timeutil import display_zone, now_utc
from app.deadlines.serializers import time_left
from app.deadlines.services import deadlines_of, excluded_deadlines, incident_rules
from app.escalation.queries import notifications_of
from app.escalation.services import escalation_summary
from app.incidents import conflicts, evidence, people, services, tasks, timeline
from app.incidents.access import can, get_incident
from app.incidents.forms import IncidentEditForm, IncidentForm, fill_choices, form_to_input
from app.incidents.models import Incident, Severity, Stage
from app.incidents.schemas import IncidentCreate, IncidentQuery, IncidentUpdate
from app.incidents.workflow_views import ActionForm
from app.intake import services as intake
from app.intake.schemas import ReportOpening
from app.organizations.services import get_profile, organizations_by_ids
from app.records.services import record_for

bp = Blueprint("incidents", __name__, url_prefix="/incidents")


def _my_organizations():
    return organizations_by_ids(current_user.organization_ids())


@bp.get("/")
@login_required
def index():
    orgs = _my_organizations()
    args = {k: v for k, v in request.args.items() if v != "" and k in IncidentQuery.model_fields}
    errors: dict[str, str] = {}
    try:
        query = IncidentQuery.model_validate(args)
    except ValidationError as exc:
        errors = form_messages(exc)
        query = IncidentQuery()
    try:
        items, total = services.list_incidents(current_user, query)
    except NotFound:
        errors["organization"] = _("選択できない団体です。")
        items, total = [], 0
    categories: dict[str, str] = {}
    for org in orgs:
        for category in get_profile(org.code).threat_categories:
            categories.setdefault(category.code, category_label(category))
    pages = max(1, -(-total // query.per_page))
    creatable = [o for o in orgs if can(current_user, Permission.INCIDENT_CREATE, o.id)]
    return render_template(
        "incidents/index.html", items=items, total=total, query=query, args=args, errors=errors,
        orgs=orgs, categories=categories, stages=list(Stage), severities=list(Severity),
        page=query.page, pages=pages, creatable=creatable,
        pager_args={k: v for k, v in args.items() if k != "page"},
    )


def _asset_values(profile) -> dict[str, str]:
    return {axis.code: request.form.get(f"asset_{axis.code}", "") for axis in profile.asset_classification.axes}


def _form_field(form, name: str):
    """The form's field for an API field name (`personal_data.encrypted` is `pd_encrypted`)."""
    return getattr(form, name, None) or getattr(form, f"pd_{name.split('.')[-1]}", None)


def _show_errors(form, fields: dict[str, str]) -> None:
    for name, message in fields.items():
        field = _form_field(form, name)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [message]
        else:
            flash(message, "error")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    mine = _my_organizations()
    creatable = [o for o in mine if can(current_user, Permission.INCIDENT_CREATE, o.id)]
    named = request.values.get("organization")
    if named and named not in {o.code for o in mine}:
        abort(404)  # as the API: a body the person does not belong to is not there
    if named and named not in {o.code for o in creatable}:
        abort(403)
    code = named or (creatable[0].code if len(creatable) == 1 else None)
    org = next((o for o in creatable if o.code == code), None)
    if org is None:
        return render_template("incidents/choose_org.html", orgs=creatable)
    profile = get_profile(org.code)
    report = _report_to_open(org)
    form = IncidentForm()
    fill_choices(form, profile)
    if request.method == "GET" and report is not None:
        form.title.data, form.description.data, form.source.data = report.title, report.body, report.source
        form.detected_at.data = intake.detected_default(report).astimezone(display_zone()).replace(tzinfo=None)
    if form.validate_on_submit():
        data = form_to_input(form, profile, _asset_values(profile))
        try:
            with attempt():
                if report is None:
                    incident = services.open_incident(current_user, IncidentCreate.model_validate(data | {"organization": org.code}))
                else:
                    incident = intake.open_from_report(current_user, report, ReportOpening.model_validate(data))
            flash(_("インシデント %(ref)s を登録しました。", ref=incident.reference), "success")
            return redirect(url_for("incidents.show", incident_id=incident.id))
        except ValidationError as exc:
            _show_errors(form, form_messages(exc))
        except DomainError as exc:
            if exc.status == 403:  # a field the role may not set (the paper times, not shown to it): refused
                labels = "、".join(str(_form_field(form, name).label.text) for name in exc.fields
                                  if _form_field(form, name) is not None)
                flash(f"{exc.message}（{labels}）" if labels else exc.message, "error")
                return _new_form(form, org, profile, report), 403
            _show_errors(form, exc.fields or {"form": exc.message})
    return _new_form(form, org, profile, report), (422 if form.errors else 200)


def _new_form(form, org, profile, report) -> str:
    return render_template("incidents/form.html", form=form, org=org, profile=profile, incident=None, report=report,
                           asset_values=_asset_values(profile),
                           may_record_late=can(current_user, Permission.INCIDENT_WORK, org.id),
                           may_judge_reporting=can(current_user, Permission.INCIDENT_EDIT, org.id))


def _report_to_open(org):
    """?report=<id>: the triage report this new incident is opened from (same body, still waiting)."""
    raw = request.values.get("report", "")
    if not raw:
        return None
    report = intake.get_report(current_user, int(raw)) if raw.isdigit() else None
    if report is None or report.organization_id != org.id:
        abort(404)
    if report.state != "new":
        abort(409)
    return report


@bp.get("/<int:incident_id>")
@login_required
def show(incident_id: int):
    incident = get_incident(current_user, incident_id)
    profile = get_profile(incident.organization.code)
    org_id = incident.organization_id
    rules = incident_rules(incident)[0]
    return render_template(
        "incidents/show.html", incident=incident, profile=profile, severity_basis=services.severity_basis(incident),
        can_edit=can(current_user, Permission.INCIDENT_EDIT, org_id),
        can_work=can(current_user, Permission.INCIDENT_WORK, org_id),
        can_override=can(current_user, Permission.INCIDENT_OVERRIDE_GATE, org_id),
        can_close=can(current_user, Permission.INCIDENT_CLOSE, org_id),
        tasks=tasks.tasks_of(incident), events=timeline.events_for(incident), evidence=evidence.evidence_of(incident),
        members=tasks.members_of(incident), stage_defs=playbooks().stages, form=ActionForm(),
        escalation=escalation_summary(incident), notifications=notifications_of(incident),
        deadlines=deadlines_of(incident), notices=rules.notices, rules=rules, excluded=excluded_deadlines(incident),
        organ=profile.reporting.organ(incident.organ), record=record_for(incident),
        time_left=time_left, now=now_utc(), people=people.people_of(incident),
    )


def _edit_form_defaults(form: IncidentEditForm, incident: Incident) -> None:
    for name in ("title", "description", "threat_category", "subcategory", "source", "network_segments", "impacts"):
        getattr(form, name).data = getattr(incident, name)
    form.detected_at.data = incident.detected_at.astimezone(display_zone()).replace(tzinfo=None)
    form.recognized_at.data = incident.recognized_at.astimezone(display_zone()).replace(tzinfo=None) \
        if incident.recognized_at else None
    form.organ.data = incident.organ or ""
    for flag, value in incident.personal_data.items():
        getattr(form, f"pd_{flag}").data = value
    form.pd_ordinance_sensitive.data = incident.pd_ordinance_sensitive
    form.version.data = str(incident.version)
    form.severity.data = incident.severity if incident.severity_overridden else ""
    form.severity_reason.data = incident.severity_reason or ""


@bp.route("/<int:incident_id>/edit", methods=["GET", "POST"])
@login_required
def edit(incident_id: int):
    incident = get_incident(current_user, incident_id)
    if not can(current_user, Permission.INCIDENT_EDIT, incident.organization_id):
        abort(403)
    profile = get_profile(incident.organization.code)
    form = IncidentEditForm()
    fill_choices(form, profile)
    if request.method == "GET":
        _edit_form_defaults(form, incident)
    asset_values = _asset_values(profile) if request.method == "POST" else dict(incident.asset_classes or {})
    if form.validate_on_submit():
        data = form_to_input(form, profile, asset_values) | {"version": form.version.data}
        if form.severity.data:
            data |= {"severity": form.severity.data, "severity_reason": form.severity_reason.data or None}
        elif incident.severity_overridden:
            data |= {"severity": None}
        try:
            with attempt():
                services.update_incident(current_user, incident, IncidentUpdate.model_validate(data))
            flash(_("保存しました。"), "success")
            return redirect(url_for("incidents.show", incident_id=incident.id))
        except ValidationError as exc:
            _show_errors(form, form_messages(exc))
        except Conflict:
            db.session.refresh(incident)
            flash(_("他の担当者が先に更新しました。相手の変更とあなたの入力を比べてから、もう一度保存してください。"
                    "あなたの入力はそのまま残っています。"), "error")
            form.version.data = str(incident.version)  # saving again now overwrites, knowingly
            return render_template("incidents/form.html", form=form, org=incident.organization, profile=profile,
                                   incident=incident, asset_values=asset_values,
                                   conflict={"differences": conflicts.differences(incident, data),
                                             "change": conflicts.last_change(incident)}), 409
        except DomainError as exc:
            _show_errors(form, exc.fields or {"form": exc.message})
    return render_template("incidents/form.html", form=form, org=incident.organization, profile=profile,
                           incident=incident, asset_values=asset_values), (422 if form.errors else 200)
