"""The incident page runs a constant number of SQL statements, however long its timeline."""
from __future__ import annotations

import io

from sqlalchemy import event

from app.core.db import db
from app.incidents import evidence, notes, tasks
from app.incidents.models import Task, TimelineEvent
from tests.workflow.helpers import login


def _busy_incident(factory, owner, helper, n_events: int):
    """An ageo intentional/malware incident (32 playbook tasks), two done by different people, one
    assigned, one evidence file (6 timeline entries with the escalation start), then notes until the timeline holds `n_events`."""
    incident = factory.incident(owner, subcategory="malware")
    items = tasks.tasks_of(incident)
    tasks.update_task(owner, incident, items[0], done=True)
    tasks.update_task(helper, incident, items[1], done=True)
    tasks.update_task(owner, incident, items[2], assignee_email=helper.email, assign=True)
    evidence.store_evidence(helper, incident, io.BytesIO(b"evidence"), "log.txt")
    db.session.flush()
    existing = db.session.query(TimelineEvent).filter_by(incident_id=incident.id).count()
    for n in range(n_events - existing):
        notes.add_note(owner if n % 2 else helper, incident, f"**経過 {n}** 対応状況を記録")
    db.session.commit()
    assert db.session.query(TimelineEvent).filter_by(incident_id=incident.id).count() == n_events
    assert db.session.query(Task).filter_by(incident_id=incident.id).count() == 32
    return incident


def _count_statements(app, client, url: str) -> tuple[int, str]:
    statements: list[str] = []

    def before_cursor_execute(_conn, _cursor, statement, _params, _context, _executemany):
        statements.append(statement)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return len(statements), response.get_data(as_text=True)


def test_incident_page_statement_count_does_not_grow_with_the_timeline(app, client, factory):
    owner = factory.user({"ageo": ["csirt"]}, name="担当 一郎")
    helper = factory.user({"ageo": ["system_admin"]}, name="情シス 二郎")
    small = _busy_incident(factory, owner, helper, 6)
    large = _busy_incident(factory, owner, helper, 200)
    login(client, owner)
    client.get(f"/incidents/{small.id}")  # warm-up: caches that fill once per process

    small_count, small_page = _count_statements(app, client, f"/incidents/{small.id}")
    large_count, large_page = _count_statements(app, client, f"/incidents/{large.id}")
    assert small_page.count('<li class="ev-') == 6 and small_page.count('class="ev-note"') == 0
    assert large_page.count('<li class="ev-') == 200 and large_page.count('class="ev-note"') == 194
    assert large_page.count("<strong>経過 190</strong>") == 1
    assert "情シス 二郎" in large_page and "担当 一郎" in large_page
    assert 5 <= small_count == large_count, (small_count, large_count)
    assert large_count < 20, large_count


def test_api_timeline_and_tasks_are_constant_too(app, client, factory):
    owner = factory.user({"ageo": ["csirt"]})
    helper = factory.user({"ageo": ["system_admin"]})
    small = _busy_incident(factory, owner, helper, 6)
    large = _busy_incident(factory, owner, helper, 200)
    headers = factory.headers(owner)
    counts = {}
    for name, incident in (("small", small), ("large", large)):
        for what in ("timeline", "tasks", "evidence"):
            statements: list[str] = []

            def listener(_conn, _cursor, statement, *_rest, into=statements):
                into.append(statement)

            engine = app.extensions["db_engine"]
            event.listen(engine, "before_cursor_execute", listener)
            try:
                response = client.get(f"/api/v1/incidents/{incident.id}/{what}", headers=headers)
            finally:
                event.remove(engine, "before_cursor_execute", listener)
            assert response.status_code == 200
            counts[name, what] = len(statements)
    for what in ("timeline", "tasks", "evidence"):
        assert counts["small", what] == counts["large", what], counts
        assert counts["large", what] < 10, counts
