"""The one-click acknowledgement link from the e-mail, and the on-call overview."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired

from app.auth.models import User
from app.core.db import db
from app.core.permissions import Permission
from app.core.timeutil import now_utc
from app.escalation.messages import ack_serializer
from app.escalation.policy import SEVERITIES, levels_for
from app.escalation.queries import ack_brief
from app.escalation.services import acknowledge, current_escalation
from app.incidents.access import can, get_incident
from app.incidents.models import Incident
from app.notifications.models import Notification
from app.notifications.oncall import on_call, reach, role_holders
from app.organizations.services import get_profile, organizations_by_ids

bp = Blueprint("escalation", __name__)


class AckForm(FlaskForm):
    pass


def _from_token(token: str) -> tuple[Notification | None, Incident | None, str | None, int]:
    """The notification a link was made for and its incident, or the reason and status why the
    link cannot be used (any more): checked at every use, since the recipient may have been
    deactivated or lost the role that acknowledges since the mail was sent."""
    try:
        data = ack_serializer().loads(token, max_age=current_app.config["ACK_LINK_MAX_AGE"])
    except SignatureExpired:
        return None, None, _("このリンクは有効期限が切れています。インシデントの画面から受領を登録してください。"), 410
    except BadSignature:
        return None, None, _("このリンクは無効です。"), 400
    number = data.get("n") if isinstance(data, dict) else None
    notification = db.session.get(Notification, number) if isinstance(number, int) and 0 < number < 2**63 else None
    if notification is None or notification.recipient_id != data.get("u"):
        return None, None, _("このリンクは無効です。"), 400
    incident = db.session.get(Incident, notification.incident_id)
    if not can(notification.user, Permission.INCIDENT_WORK, incident.organization_id):
        return None, None, _("このリンクの宛先の方は、現在このインシデントの受領を登録できません（役割の変更や利用停止のため）。"
                             "インシデントの担当者に連絡してください。"), 403
    return notification, incident, None, 200


@bp.route("/ack/<token>", methods=["GET", "POST"])
def ack_link(token: str):
    """GET only shows the question (mail scanners open links); the POST acknowledges."""
    notification, incident, problem, status = _from_token(token)
    if notification is None:
        return render_template("escalation/ack.html", problem=problem), status
    escalation = current_escalation(incident)
    done_by = db.session.get(User, escalation.acknowledged_by_id) if escalation and escalation.acknowledged_by_id else None
    form = AckForm()
    if request.method == "POST" and form.validate_on_submit() and done_by is None:
        acknowledge(notification.user, incident, "メールのリンク")
        escalation = current_escalation(incident)
        done_by = notification.user
    return render_template("escalation/ack.html", incident=incident, form=form, done_by=done_by,
                           escalation=escalation, person=notification.user, brief=ack_brief(incident, escalation),
                           category=get_profile(incident.organization.code).category(incident.threat_category))


@bp.post("/incidents/<int:incident_id>/acknowledge")
@login_required
def acknowledge_page(incident_id: int):
    incident = get_incident(current_user, incident_id)
    if not AckForm().validate_on_submit():
        flash(_("フォームの有効期限が切れました。もう一度操作してください。"), "error")
    else:
        changed = acknowledge(current_user, incident, "画面")
        flash(_("受領を登録しました。") if changed else _("すでに受領済みです。"), "success")
    return redirect(url_for("incidents.show", incident_id=incident_id) + "#escalation")


@bp.get("/oncall")
@login_required
def oncall():
    """Each body's people on call now, per role its escalation chains name; uncovered roles warned."""
    now = now_utc()
    bodies = []
    for org in organizations_by_ids(current_user.organization_ids()):
        roles = []
        for severity in SEVERITIES:
            for level in levels_for(org.id, severity)[0]:
                for target in level.notify:
                    role = target.split(":", 1)[1] if target.startswith("oncall:") else target
                    if role not in [r["role"] for r in roles]:
                        holders = role_holders(org.id, role)
                        scheduled = on_call(org.id, role, now)
                        reachable = reach(org.id, [target], now).people
                        roles.append({"role": role, "on_call": scheduled, "holders": holders, "reachable": reachable})
        bodies.append({"org": org, "roles": roles})
    return render_template("escalation/oncall.html", bodies=bodies, now=now)
