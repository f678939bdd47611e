"""Evidence files (証拠保全): stored by SHA-256 outside the static folder; every download logged."""
from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
from pathlib import Path
from typing import BinaryIO

from flask import current_app, send_file
from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.models import User
from app.core.db import db
from app.core.errors import DomainError, Forbidden, NotFound, ValidationFailed
from app.core.permissions import Permission
from app.incidents import timeline
from app.incidents.access import can
from app.incidents.models import Evidence, Incident

CHUNK = 1024 * 1024


class TooLarge(DomainError):
    status = 413
    code = "too_large"


def _human_size(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB" if size >= 1024 * 1024 else f"{size / 1024:g} KiB"


def evidence_dir() -> Path:
    return Path(current_app.config.get("EVIDENCE_PATH") or Path(current_app.config["INSTANCE_PATH"]) / "evidence")


def blob_path(sha256: str, root: Path | None = None) -> Path:
    """Where the bytes of `sha256` live under the evidence folder (this instance's, or `root`)."""
    return (root or evidence_dir()) / sha256[:2] / sha256


def display_name(raw: str | None) -> str:
    """The uploaded name for display only: no directories, no control characters, bounded."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return name[:200] or "evidence.bin"


def store_blob(stream: BinaryIO, limit: int) -> tuple[str, int]:
    """Writes the bytes under their SHA-256 (written once, read-only); TooLarge past `limit`."""
    directory = evidence_dir()
    directory.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(_("ファイルが大きすぎます（上限 %(limit)s）。", limit=_human_size(limit)))
                digest.update(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        target = blob_path(sha)
        target.parent.mkdir(exist_ok=True)
        os.replace(tmp_name, target)  # same content, same name: a second upload is harmless
        target.chmod(0o440)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return sha, size


def preserve(stream: BinaryIO, filename: str | None, content_type: str | None, description: str, *,
             incident: Incident | None = None, report=None, uploaded_by: User | None = None) -> Evidence:
    """Stores the file (content-addressed, read-only) and adds its evidence row, the incident's or a
    report's (the report's files become the incident's when it is opened or merged)."""
    sha, size = store_blob(stream, current_app.config["EVIDENCE_MAX_BYTES"])
    item = Evidence(incident_id=incident.id if incident else None, report_id=report.id if report else None,
                    sha256=sha, size=size, filename=display_name(filename),
                    content_type=(content_type or "")[:255] or None, description=description[:2000],
                    uploaded_by_id=uploaded_by.id if uploaded_by else None, uploaded_by=uploaded_by)
    db.session.add(item)
    return item


def store_evidence(user: User, incident: Incident, stream: BinaryIO, filename: str | None, description: str = "",
                   content_type: str | None = None) -> Evidence:
    description = (description or "").strip()
    if len(description) > 2000 or "\x00" in description:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"description": _("2,000文字以内で入力してください。")})
    if not can(user, Permission.INCIDENT_WORK, incident.organization_id):
        raise Forbidden(_("証拠を登録する権限がありません。"))
    item = preserve(stream, filename, content_type, description, incident=incident, uploaded_by=user)
    db.session.flush()
    timeline.record(incident, user, "evidence_added", f"証拠「{item.filename}」を保全しました（SHA-256 {item.sha256[:12]}…）",
                    {"evidence_id": item.id, "sha256": item.sha256, "size": item.size, "filename": item.filename})
    return item


def evidence_of(incident: Incident) -> list[Evidence]:
    return list(db.session.scalars(select(Evidence).where(Evidence.incident_id == incident.id).order_by(Evidence.id)))


def get_evidence(incident: Incident, evidence_id: int) -> Evidence:
    item = db.session.get(Evidence, evidence_id) if 0 < evidence_id < 2**31 else None
    if item is None or item.incident_id != incident.id:
        raise NotFound(_("証拠が見つかりません。"))
    return item


def stored_file(item: Evidence) -> Path:
    """The file of an evidence row; a 404 if the evidence folder has lost it."""
    path = blob_path(item.sha256)
    if not path.exists():
        raise NotFound(_("証拠ファイルが保存場所にありません。"))
    return path


def open_for_download(user: User, incident: Incident, item: Evidence, channel: str) -> Path:
    """Logs the download (chain of custody) and returns the stored file."""
    path = stored_file(item)
    timeline.record(incident, user, "evidence_downloaded", f"証拠「{item.filename}」をダウンロードしました（{channel}）",
                    {"evidence_id": item.id, "sha256": item.sha256, "channel": channel})
    return path


def attachment_response(path: Path, item: Evidence):
    """Always a download, never rendered: octet-stream, nosniff, sandboxed."""
    response = send_file(path, mimetype="application/octet-stream", as_attachment=True,
                         download_name=item.filename, max_age=0, etag=item.sha256)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "no-store"
    return response
