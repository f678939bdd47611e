"""Configuration read from the environment (see API.md, "Configuration")."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once into the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


class Config:
    def __init__(self, **overrides):
        env = os.environ
        self.INSTANCE_PATH = Path(overrides.pop("INSTANCE_PATH", None) or env.get("INSTANCE_PATH") or REPO_ROOT / "instance")
        self.PLAYBOOKS_PATH = Path(overrides.pop("PLAYBOOKS_PATH", None) or env.get("PLAYBOOKS_PATH") or REPO_ROOT / "playbooks")
        self.DATABASE_URL = env.get("DATABASE_URL") or f"sqlite:///{self.INSTANCE_PATH / 'app.db'}"
        self.PRODUCTION = env.get("FLASK_ENV") == "production" or env.get("APP_ENV") == "production"
        if self.PRODUCTION and not env.get("SECRET_KEY"):
            raise RuntimeError("SECRET_KEY must be set in production")
        self.SECRET_KEY = _secret_key(self.INSTANCE_PATH)
        self.BASE_URL = env.get("BASE_URL", "http://127.0.0.1:5000")
        self.TZ_DISPLAY = env.get("TZ_DISPLAY", "Asia/Tokyo")
        self.SCHEDULER_ENABLED = env.get("SCHEDULER_ENABLED", "1") == "1"
        self.TICK_SECONDS = int(env.get("TICK_SECONDS", "10"))
        self.MAX_CONTENT_LENGTH = 1024 * 1024
        self.WTF_CSRF_TIME_LIMIT = None
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.PRODUCTION
        self.BABEL_DEFAULT_LOCALE = "ja"
        self.BABEL_DEFAULT_TIMEZONE = "UTC"
        self.PAGE_SIZE = 50
        self.EVIDENCE_MAX_BYTES = int(env.get("EVIDENCE_MAX_BYTES", str(20 * 1024 * 1024)))
        self.EVIDENCE_PATH = env.get("EVIDENCE_PATH") or None
        self.SMTP_HOST = env.get("SMTP_HOST") or None
        self.SMTP_PORT = int(env.get("SMTP_PORT") or 25)
        self.MAIL_FROM = env.get("MAIL_FROM") or "csirt@localhost"
        self.WEBHOOK_SECRET = env.get("WEBHOOK_SECRET") or None
        self.WEBHOOK_CA_FILE = env.get("WEBHOOK_CA_FILE") or None  # an internal CA, beside the system's, for HTTPS webhooks
        self.LINEWORKS_BOT_TOKEN = env.get("LINEWORKS_BOT_TOKEN") or None  # the bearer of LINE WORKS bot messages (webhook_preset: lineworks)
        self.ACK_LINK_MAX_AGE = int(env.get("ACK_LINK_MAX_AGE", str(7 * 24 * 3600)))
        self.TRUSTED_PROXIES = int(env.get("TRUSTED_PROXIES", "0"))  # reverse proxies in front (X-Forwarded-*)
        self.LOG_FORMAT = env.get("LOG_FORMAT", "json" if self.PRODUCTION else "text")
        self.METRICS_TOKEN = env.get("METRICS_TOKEN") or None
        self.LOGIN_MAX_FAILURES_ACCOUNT = int(env.get("LOGIN_MAX_FAILURES_ACCOUNT", "5"))
        self.LOGIN_MAX_FAILURES_ADDRESS = int(env.get("LOGIN_MAX_FAILURES_ADDRESS", "20"))
        self.LOGIN_THROTTLE_MINUTES = int(env.get("LOGIN_THROTTLE_MINUTES", "15"))
        self.SESSION_IDLE_MINUTES = int(env.get("SESSION_IDLE_MINUTES", "30"))
        self.SESSION_MAX_HOURS = int(env.get("SESSION_MAX_HOURS", "12"))
        # Reports from anyone (issue 9): mail intake and the public report form
        self.INTAKE_MAILDIR = env.get("INTAKE_MAILDIR") or None          # read by the ticker when set
        self.INTAKE_SECONDS = int(env.get("INTAKE_SECONDS", "60"))        # once per period across all processes
        self.INTAKE_ADDRESSES = env.get("INTAKE_ADDRESSES", "")         # "csirt@city.example.jp=ageo,…"
        self.INTAKE_IMAP_HOST = env.get("INTAKE_IMAP_HOST") or None
        self.INTAKE_IMAP_PORT = int(env.get("INTAKE_IMAP_PORT") or 993)
        self.INTAKE_IMAP_USER = env.get("INTAKE_IMAP_USER") or None
        self.INTAKE_IMAP_PASSWORD = env.get("INTAKE_IMAP_PASSWORD") or None
        self.INTAKE_IMAP_FOLDER = env.get("INTAKE_IMAP_FOLDER", "INBOX")
        self.INTAKE_MAX_MESSAGE_BYTES = int(env.get("INTAKE_MAX_MESSAGE_BYTES", str(25 * 1024 * 1024)))
        self.PUBLIC_REPORT_MAX_BYTES = int(env.get("PUBLIC_REPORT_MAX_BYTES", str(5 * 1024 * 1024)))
        self.PUBLIC_REPORT_PER_ADDRESS = int(env.get("PUBLIC_REPORT_PER_ADDRESS", "5"))   # per hour
        self.PUBLIC_REPORT_PER_HOUR = int(env.get("PUBLIC_REPORT_PER_HOUR", "200"))       # all addresses
        self.STALE_DAYS = int(env.get("STALE_DAYS", "7"))  # an open incident with no activity this long needs attention
        # The audit log's key (else INSTANCE_PATH/audit_keys), older ones for verifying, checkpoints
        self.AUDIT_KEY = env.get("AUDIT_KEY") or None
        self.AUDIT_KEYS_OLD = env.get("AUDIT_KEYS_OLD", "")
        self.AUDIT_CHECKPOINT_MINUTES = int(env.get("AUDIT_CHECKPOINT_MINUTES", "60"))
        # Backups: the manifest's signing key (default derived from the audit key), age encryption
        self.BACKUP_KEY = env.get("BACKUP_KEY") or None
        self.BACKUP_KEYS_OLD = env.get("BACKUP_KEYS_OLD", "")
        self.BACKUP_AGE_RECIPIENT = env.get("BACKUP_AGE_RECIPIENT") or None
        self.BACKUP_AGE_IDENTITY = env.get("BACKUP_AGE_IDENTITY") or None
        self.PREFERRED_URL_SCHEME = "https" if self.PRODUCTION else "http"
        self.TESTING = False
        for key, value in overrides.items():
            setattr(self, key, value)
        self.AUDIT_CHECKPOINT_SECONDS = int(self.AUDIT_CHECKPOINT_MINUTES) * 60  # the ticker's job period

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
