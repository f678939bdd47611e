"""Login and logout pages."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.auth.services import authenticate

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = StringField(_l("メールアドレス"), validators=[DataRequired(_l("入力してください")), Length(max=254)])
    password = PasswordField(_l("パスワード"), validators=[DataRequired(_l("入力してください")), Length(max=200)])
    next = HiddenField()


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("incidents.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("incidents.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            lang = session.get("lang")
            session.clear()  # a fresh session on login (no fixation)
            if lang:
                session["lang"] = lang
            login_user(user)
            return redirect(_safe_next(form.next.data))
        flash(_("メールアドレスまたはパスワードが正しくありません。"), "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))
