"""Pages of the risk register: the register of a body with its inputs, and the forms that assess a
row, enter a finding, note a change of circumstance and keep a dismissed report as a near miss."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from pydantic import ValidationError

from app.core.db import attempt
from app.core.errors import DomainError, Forbidden, NotFound
from app.core.formerrors import form_messages
from app.core.i18n import category_label
from app.core.permissions import Permission
from app.core.playbooks import playbooks
from app.core.timeutil import format_display, now_utc, parse_iso
from app.incidents.access import can
from app.organizations.services import get_profile, organizations_by_ids
from app.reviews.periods import Period, period_of
from app.reviews.report import register_window
from app.risks import rows, schemas, serializers, services
from app.risks.register import build_register

bp = Blueprint("risks", __name__, url_prefix="/risks")
LISTED = 100  # findings, changes and near misses shown on the page, newest first


@bp.get("")
@login_required
def index():
    organizations = [o for o in organizations_by_ids(current_user.organization_ids())
                     if can(current_user, Permission.RISK_READ, o.id)]
    if len(organizations) == 1:
        return redirect(url_for("risks.show", org=organizations[0].code))
    return render_template("risks/index.html", organizations=organizations,
                           names={o.code: get_profile(o.code).name for o in organizations})


def _page(org: str, failed: str | None = None, submitted: dict | None = None, errors: dict | None = None,
          status: int = 200):
    organization = services.readable_organization(current_user, org)
    profile, rules = get_profile(org), playbooks().risk
    period = Period(period_of(now_utc()).fiscal_year)
    register = build_register([organization], register_window(period))
    findings, findings_total = services.findings_page(organization, 1, LISTED)
    changes, changes_total = services.circumstances_page(organization, 1, LISTED)
    near_misses, near_total = services.near_misses_page(organization, 1, LISTED)
    day = services.today()
    return render_template(
        "risks/show.html", organization=organization, profile=profile, rules=rules, scale=rules.scale_for(org),
        register=register, period=period, quarter=period_of(now_utc()), form=FlaskForm(),
        can_manage=services.may_manage(current_user, organization),
        findings=[serializers.finding(f, org, profile, rules, day) for f in findings], findings_total=findings_total,
        changes=[serializers.circumstance(c, org, rules) for c in changes], changes_total=changes_total,
        near_misses=[serializers.near_miss(n, org) for n in near_misses], near_total=near_total,
        dismissed=services.dismissed_reports(organization), today=day.isoformat(),
        categories=profile.threat_categories, asset_classes=rows.asset_class_choices(profile),
        category_names={c.code: category_label(c) for c in profile.threat_categories},
        when=lambda value: format_display(parse_iso(value)),
        segments=rows.segment_choices(profile), clauses=profile.policy_clauses,
        failed=failed, submitted=submitted or {}, errors=errors or {},
    ), status


@bp.get("/<org>")
@login_required
def show(org: str):
    return _page(org)


def _submit(org: str, name: str, model, action, done: str):
    """A form of the page: its fields as the API's body (blank ones left out), the service, then
    back to the page; a refusal shows the page again with the form as sent and its messages."""
    services.member_organization(current_user, org)  # another body's: 404 before anything else
    submitted = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
    if not FlaskForm().validate_on_submit():
        flash(_("フォームの有効期限が切れました。もう一度操作してください。"), "error")
        return redirect(url_for("risks.show", org=org))
    try:
        data = model.model_validate({k: v for k, v in submitted.items() if v != ""})
        with attempt():
            action(data)
    except ValidationError as exc:
        return _page(org, name, submitted, form_messages(exc), 422)
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:  # 422 from the profile's checks, 409 a conflict
        flash(exc.message, "error")
        return _page(org, name, submitted, dict(exc.fields or {}), exc.status)
    flash(done, "success")
    return redirect(url_for("risks.show", org=org) + f"#{name}")


@bp.post("/<org>/assessments")
@login_required
def assess(org: str):
    return _submit(org, "assess", schemas.RiskAssessmentInput, lambda data: services.assess(current_user, org, data),
                   _("評価を記録しました。以前の評価は履歴として残ります。"))


@bp.post("/<org>/findings")
@login_required
def add_finding(org: str):
    return _submit(org, "findings", schemas.RiskFindingInput, lambda data: services.add_finding(current_user, org, data),
                   _("指摘事項を記録しました。"))


@bp.post("/<org>/findings/<int:finding_id>/resolve")
@login_required
def resolve_finding(org: str, finding_id: int):
    return _submit(org, "findings", schemas.RiskFindingResolution,
                   lambda data: services.resolve_finding(current_user, org, finding_id, data), _("対応済みにしました。"))


@bp.post("/<org>/circumstances")
@login_required
def add_circumstance(org: str):
    return _submit(org, "circumstances", schemas.RiskCircumstanceInput,
                   lambda data: services.add_circumstance(current_user, org, data), _("状況の変化を記録しました。"))


@bp.post("/<org>/near-misses")
@login_required
def keep_near_miss(org: str):
    return _submit(org, "near-misses", schemas.RiskNearMissInput,
                   lambda data: services.keep_near_miss(current_user, org, data), _("ヒヤリハットとして記録しました。"))
