"""E-mail to the triage queue (issue 9): each message becomes a report of the body it was sent to,
or, when its subject carries one of that body's incident references, goes onto that incident's
timeline. The original message and its attached files are kept as evidence.

Exactly once: every message is filed under its Message-ID (or the SHA-256 of its bytes), and
reports are unique per (body, message_id) (uq_reports_message). A mailbox reader commits the
report first and only then moves or flags the message; a crash in between leaves a message that
the next run finds already filed, and only moves. Several processes reading one mailbox meet at
the same unique index (services.submit turns the loser into "already there").

The readers are app/intake/maildir.py and app/intake/imap.py; the CLI and the tick, cli.py.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from app.auth.models import Membership, User
from app.core.db import db
from app.incidents import timeline
from app.incidents.models import Incident, Stage
from app.intake import services
from app.intake.mailparse import ParsedMail, normalized
from app.intake.models import Channel
from app.organizations.models import Organization

log = logging.getLogger(__name__)
Step = Callable[[str], None]  # called with "before_commit" / "after_commit" (tests simulate crashes there)


class IntakeError(Exception):
    """The mailbox cannot be read at all (bad path, bad settings, server unreachable)."""


class IntakeConfigError(IntakeError):
    """INTAKE_ADDRESSES, INTAKE_* or a command's options do not make sense: nothing is read."""


@dataclass
class Tally:
    new: int = 0          # reports waiting in a triage queue
    added: int = 0        # replies put on an incident's timeline
    duplicate: int = 0    # already filed (a second delivery, a rerun after a crash)
    flagged: int = 0      # of the new and added: malformed, kept for a person to look at
    unrouted: int = 0     # messages for no known body, kept aside
    failed: int = 0       # messages left in place after an error (tried again next run)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"{self.new} new reports, {self.added} added to incidents, {self.duplicate} duplicate, "
                f"{self.flagged} flagged, {self.unrouted} unrouted")
        return text + (f", {self.failed} failed" if self.failed else "")

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("new", "added", "duplicate", "flagged", "unrouted", "failed")}


def parse_addresses(setting: str) -> dict[str, str]:
    """"csirt@city.example.jp=ageo, soc@example.jp=saga" → {address: organization code}."""
    mapping: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in re.split(r"[,\n]", setting or ""))):
        address, sep, code = (part.strip() for part in entry.partition("="))
        if not sep or "@" not in address or not code:
            raise IntakeConfigError(f"INTAKE_ADDRESSES: '{entry}' is not ADDRESS=ORGANIZATION")
        mapping[address.lower()] = code
    return mapping


class Router:
    """Which bodies a message is for, and whether its sender is one of the body's own."""

    def __init__(self, addresses: dict[str, str], forced: str | None = None):
        codes = set(addresses.values()) | ({forced} if forced else set())
        found = {o.code: o for o in db.session.scalars(select(Organization).where(Organization.code.in_(codes)))}
        unknown = sorted(codes - set(found))
        if unknown:
            raise IntakeConfigError(f"unknown organization code(s): {', '.join(unknown)} (see `flask orgs`)")
        self.addresses = {a: found[c] for a, c in addresses.items()}
        self.forced = found.get(forced) if forced else None
        self._domains: dict[int, set[str]] = {}

    def bodies(self, mail: ParsedMail) -> list[Organization]:
        if self.forced is not None:
            return [self.forced]
        return list({o.id: o for a in mail.recipients if (o := self.addresses.get(a)) is not None}.values())

    def source(self, mail: ParsedMail, org: Organization) -> str:
        """"internal" for mail from the body's own domains (its intake addresses', its people's)."""
        if org.id not in self._domains:
            emails = list(self.addresses_of(org)) + list(db.session.scalars(
                select(User.email).join(Membership, Membership.user_id == User.id)
                .where(Membership.organization_id == org.id, Membership.active.is_(True))))
            self._domains[org.id] = {e.rsplit("@", 1)[-1].lower() for e in emails}
        domain = (mail.sender or "").rsplit("@", 1)[-1].lower()
        internal = any(domain == d or domain.endswith("." + d) for d in self._domains[org.id])
        return "internal" if mail.sender and internal else "external"

    def addresses_of(self, org: Organization) -> list[str]:
        return [a for a, o in self.addresses.items() if o.id == org.id]


def router_from_config(forced: str | None = None) -> Router:
    return Router(parse_addresses(current_app.config.get("INTAKE_ADDRESSES", "")), forced)


def referenced_incident(org: Organization, subject: str) -> Incident | None:
    """The body's open incident whose reference (AGEO-2026-0001, full-width too) the subject names."""
    pattern = re.compile(rf"(?<![A-Z0-9-]){re.escape(org.reference_prefix)}-(\d{{4}})-(\d{{1,6}})(?!\d)", re.IGNORECASE)
    for year, number in pattern.findall(normalized(subject)):
        reference = f"{org.reference_prefix}-{year}-{int(number):04d}"
        incident = db.session.scalar(select(Incident).where(Incident.organization_id == org.id,
                                                            Incident.reference == reference))
        if incident is not None and incident.stage != Stage.CLOSED.value:
            return incident
    return None


def _submission(mail: ParsedMail, org: Organization, router: Router) -> services.Submission:
    return services.Submission(
        organization=org, channel=Channel.EMAIL.value, source=router.source(mail, org), title=mail.title,
        body=mail.body, sender=mail.display_sender, message_id=mail.message_id,
        flag_reason=mail.flag_reason, attachments=mail.evidence())


def _onto_timeline(outcome: services.Outcome, incident: Incident, mail: ParsedMail) -> None:
    """A reply naming an incident: the report just filed is merged at once (by the system, not a
    person), its files become the incident's evidence, and the mail goes onto the timeline."""
    report = outcome.report
    services.merged_by_reply(report, incident, f"件名の参照番号 {incident.reference} により自動で追加")
    kept = services.attachments_of(report)
    timeline.record(incident, None, "mail_received",
                    f"メールを受信しました（{mail.display_sender or '差出人不明'}）: {mail.title[:80]}",
                    {"message_id": mail.message_id, "sender": mail.sender, "subject": mail.title, "body": mail.body,
                     "receipt": report.receipt, "flag_reason": report.flag_reason,
                     "evidence": [{"id": e.id, "filename": e.filename, "sha256": e.sha256} for e in kept]})


def file_mail(mail: ParsedMail, bodies: list[Organization], router: Router, tally: Tally) -> None:
    """Files the message once per body (no commit)."""
    for org in bodies:
        incident = referenced_incident(org, mail.subject)
        outcome = services.submit(_submission(mail, org, router))
        if not outcome.created:
            tally.duplicate += 1
            continue
        if incident is not None:
            _onto_timeline(outcome, incident, mail)
            tally.added += 1
        else:
            tally.new += 1
        tally.flagged += outcome.report.flagged


def take(mail: ParsedMail, router: Router, tally: Tally, step: Step | None = None) -> str:
    """Files one message in its own transaction and commits. Returns what to do with it in the
    mailbox: "done", "unrouted", or "failed" (left where it is, to be tried again)."""
    bodies = router.bodies(mail)
    if not bodies:
        tally.unrouted += 1
        tally.notes.append(f"unrouted: {mail.message_id} from {mail.sender or '-'} to {', '.join(mail.recipients) or '-'}")
        return "unrouted"
    counts = Tally()
    try:
        file_mail(mail, bodies, router, counts)
        _checkpoint(step, "before_commit")
        db.session.commit()
    except Exception as exc:  # noqa: BLE001 - one bad message never stops the batch
        db.session.rollback()
        log.exception("mail intake: %s could not be filed; keeping it flagged without its parts", mail.message_id)
        counts = Tally()
        try:  # the least that keeps it: headers and the original, flagged
            file_mail(mail.degraded(f"取り込み中にエラーが発生しました（{type(exc).__name__}）"), bodies, router, counts)
            _checkpoint(step, "before_commit")
            db.session.commit()
        except Exception:  # noqa: BLE001 - the database itself failing: leave the message for the next run
            db.session.rollback()
            log.exception("mail intake: %s left in the mailbox", mail.message_id)
            tally.failed += 1
            tally.notes.append(f"failed: {mail.message_id} left in place ({type(exc).__name__})")
            return "failed"
    _checkpoint(step, "after_commit")
    for name in ("new", "added", "duplicate", "flagged"):
        setattr(tally, name, getattr(tally, name) + getattr(counts, name))
    return "done"


def _checkpoint(step: Step | None, name: str) -> None:
    if step is not None:
        step(name)
