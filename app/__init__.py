"""Application factory."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, abort, current_app, jsonify, request, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Config
from app.core.db import TransactionalFlask, db
from app.core.jsonbody import BoundedJSONProvider
from app.core.playbooks import Playbooks

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
LOCALES = ("ja", "en")


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES) or "ja"


EVIDENCE_UPLOADS = {"api.upload_evidence", "workflow.upload_evidence"}


def _body_limit() -> None:
    """Bodies are capped at MAX_CONTENT_LENGTH (1 MiB), evidence uploads and the public report
    form (one attachment) at their own limits."""
    if request.endpoint in EVIDENCE_UPLOADS:
        request.max_content_length = current_app.config["EVIDENCE_MAX_BYTES"] + 64 * 1024
    elif request.endpoint == "public_report.form":
        request.max_content_length = current_app.config["PUBLIC_REPORT_MAX_BYTES"] + 64 * 1024
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        abort(413)  # also where the handler never reads its body: refused before anything else


def _refuse_nul():
    """A NUL character is never valid input, and PostgreSQL refuses it in text: whether it comes in
    the path, the query or a form, the request stops here (the API's JSON bodies are checked by
    their schemas)."""
    bad = {"path": "\x00" in request.path}
    bad |= {name: any("\x00" in v for v in values) for name, values in request.args.lists()}
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        bad |= {name: any("\x00" in v for v in values) for name, values in request.form.lists()}
    fields = {name: "NUL characters are not allowed" for name, found in bad.items() if found}
    if not fields:
        return None
    if request.path.startswith("/api/"):
        from app.api.errors import error_response
        return error_response(422, "invalid", "invalid input", fields)
    abort(400)


def connect_subscribers() -> None:
    """The domains that react to an incident's events (app/incidents/events.py), each from its
    own registry. Connecting twice (several apps in one process) changes nothing."""
    from app.deadlines import subscriptions as deadlines
    from app.escalation import subscriptions as escalation
    from app.notifications import subscriptions as notifications
    from app.records import subscriptions as records

    for domain in (notifications, deadlines, escalation, records):
        domain.connect()


def load_playbooks(path: Path) -> Playbooks:
    """Every file of playbooks/, validated and cross-checked; a bad file stops the app with file,
    field and problem. Every loader runs, so one start-up names the mistakes of every file; the
    checks across loaders run once each part has loaded."""
    from app.core.yamlfile import YamlFileError
    from app.deadlines.rules import check_profiles, load_rule_sets
    from app.escalation.policy import load_escalation
    from app.incidents.playbook import check_rules_conditions, check_subcategories, load_checklists, load_stages
    from app.incidents.severity import load_severity_rules
    from app.organizations.profiles import load_profiles
    from app.risks.rules import check_risk_bodies, load_risk_rules

    found: list[str] = []

    def attempt(load, *args):
        try:
            return load(*args)
        except YamlFileError as exc:
            found.append(str(exc))
            return None

    parts = {"profiles": attempt(load_profiles, path / "organizations"), "stages": attempt(load_stages, path / "stages.yaml"),
             "checklists": attempt(load_checklists, path / "checklists"),
             "severity_rules": attempt(load_severity_rules, path / "severity.yaml"),
             "escalation": attempt(load_escalation, path / "escalation.yaml"),
             "reporting_rules": attempt(load_rule_sets, path / "reporting"),
             "risk": attempt(load_risk_rules, path / "risk.yaml")}
    if parts["profiles"] is not None and parts["checklists"] is not None:
        attempt(check_subcategories, parts["checklists"], parts["profiles"])
    if parts["profiles"] is not None and parts["reporting_rules"] is not None:
        attempt(check_profiles, parts["reporting_rules"], parts["profiles"])
    if parts["checklists"] is not None and parts["reporting_rules"] is not None:
        attempt(check_rules_conditions, parts["checklists"], parts["reporting_rules"])
    if parts["risk"] is not None and parts["profiles"] is not None:
        attempt(check_risk_bodies, parts["risk"], parts["profiles"])
    if found:
        raise YamlFileError("\n".join(found))
    return Playbooks(**parts)


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    app = TransactionalFlask(__name__, instance_path=str(config.INSTANCE_PATH), instance_relative_config=False)
    app.json = BoundedJSONProvider(app)
    app.config.from_mapping(config.as_dict())
    config.INSTANCE_PATH.mkdir(parents=True, exist_ok=True)

    if app.config.get("TRUSTED_PROXIES"):
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)
    from app.ops.requests import configure_logging
    configure_logging(app)  # first: the request id exists before any other hook logs
    db.init_app(app)
    app.before_request(_body_limit)  # before CSRF, which reads the form
    app.before_request(_refuse_nul)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    load_playbooks(app.config["PLAYBOOKS_PATH"]).install(app)

    from app.api import bp as api_bp
    from app.audit.cli import register_cli as register_audit_cli
    from app.auth.cli import register_cli as register_auth_cli
    from app.auth.views import bp as auth_bp
    from app.backup.cli import register_cli as register_backup_cli
    from app.deadlines.views import bp as deadlines_bp
    from app.escalation.views import bp as escalation_bp
    from app.incidents.views import bp as incidents_bp
    from app.incidents.workflow_views import bp as workflow_bp
    from app.intake.public_views import bp as public_report_bp
    from app.intake.triage_views import bp as triage_bp
    from app.jobs.cli import register_cli as register_jobs_cli
    from app.jobs.scheduler import start_scheduler_hook
    from app.notifications.views import bp as notifications_bp
    from app.organizations.cli import register_cli as register_org_cli
    from app.organizations.views import bp as organizations_bp
    from app.plan.views import bp as plan_bp
    from app.plan.views import register_cli as register_plan_cli
    from app.records.views import bp as records_bp
    from app.reviews.views import bp as reviews_bp
    from app.risks.views import bp as risks_bp
    from app.web import register_web

    connect_subscribers()
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(incidents_bp)
    app.register_blueprint(workflow_bp)
    app.register_blueprint(escalation_bp)
    app.register_blueprint(deadlines_bp)
    app.register_blueprint(records_bp)
    app.register_blueprint(reviews_bp)
    app.register_blueprint(risks_bp)
    app.register_blueprint(plan_bp)
    app.register_blueprint(triage_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(public_report_bp)
    app.register_blueprint(organizations_bp)
    register_plan_cli(app)
    register_jobs_cli(app)
    app.before_request(start_scheduler_hook)
    register_web(app)
    register_org_cli(app)
    register_auth_cli(app)
    register_audit_cli(app)
    register_backup_cli(app)
    from app.intake.cli import register_cli as register_intake_cli
    register_intake_cli(app)
    from app.ops.metrics import init_metrics
    init_metrics(app)

    @app.get("/healthz")
    def healthz():
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any database failure is "not ok"
            return jsonify({"status": "error", "database": "error"}), 503
        return jsonify({"status": "ok", "database": "ok"})

    return app
