"""Page-wide pieces: template helpers, language switch, error pages, security headers."""
from __future__ import annotations

from flask import jsonify, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_login import current_user

from app.core.errors import HTTP_ERROR_CODES, Forbidden, NotFound, ValidationFailed
from app.core.i18n import category_label
from app.core.markdown import render_markdown
from app.core.permissions import ROLE_LABELS
from app.core.redirects import safe_next
from app.core.timeutil import format_display
from app.incidents.models import HELD_IN_LABELS, IMPACT_LABELS, SEVERITY_LABELS, SOURCE_LABELS, STAGE_LABELS
from app.notifications.centre import unread_count


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register_web(app) -> None:
    from app import login_manager
    from app.auth.sessions import load_user
    login_manager.user_loader(load_user)

    app.jinja_env.filters["jst"] = format_display
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.globals.update(
        STAGE_LABELS=STAGE_LABELS, SEVERITY_LABELS=SEVERITY_LABELS, SOURCE_LABELS=SOURCE_LABELS,
        IMPACT_LABELS=IMPACT_LABELS, HELD_IN_LABELS=HELD_IN_LABELS, ROLE_LABELS=ROLE_LABELS,
        current_locale=lambda: str(get_locale()),
        category_label=category_label, unread_notifications=_unread_notifications,
    )

    @app.post("/lang/<code>")
    def set_language(code: str):
        if code in ("ja", "en"):
            session["lang"] = code
        return redirect(safe_next(request.form.get("next") or request.args.get("next"), "/"))

    @app.get("/favicon.ico")
    def favicon():
        # Served without touching the session: a browser asks for it beside every page, and an error
        # page answered instead would rewrite the session cookie in a race with the page's own request.
        return app.send_static_file("favicon.svg"), 200, {"Content-Type": "image/svg+xml"}

    @app.get("/")
    def index():
        if current_user.is_authenticated:
            return redirect(url_for("triage.home"))  # the CSIRT's home; others go on to the incident list
        return redirect(url_for("auth.login"))

    from app.auth.sessions import enforce_timeouts
    app.before_request(enforce_timeouts)

    @app.after_request
    def _headers(response):
        if request.is_secure:  # only over HTTPS (directly, or X-Forwarded-Proto from a trusted proxy)
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'",
        )
        return response

    for status in (400, 403, 404, 405, 413, 415, 422):
        app.register_error_handler(status, _error_page(status))
    # A service's NotFound / Forbidden on a page (the API blueprint answers them as JSON itself).
    app.register_error_handler(NotFound, lambda exc: (render_template("error.html", status=404), 404))
    app.register_error_handler(Forbidden, lambda exc: (render_template("error.html", status=403), 403))
    # A bad query parameter a page passes to a service (forms handle their own errors in place).
    app.register_error_handler(ValidationFailed, lambda exc: (render_template("error.html", status=422), 422))


def _unread_notifications() -> int:
    """For the header's 通知 link: one indexed COUNT per page that shows it."""
    return unread_count(current_user) if current_user.is_authenticated else 0


def _error_page(status: int):
    def handler(exc):
        if _wants_json():
            return jsonify({"error": {"code": HTTP_ERROR_CODES[status],
                                      "message": getattr(exc, "description", str(exc)), "fields": {}}}), status
        return render_template("error.html", status=status), status
    return handler
