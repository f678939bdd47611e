"""Personal notices: what tells one person that something concerns them (made owner or member, a
task assigned, a mention in a note, a deadline of their incident near). Each person chooses, per
kind, in-app and/or e-mail; escalation pages are not personal notices and keep their own rules.

Rows go to the shared outbox with the kind as `event`, the concerned object's id as `step` and the
timeline entry that caused it as `cycle`, so the same cause never tells the same person twice."""
from __future__ import annotations

from email.header import Header
from email.mime.text import MIMEText

from sqlalchemy import select

from app.auth.models import Membership, User
from app.core.db import db
from app.core.permissions import Permission, roles_with
from app.core.timeutil import now_utc
from app.incidents.models import Incident
from app.notifications.channels import address, incident_url
from app.notifications.messages import MessageKind
from app.notifications.models import Channel, Notification, NotificationChoice
from app.notifications.outbox import channels_for, insert_once, outbox_row

KINDS = {  # kind → its label on the settings page
    "assigned": "主担当・メンバーに指定されたとき",
    "task_assigned": "タスクの担当に指定されたとき",
    "mentioned": "メモで言及されたとき（@名前 または @メールアドレス）",
    "deadline_soon": "担当するインシデントの期限が24時間以内になったとき",
}
CHOICES = (Channel.IN_APP.value, Channel.EMAIL.value)


def choices_of(people: list[User], kind: str) -> dict[int, frozenset[str]]:
    """What each person chose for the kind (both when they never chose), in one query."""
    rows = db.session.scalars(select(NotificationChoice).where(
        NotificationChoice.user_id.in_([p.id for p in people]), NotificationChoice.kind == kind)) if people else []
    chosen = {row.user_id: frozenset(c for c, on in ((Channel.IN_APP.value, row.in_app), (Channel.EMAIL.value, row.email)) if on)
              for row in rows}
    return {p.id: chosen.get(p.id, frozenset(CHOICES)) for p in people}


def set_choices(person: User, choices: dict[str, list[str]]) -> None:
    for kind in KINDS:
        row = db.session.get(NotificationChoice, (person.id, kind)) or NotificationChoice(user_id=person.id, kind=kind)
        row.in_app, row.email = Channel.IN_APP.value in choices.get(kind, []), Channel.EMAIL.value in choices.get(kind, [])
        db.session.add(row)
    db.session.flush()


def tell(people: list[User], incident: Incident, kind: str, detail: str, about: int, cause: int) -> int:
    """One notice per person and chosen channel; answers how many people were told."""
    now, rows, told = now_utc(), [], 0
    chosen = choices_of(people, kind)
    for person in people:
        channels = channels_for(person, chosen[person.id])
        if channels:
            told += 1
        rows += [outbox_row(incident, person, kind, channel, kind, now, None, cause, about, 0, detail=detail)
                 for channel in channels]
    insert_once(rows)
    return told


def readers_of(incident: Incident) -> list[User]:
    """The active people of the incident's body who read all of its incidents: who may be mentioned."""
    return list(db.session.scalars(
        select(User).join(Membership).where(Membership.organization_id == incident.organization_id,
                                            Membership.active.is_(True),
                                            Membership.role.in_(roles_with(Permission.INCIDENT_READ_ALL)))
        .distinct().order_by(User.id)))


def mentioned_in(text: str, candidates: list[User]) -> list[User]:
    """`@` plus a person's e-mail, or their name with or without the space between family and
    given name (「@佐藤 花子」「@佐藤花子」), among the candidates only."""
    lowered = text.lower()
    found = []
    for person in candidates:
        names = {person.email.lower(), person.name.lower(), person.name.replace(" ", "").replace("　", "").lower()}
        if any(f"@{name}" in lowered for name in names if name):
            found.append(person)
    return found


def summary(notification: Notification, _incident: Incident, _context: None) -> str:
    return notification.detail or ""


def email_message(notification: Notification, incident: Incident, _context: None) -> MIMEText:
    body = [f"{notification.user.name} 様", "", notification.detail or "", "",
            f"番号: {incident.reference}", f"件名: {incident.title}", f"団体: {incident.organization.name}", "",
            f"インシデントの画面: {incident_url(incident)}", "",
            "この通知の受け取り方は、画面右上の「通知」→「通知の設定」で変えられます。"]
    message = MIMEText("\n".join(body), "plain", "utf-8")
    message["Subject"] = Header(f"[{incident.reference}] {notification.detail or ''}"[:200], "utf-8")
    address(message, notification)
    return message


NOTICE = MessageKind(email=email_message, summary=summary)
