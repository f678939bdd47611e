"""A request that fails half-way leaves nothing behind (issue 8, "no data lost"): one transaction
per request, rolled back at its end. The failure is injected after the incident row, its reference
number, deadlines and tasks were flushed, where the timeline entry is written."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.audit.services import verify
from app.core.db import db
from app.deadlines.models import Deadline
from app.incidents import timeline
from app.incidents.models import Incident, ReferenceCounter, Task

BODY = {"organization": "ageo", "title": "標的型メール", "threat_category": "intentional",
        "detected_at": "2026-11-20T09:00:00+09:00", "personal_data": {"involved": True, "sensitive": True, "persons": 3}}


def counts() -> dict[str, int]:
    db.session.rollback()
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Incident, ReferenceCounter, Task, Deadline, AuditEntry)}


def test_a_failure_after_the_writes_rolls_all_of_them_back(app, client, factory, monkeypatch):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    before = counts()

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(timeline, "record", disk_full)
    with pytest.raises(OSError):  # TESTING propagates it; in production it is a 500 after the rollback
        client.post("/api/v1/incidents", json=BODY, headers=headers)
    assert counts() == before
    assert verify().ok
    monkeypatch.undo()
    created = client.post("/api/v1/incidents", json=BODY, headers=headers)
    assert created.status_code == 201
    assert created.json["reference"].endswith("-0001")  # the failed attempt did not use up a number
    after = counts()
    assert after["incidents"] == before["incidents"] + 1 and after["deadlines"] > before["deadlines"]
