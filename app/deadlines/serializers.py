"""The JSON shape of a deadline (API.md: `kind`, `due_at`, `met_at`, plus what the product adds)."""
from __future__ import annotations

import datetime as dt

from app.core.timeutil import iso_utc, now_utc
from app.deadlines.models import Deadline
from app.deadlines.services import deadlines_of, excluded_deadlines


def time_left(due_at: dt.datetime, now: dt.datetime | None = None) -> str:
    """「残り 2日3時間」 / 「超過 5時間」 in Japanese, to the minute when less than an hour."""
    delta = due_at - (now or now_utc())
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        amount = f"{days}日" + (f"{hours}時間" if hours else "")
    elif hours:
        amount = f"{hours}時間" + (f"{minutes}分" if minutes else "")
    else:
        amount = f"{minutes}分"
    return f"残り {amount}" if delta.total_seconds() >= 0 else f"超過 {amount}"


def deadline_json(deadline: Deadline, now: dt.datetime | None = None) -> dict:
    now = now or now_utc()
    return {
        "id": deadline.id, "kind": deadline.kind, "category": deadline.category, "origin": deadline.origin,
        "label": deadline.label, "authority": deadline.authority, "source": deadline.source,
        "due_at": iso_utc(deadline.due_at), "counts_from": deadline.counts_from, "met_at": iso_utc(deadline.met_at),
        "met_by": deadline.met_by.email if deadline.met_by else None, "reference": deadline.filed_reference,
        "note": deadline.note, "overdue": deadline.met_at is None and deadline.due_at <= now,
        "late": deadline.met_at is not None and deadline.met_at > deadline.due_at,
        "time_left": None if deadline.met_at else time_left(deadline.due_at, now),
    }


def incident_deadlines_json(incident) -> dict:
    """`deadlines`: what is owed outside the office (API.md: the regulatory kinds and notices a
    handler added); `internal_deadlines`: the chain's own target times (an extension);
    `excluded_deadlines`: the duties the encryption withdraws, each with its reason (an extension)."""
    items = [deadline_json(d) for d in deadlines_of(incident)]
    return {"deadlines": [d for d in items if d["category"] != "internal"],
            "internal_deadlines": [d for d in items if d["category"] == "internal"],
            "excluded_deadlines": excluded_deadlines(incident)}
