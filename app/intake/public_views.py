"""The public report form (住民等外部からの報告): no sign-in, Japanese, short, works without
JavaScript; rate-limited per address and overall; a receipt number for the reporter."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, Length, Optional

from app.core.errors import ValidationFailed
from app.core.timeutil import display_zone
from app.intake import services
from app.organizations.services import get_profile, organization_by_code

bp = Blueprint("public_report", __name__, url_prefix="/report")


class PublicReportForm(FlaskForm):
    what = TextAreaField(_l("何が起きましたか"), validators=[DataRequired(_l("入力してください。")),
                                                           Length(max=10_000, message=_l("10,000文字以内で入力してください。"))])
    when = DateTimeLocalField(_l("いつ気づきましたか（分かれば）"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    contact = StringField(_l("連絡先（任意）"), validators=[Optional(), Length(max=500, message=_l("500文字以内で入力してください。"))])
    attachment = FileField(_l("添付ファイル（任意）"))


@bp.route("/<org_code>", methods=["GET", "POST"])
def form(org_code: str):
    org = organization_by_code(org_code)
    if org is None:
        abort(404)
    profile = get_profile(org.code)
    form = PublicReportForm()
    page = {"form": form, "profile": profile, "limit_mib": current_app.config["PUBLIC_REPORT_MAX_BYTES"] // (1024 * 1024)}
    if not form.validate_on_submit():
        return render_template("intake/public_form.html", **page), 422 if form.errors else 200
    attachments = []
    upload = form.attachment.data
    if upload and upload.filename:
        data = upload.stream.read(current_app.config["PUBLIC_REPORT_MAX_BYTES"] + 1)
        if len(data) > current_app.config["PUBLIC_REPORT_MAX_BYTES"]:
            abort(413)
        attachments.append(services.Attachment(upload.filename, upload.mimetype, data, _("報告フォームの添付")))
    when = form.when.data.replace(tzinfo=display_zone()) if form.when.data else None
    try:
        outcome = services.submit_public(org, form.what.data, when, form.contact.data, request.remote_addr or "-", attachments)
    except services.TooMany as exc:
        page["problem"] = exc.message
        return render_template("intake/public_form.html", **page), 429
    except ValidationFailed as exc:
        form.when.errors = list(exc.fields.values())
        return render_template("intake/public_form.html", **page), 422
    return render_template("intake/public_receipt.html", profile=profile, receipt=outcome.report.receipt), 201
