"""Reading a maildir: every message in new/ and cur/ is filed, committed, then moved into a
sub-maildir: `.processed` (filed), `.unrouted` (for no known body) or `.oversize` (too large to
keep as evidence: the file itself is the original). A message is never deleted.

A crash before the commit leaves the message where it was and nothing written; a crash after
it leaves a message whose Message-ID is already filed, so the next run only moves it. Two
processes reading the same maildir both may file a message: the database keeps one report, and
the second rename finds the file gone ("someone else took it").
"""
from __future__ import annotations

import hashlib
import logging
import mailbox
import os
from pathlib import Path

from flask import current_app

from app.intake.mail import IntakeConfigError, Router, Step, Tally, router_from_config, take
from app.intake.mailparse import ParsedMail, parse, parse_oversize

log = logging.getLogger(__name__)
PROCESSED, UNROUTED, OVERSIZE = "processed", "unrouted", "oversize"
HEAD_BYTES = 256 * 1024  # enough for the headers of any real message


def limits() -> tuple[int, int]:
    return current_app.config["INTAKE_MAX_MESSAGE_BYTES"], current_app.config["EVIDENCE_MAX_BYTES"]


def read_mail(file: Path) -> ParsedMail:
    """The message in `file`; only its headers (and hash) when it is over the size limits."""
    size = file.stat().st_size
    message_max, evidence_max = limits()
    if size <= message_max and size <= evidence_max:
        return parse(file.read_bytes())
    digest = hashlib.sha256()
    with file.open("rb") as stream:
        head = stream.read(HEAD_BYTES)
        digest.update(head)
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    raw = file.read_bytes() if size <= evidence_max else None
    return parse_oversize(head, size, digest.hexdigest(), min(message_max, evidence_max), raw)


def _folder(box: mailbox.Maildir, root: Path, name: str) -> Path:
    try:
        box.add_folder(name)  # .name/{new,cur,tmp} and maildirfolder; harmless when it exists
    except FileExistsError:   # another process created it between the check and the mkdir
        pass
    return root / f".{name}"


def waiting(root: Path) -> list[Path]:
    """Messages in new/ and cur/, oldest name first (maildir names start with the delivery time)."""
    files = []
    for sub in ("new", "cur"):
        with os.scandir(root / sub) as entries:
            files += [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_file()]
    return sorted(files, key=lambda f: f.name)


def move(file: Path, folder: Path) -> bool:
    """Into the folder's cur/, marked seen; False when another process moved it first."""
    name = file.name if ":2," in file.name else f"{file.name}:2,S"
    try:
        os.rename(file, folder / "cur" / name)
    except FileNotFoundError:
        return False
    return True


def process_maildir(path: str | os.PathLike, organization: str | None = None, step: Step | None = None,
                    router: Router | None = None) -> Tally:
    """Files every waiting message of the maildir at `path`; with `organization`, every message is
    that body's (a dedicated mailbox), else the body is found by recipient (INTAKE_ADDRESSES)."""
    root = Path(path)
    if not (root / "new").is_dir() or not (root / "cur").is_dir():
        raise IntakeConfigError(f"{root} is not a maildir (it needs new/ and cur/ folders)")
    router = router or router_from_config(organization)
    if organization is None and not router.addresses:
        raise IntakeConfigError("INTAKE_ADDRESSES is empty: give --organization or map addresses to bodies")
    box = mailbox.Maildir(root, factory=None, create=False)
    folders = {name: _folder(box, root, name) for name in (PROCESSED, UNROUTED, OVERSIZE)}
    tally = Tally()
    for file in waiting(root):
        try:
            mail = read_mail(file)
        except FileNotFoundError:
            continue  # another process took it
        except OSError as exc:
            tally.failed += 1
            tally.notes.append(f"failed: {file.name} unreadable ({exc.strerror})")
            log.warning("mail intake: cannot read %s: %s", file, exc)
            continue
        result = take(mail, router, tally, step)
        if result == "failed":
            continue
        folder = folders[UNROUTED if result == "unrouted" else OVERSIZE if mail.raw is None else PROCESSED]
        if move(file, folder) and result == "unrouted":
            tally.notes[-1] += f" (kept in {folder})"
    return tally
