"""Sign-in (password, then the second factor where set or required), sign-out, and the person's
own security page (turning TOTP on and off)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.audit import services as audit
from app.auth import throttle, totp
from app.auth.services import authenticate, revoke_sessions
from app.auth.sessions import begin_second_step, keep_session, pending_next, pending_user, sign_out, start_session
from app.core.redirects import safe_next

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = StringField(_l("メールアドレス"), validators=[DataRequired(_l("入力してください")), Length(max=254)])
    password = PasswordField(_l("パスワード"), validators=[DataRequired(_l("入力してください")), Length(max=200)])
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField(_l("確認コード（6桁）"), validators=[DataRequired(_l("入力してください")), Length(max=12)])


def _address() -> str:
    return request.remote_addr or "-"


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    try:
        user = throttle.guarded(throttle.normalise_account(form.email.data), _address(),
                                lambda: authenticate(form.email.data, form.password.data))
    except throttle.Throttled as exc:
        flash(exc.message, "error")
        return render_template("auth/login.html", form=form), 429
    if user is None:  # answered 200: the request's transaction commits (the throttle has counted it already)
        flash(_("メールアドレスまたはパスワードが正しくありません。"), "error")
        return render_template("auth/login.html", form=form), 200
    target = safe_next(form.next.data, url_for("incidents.index"))
    if user.totp_enabled_at or totp.required_for(user):
        begin_second_step(user, target)
        return redirect(url_for("auth.second_factor" if user.totp_enabled_at else "auth.enrol_at_login"))
    start_session(user)
    return redirect(target)


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    user = pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if not user.totp_enabled_at:
        return redirect(url_for("auth.enrol_at_login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            verified = _code_checked(user, form.code.data)
        except throttle.Throttled as exc:
            flash(exc.message, "error")
            return render_template("auth/code.html", form=form), 429
        if verified:
            target = pending_next()
            start_session(user)
            return redirect(target)
        flash(_("確認コードが正しくありません。認証アプリの最新のコードを入力してください。"), "error")
    return render_template("auth/code.html", form=form)


def _code_checked(user, code: str) -> bool:
    """The person's current TOTP code, throttled like the password (a code is six digits)."""
    return throttle.guarded(throttle.normalise_account(user.email), _address(), lambda: totp.verify(user, code))


def _enrolment(form: CodeForm, user, audit_reason: str):
    """Shows a new secret (kept in the session until confirmed) or confirms it with a code."""
    secret = session.get("totp_secret")
    if request.method == "GET" or not secret:
        secret = session["totp_secret"] = totp.new_secret()
    elif form.validate_on_submit():
        if totp.enable(user, secret, form.code.data):
            session.pop("totp_secret", None)
            audit.append(user, "auth.totp_enabled", "user", user.id, payload={"how": audit_reason})
            return None
        flash(_("確認コードが正しくありません。認証アプリに表示されている6桁のコードを入力してください。"), "error")
    uri = totp.provisioning_uri(user.email, secret)
    return {"form": form, "qr": totp.qr_data_uri(uri), "secret": totp.grouped(secret)}


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol_at_login():
    """A role of the person requires a second factor they have not set up yet: set it up now."""
    user = pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if user.totp_enabled_at:
        return redirect(url_for("auth.second_factor"))
    context = _enrolment(CodeForm(), user, "required at sign-in")
    if context is None:
        target = pending_next()
        start_session(user)
        flash(_("二要素認証を設定しました。次回からログイン時に確認コードを入力します。"), "success")
        return redirect(target)
    return render_template("auth/enrol.html", required=True, action=url_for("auth.enrol_at_login"), **context)


@bp.get("/account/security")
@login_required
def security():
    return render_template("auth/security.html", required=totp.required_for(current_user), form=CodeForm())


@bp.route("/account/security/totp", methods=["GET", "POST"])
@login_required
def enrol():
    if current_user.totp_enabled_at:
        return redirect(url_for("auth.security"))
    context = _enrolment(CodeForm(), current_user, "own choice")
    if context is None:
        keep_session(current_user)  # enabling ended the person's other sessions, not this one
        flash(_("二要素認証を設定しました。次回からログイン時に確認コードを入力します。"), "success")
        return redirect(url_for("auth.security"))
    return render_template("auth/enrol.html", required=False, action=url_for("auth.enrol"), **context)


@bp.post("/account/security/totp/disable")
@login_required
def disable():
    form = CodeForm()
    if totp.required_for(current_user):
        flash(_("あなたの役割では二要素認証が必須のため、解除できません。"), "error")
        return redirect(url_for("auth.security"))
    try:
        verified = form.validate_on_submit() and _code_checked(current_user, form.code.data)
    except throttle.Throttled as exc:
        flash(exc.message, "error")
        return redirect(url_for("auth.security"))
    if verified:
        totp.disable(current_user)
        audit.append(current_user, "auth.totp_disabled", "user", current_user.id)
        keep_session(current_user)
        flash(_("二要素認証を解除しました。"), "success")
    else:
        flash(_("確認コードが正しくありません。"), "error")
    return redirect(url_for("auth.security"))


@bp.post("/logout")
@login_required
def logout():
    """Ends this session on every server: a copy of this cookie is signed out as well."""
    sign_out(current_user)
    return redirect(url_for("auth.login"))


@bp.post("/account/security/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """Ends every other session of the person (another browser, a lost PC); this one stays."""
    revoke_sessions(current_user)
    audit.append(current_user, "auth.sessions_revoked", "user", current_user.id)
    keep_session(current_user)
    flash(_("ほかの端末・ブラウザでのログインをすべて終了しました。"), "success")
    return redirect(url_for("auth.security"))
