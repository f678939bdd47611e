"""The notification centre's pages: the list, opening one message, marking all read."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from app.notifications import centre, personal

bp = Blueprint("notifications", __name__)


class MarkForm(FlaskForm):
    pass


def _page() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) < 100_000 else 1


@bp.get("/notifications")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    items, total = centre.inbox(current_user, _page(), unread_only)
    return render_template("notifications/index.html", items=items, total=total, page=_page(),
                           per_page=centre.PER_PAGE, unread_only=unread_only, form=MarkForm())


@bp.post("/notifications/<int:notification_id>/open")
@login_required
def open_message(notification_id: int):  # CSRF is checked for every POST (CSRFProtect)
    incident = centre.open_message(current_user, notification_id)
    return redirect(url_for("incidents.show", incident_id=incident.id))


@bp.post("/notifications/read")
@login_required
def mark_all_read():
    flash(_("%(n)s 件を既読にしました。", n=centre.mark_all_read(current_user)), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings():
    """Per kind of personal notice: in-app and/or e-mail (escalation pages are not chosen here)."""
    if request.method == "POST":  # CSRF is checked for every POST (CSRFProtect)
        personal.set_choices(current_user, {kind: request.form.getlist(kind) for kind in personal.KINDS})
        flash(_("通知の設定を保存しました。"), "success")
        return redirect(url_for("notifications.settings"))
    chosen = {kind: personal.choices_of([current_user], kind)[current_user.id] for kind in personal.KINDS}
    return render_template("notifications/settings.html", kinds=personal.KINDS, chosen=chosen, form=MarkForm())
