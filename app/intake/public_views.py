"""The public report form (住民等外部からの報告): no sign-in, Japanese, short, works without
JavaScript; rate-limited per address and overall; a receipt number for the reporter."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, Length, Optional

from app.core.db import db
from app.core.timeutil import display_zone, now_utc
from app.intake import services
from app.organizations.services import get_profile, organization_by_code

bp = Blueprint("public_report", __name__, url_prefix="/report")
ENDPOINT = "public_report.form"


class PublicReportForm(FlaskForm):
    what = TextAreaField(_l("何が起きましたか"), validators=[DataRequired(_l("入力してください。")),
                                                           Length(max=10_000, message=_l("10,000文字以内で入力してください。"))])
    when = DateTimeLocalField(_l("いつ気づきましたか（分かれば）"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    contact = StringField(_l("連絡先（任意）"), validators=[Optional(), Length(max=500, message=_l("500文字以内で入力してください。"))])
    attachment = FileField(_l("添付ファイル（任意）"))


def _limited(address: str) -> bool:
    config, hour_ago = current_app.config, now_utc() - dt.timedelta(hours=1)
    return services.recent_from(address, hour_ago) >= config["PUBLIC_REPORT_PER_ADDRESS"] or \
        services.recent_on("form", hour_ago) >= config["PUBLIC_REPORT_PER_HOUR"]


def _title(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return (first[:60] + "…") if len(first) > 60 else first or _("（内容なし）")


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
    address = request.remote_addr or "-"
    if _limited(address):
        page["problem"] = _("送信が集中しているため、受け付けられませんでした。入力内容はそのまま残っています。"
                            "しばらく（1時間ほど）待ってから、もう一度送信してください。お急ぎの場合はお電話でご連絡ください。")
        return render_template("intake/public_form.html", **page), 429
    when = form.when.data.replace(tzinfo=display_zone()) if form.when.data else None
    if when is not None and when > now_utc():
        form.when.errors = [_("未来の日時は入力できません。")]
        return render_template("intake/public_form.html", **page), 422
    attachments = []
    upload = form.attachment.data
    if upload and upload.filename:
        data = upload.stream.read(current_app.config["PUBLIC_REPORT_MAX_BYTES"] + 1)
        if len(data) > current_app.config["PUBLIC_REPORT_MAX_BYTES"]:
            abort(413)
        attachments.append(services.Attachment(upload.filename, upload.mimetype, data, _("報告フォームの添付")))
    outcome = services.submit(services.Submission(
        organization=org, channel="form", source="external", title=_title(form.what.data), body=form.what.data,
        occurred_at=when, contact=(form.contact.data or "").strip() or None, address=address, attachments=attachments))
    db.session.commit()
    return render_template("intake/public_receipt.html", profile=profile, receipt=outcome.report.receipt), 201
