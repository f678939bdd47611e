"""Mail for the intake tests: real messages (email.message.EmailMessage, or bytes written by hand
where a real mailer writes what the library would not), delivered into real maildirs."""
from __future__ import annotations

import base64
import hashlib
import itertools
import mailbox
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from app.core.db import db
from app.incidents.evidence import blob_path
from app.incidents.models import Evidence
from app.intake.models import Report

AGEO = "csirt@city.ageo.example.jp"
SAGA = "csirt@city.saga.example.jp"
ADDRESSES = f"{AGEO}=ageo, {SAGA}=saga"
STAFF = "sato@city.ageo.example.jp"
OUTSIDER = "citizen@mail.example.com"
_ids = itertools.count(1)
DATE = "Fri, 20 Nov 2026 10:15:00 +0900"


def new_id() -> str:
    return f"<{next(_ids)}.intake-test@mail.example.com>"


def message(subject: str = "不審なメールを開いてしまいました", body: str = "添付ファイルを開いた後、画面が固まりました。",
            sender: str = f"佐藤 花子 <{STAFF}>", to: str = AGEO, message_id: str | None = "new", html: str | None = None,
            attachments: list[tuple[str, str, bytes]] = (), **headers: str) -> bytes:
    """A well-formed message; message_id="new" gives a fresh one, None none at all."""
    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = DATE
    if message_id:
        msg["Message-ID"] = new_id() if message_id == "new" else message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if html is not None and body is None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        if ctype == "message/rfc822":  # a forwarded message, attached as mailers do (not base64)
            msg.add_attachment(message_from_bytes(data, policy=policy.default), filename=filename)
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def iso_2022_jp(subject: str, body: bytes, message_id: str | None = None) -> bytes:
    """What Japanese mailers send: ISO-2022-JP in encoded-words and a 7bit body."""
    encoded = base64.b64encode(subject.encode("iso2022_jp")).decode()
    return (f"From: =?ISO-2022-JP?B?{base64.b64encode('鈴木'.encode('iso2022_jp')).decode()}?= <suzuki@city.ageo.example.jp>\r\n"
            f"To: {AGEO}\r\nSubject: =?ISO-2022-JP?B?{encoded}?=\r\nDate: {DATE}\r\n"
            f"Message-ID: {message_id or new_id()}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n").encode() + body


def deliver(root: Path, raw: bytes) -> Path:
    """Into root/new, as an MDA does (mailbox.Maildir writes tmp/ then renames into new/)."""
    box = mailbox.Maildir(root, factory=None, create=True)
    return root / "new" / box.add(raw)


def in_folder(root: Path, name: str) -> list[Path]:
    folder = root / f".{name}"
    return sorted(p for sub in ("new", "cur") for p in (folder / sub).glob("*")) if folder.exists() else []


def waiting(root: Path) -> list[Path]:
    return sorted(p for sub in ("new", "cur") for p in (root / sub).glob("*"))


def reports() -> list[Report]:
    db.session.rollback()  # a fresh snapshot: what the intake committed
    return list(db.session.scalars(select(Report).order_by(Report.id)))


def evidence_of_report(report: Report) -> list[Evidence]:
    return list(db.session.scalars(select(Evidence).where(Evidence.report_id == report.id).order_by(Evidence.id)))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored(evidence: Evidence) -> bytes:
    return blob_path(evidence.sha256).read_bytes()


class Crash(BaseException):
    """What a killed process looks like to the code it was running: nothing after it runs, and no
    `except Exception` catches it."""


def crash_at(point: str, after: int = 0):
    """A step hook that crashes at `point` ("before_commit"/"after_commit") once `after` messages passed it."""
    seen = itertools.count()

    def step(name: str) -> None:
        if name == point and next(seen) >= after:
            raise Crash(point)
    return step

