"""The outbox's job on the tick: deliver what is due, exactly once per message.

A message is sent only by the process whose UPDATE moved it from `pending` to `sending`; a process
that died while sending leaves it to recover_stale.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app.core.db import database_now, db, due_batch
from app.core.timeutil import now_utc
from app.incidents.models import Incident
from app.notifications import channels, chat, messages, webhooks
from app.notifications.models import Channel, Notification, NotificationStatus

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
SENDING_TIMEOUT = dt.timedelta(minutes=2)  # longer than any one delivery (SMTP 10 s, webhook 5 s)


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def recover_stale(now: dt.datetime) -> int:
    """A message left `sending` by a process that died goes back to the queue. Claims are stamped
    and judged by the database's clock, so a server whose clock runs ahead cannot take back a
    message another server is still sending."""
    count = db.session.execute(
        update(Notification).where(Notification.status == NotificationStatus.SENDING.value,
                                   Notification.claimed_at < now - SENDING_TIMEOUT)
        .values(status=NotificationStatus.PENDING.value, next_attempt_at=now).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return count


def deliver_due(now: dt.datetime, limit: int) -> tuple[int, int]:
    """Claims a batch in one compare-and-set UPDATE (rows another process holds are skipped on
    PostgreSQL, so processes share the work), then sends each and records its outcome at once."""
    query = due_batch(select(Notification.id).where(
        Notification.status == NotificationStatus.PENDING.value, Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id), limit)
    ids = db.session.scalars(query).all()
    if not ids:
        db.session.commit()
        return 0, 0
    claimed = db.session.scalars(
        update(Notification).where(Notification.id.in_(ids), Notification.status == NotificationStatus.PENDING.value)
        .values(status=NotificationStatus.SENDING.value, claimed_at=database_now(), attempts=Notification.attempts + 1)
        .returning(Notification.id).execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    sent = failed = 0
    rows = db.session.scalars(select(Notification)
                              .where(Notification.id.in_(claimed)).order_by(Notification.id)
                              .execution_options(populate_existing=True)).all()
    incidents = {i.id: i for i in db.session.scalars(select(Incident).options(joinedload(Incident.organization))
                                                     .where(Incident.id.in_({n.incident_id for n in rows}))
                                                     .execution_options(populate_existing=True))}
    contexts = messages.prepare_batch(rows, incidents)
    with channels.Mailer() as mailer:
        for notification in rows:
            incident = incidents[notification.incident_id]
            try:
                _deliver(notification, incident, mailer, contexts[id(messages.kind_of(notification))])
            except channels.DeliveryError as exc:
                failed += 1
                give_up = notification.attempts >= MAX_ATTEMPTS
                values = {"status": NotificationStatus.FAILED.value if give_up else NotificationStatus.PENDING.value,
                          "last_error": str(exc)[:1000],
                          "next_attempt_at": None if give_up else now_utc() + backoff(notification.attempts)}
                log.warning("notification %s to %s failed (attempt %s): %s", notification.id, notification.recipient,
                            notification.attempts, exc.detail)
            else:
                sent += 1
                values = {"status": NotificationStatus.SENT.value, "sent_at": now_utc(), "last_error": None}
            db.session.execute(update(Notification).where(Notification.id == notification.id).values(**values)
                               .execution_options(synchronize_session=False))
            db.session.commit()  # per message: a crash re-sends at most the one in flight
    return sent, failed


def _deliver(notification: Notification, incident: Incident, mailer: channels.Mailer, context) -> None:
    if notification.channel == Channel.EMAIL.value:
        mailer.send(messages.kind_of(notification).email(notification, incident, context))
    elif notification.channel == Channel.WEBHOOK.value:
        if not notification.user.webhook:
            raise channels.DeliveryError("the person has no webhook any more")
        allow = webhooks.allow_list(incident.organization.code)
        preset = notification.user.webhook_preset
        if preset == "generic":
            channels.send_webhook(notification.user.webhook, messages.payload(notification, incident, context), allow)
        else:
            body, headers = chat.chat_message(preset, notification, incident, context)
            channels.send_webhook(notification.user.webhook, body, allow, notification.event_id, headers)
    # in_app: the row itself is the message; marking it sent is the delivery
