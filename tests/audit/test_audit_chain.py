"""The keyed audit chains: gapless under concurrency, and any UPDATE or DELETE is found."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from app.core.db import db
from tests.concurrency import run_in_threads

API = "/api/v1/incidents"
VERIFY = "/api/v1/audit/verify"


def body(title: str) -> dict:
    return {"organization": "ageo", "title": title, "threat_category": "intentional", "subcategory": "malware",
            "detected_at": "2026-11-20T10:00:00+09:00"}


def audit_ids() -> list[int]:
    with db.engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT id FROM audit_log ORDER BY id"))]


def chains() -> dict[str, list[int]]:
    """Each chain's sequence numbers, in order."""
    found: dict[str, list[int]] = {}
    with db.engine.connect() as conn:
        for chain, seq in conn.execute(text("SELECT chain, seq FROM audit_log ORDER BY chain, seq")):
            found.setdefault(chain, []).append(seq)
    return found


def execute(sql: str, **params) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def cli_verify(app) -> tuple[int, str]:
    return cli(app, "audit", "verify")


def cli(app, *args: str) -> tuple[int, str]:
    """The command in the test's app context, reading afresh as a new process would: exit code, output."""
    db.session.rollback()
    result = app.test_cli_runner().invoke(args=list(args))
    output = result.output
    try:
        output += result.stderr
    except ValueError:  # older Click: stderr mixed into output
        pass
    return result.exit_code, output


def api_verify(client, headers) -> dict:
    response = client.get(VERIFY, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert set(response.json) == {"ok", "entries", "first_bad"}
    return response.json


def make_entries(client, headers, n_incidents: int = 2) -> None:
    for n in range(n_incidents):
        created = client.post(API, headers=headers, json=body(f"監査テスト {n}"))
        assert created.status_code == 201
        note = client.post(f"{API}/{created.json['id']}/notes", headers=headers, json={"body": f"メモ {n}"})
        assert note.status_code == 201


def test_busy_concurrent_run_leaves_a_gapless_intact_chain(app, factory, auditor):
    users = [factory.user({"ageo": ["csirt"]}) for _ in range(6)]
    headers = [factory.headers(user) for user in users]
    barrier, lock = threading.Barrier(6), threading.Lock()
    statuses: list[int] = []

    def worker(n: int) -> None:
        with app.app_context():
            client = app.test_client()
            h = headers[n]
            barrier.wait(timeout=30)
            created = client.post(API, headers=h, json=body(f"同時 {n}"))
            iid = created.json["id"]
            task_id = client.get(f"{API}/{iid}/tasks", headers=h).json["items"][0]["id"]
            answers = [
                created,
                client.patch(f"{API}/{iid}", headers=h, json={"title": f"同時 {n} 更新", "version": 1}),
                client.post(f"{API}/{iid}/notes", headers=h, json={"body": f"スレッド {n} のメモ"}),
                client.patch(f"{API}/{iid}/tasks/{task_id}", headers=h, json={"done": True}),
                client.post(API, headers=h, json=body(f"同時 {n} 二件目")),
                # a stale version is refused and rolled back: it must leave no gap in the chain
                client.patch(f"{API}/{iid}", headers=h, json={"title": "古い版から", "version": 1}),
            ]
            with lock:
                statuses.extend(r.status_code for r in answers)

    assert run_in_threads(worker, 6) == []
    assert sorted(statuses) == sorted([201, 200, 201, 200, 201, 409] * 6)

    ids = audit_ids()
    count = len(ids)
    # every thread: 2 incidents created (each also starts an escalation), 1 update, 1 note, 1 task done
    # = 7 timeline entries, plus tokens
    with db.engine.connect() as conn:
        incident_actions = conn.execute(text("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'incident.%'")).scalar()
        events = conn.execute(text("SELECT COUNT(*) FROM timeline_events")).scalar()
    assert incident_actions == events == 42
    assert len(set(ids)) == count
    # the body's own chain, numbered without a gap
    assert {chain: seqs == list(range(1, len(seqs) + 1)) for chain, seqs in chains().items()} == {"ageo": True}
    assert len(chains()["ageo"]) == incident_actions
    client = app.test_client()
    assert api_verify(client, auditor) == {"ok": True, "entries": count, "first_bad": None}
    code, output = cli_verify(app)
    assert code == 0 and f"ok: {count} entries" in output

    victim = ids[count // 2]
    with db.engine.connect() as conn:
        original = conn.execute(text("SELECT payload FROM audit_log WHERE id = :id"), {"id": victim}).scalar()
    execute("UPDATE audit_log SET payload = :p WHERE id = :id", p='{"summary":"改ざん"}', id=victim)
    result = api_verify(client, auditor)
    assert result["ok"] is False and result["first_bad"] == victim
    code, output = cli_verify(app)
    assert code == 1 and f"entry {victim}" in output

    execute("UPDATE audit_log SET payload = :p WHERE id = :id", p=original, id=victim)
    assert api_verify(client, auditor) == {"ok": True, "entries": count, "first_bad": None}
    assert cli_verify(app)[0] == 0


@pytest.mark.parametrize("column,value", [
    ("actor", "someone@else.example.jp"), ("action", "incident.created"), ("organization", "saga"),
    ("object_id", "999999"), ("prev_hash", "f" * 64), ("hash", "0" * 64),
])
def test_changing_any_field_is_found(app, client, factory, auditor, column, value):
    make_entries(client, factory.headers(factory.user({"ageo": ["csirt"]})))
    ids = audit_ids()
    victim = ids[2]
    with db.engine.connect() as conn:
        original = conn.execute(text(f"SELECT {column} FROM audit_log WHERE id = :id"), {"id": victim}).scalar()
    assert str(original) != value  # the forgery must really change the entry
    execute(f"UPDATE audit_log SET {column} = :v WHERE id = :id", v=value, id=victim)
    result = api_verify(client, auditor)
    assert result["ok"] is False
    # a changed hash also breaks the link from the next entry; the changed one is named first
    assert result["first_bad"] == victim


def test_deleting_a_middle_entry_names_the_one_after_the_gap(app, client, factory, auditor):
    make_entries(client, factory.headers(factory.user({"ageo": ["csirt"]})), n_incidents=3)
    ids = audit_ids()
    assert chains() == {"ageo": list(range(1, len(ids) + 1))} and len(ids) >= 6
    assert api_verify(client, auditor)["ok"] is True
    victim, after = ids[len(ids) // 2], ids[len(ids) // 2 + 1]
    execute("DELETE FROM audit_log WHERE id = :id", id=victim)
    result = api_verify(client, auditor)
    assert result["ok"] is False and result["first_bad"] == after
    code, output = cli_verify(app)
    assert code == 1 and f"entry {after} (ageo #{len(ids) // 2 + 2}): #{len(ids) // 2 + 1} is missing" in output


def test_deleting_the_last_entry_is_found_through_the_head(app, client, factory, auditor):
    """The chain breaks after the last entry left: that one is named, and the head's count."""
    make_entries(client, factory.headers(factory.user({"ageo": ["csirt"]})))
    ids = audit_ids()
    seqs = chains()["ageo"]
    execute("DELETE FROM audit_log WHERE id = :id", id=ids[-1])
    result = api_verify(client, auditor)
    assert result == {"ok": False, "entries": len(ids) - 1, "first_bad": ids[-2]}
    code, output = cli_verify(app)
    assert code == 1
    assert f"ageo: the chain ends at #{seqs[-2]} but its head says #{seqs[-1]} (first bad entry {ids[-2]};" in output


def test_deleting_the_last_entries_and_rewinding_nothing_else(app, client, factory, auditor):
    make_entries(client, factory.headers(factory.user({"ageo": ["csirt"]})))
    ids = audit_ids()
    execute("DELETE FROM audit_log WHERE id >= :id", id=ids[-3])
    result = api_verify(client, auditor)
    assert result["ok"] is False and result["first_bad"] == ids[-4]


def test_appending_after_verification_keeps_the_chain(app, client, factory, auditor):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    make_entries(client, headers, n_incidents=1)
    first = api_verify(client, auditor)
    make_entries(client, headers, n_incidents=1)
    second = api_verify(client, auditor)
    assert first["ok"] and second["ok"] and second["entries"] == len(audit_ids()) > first["entries"]


@pytest.mark.parametrize("roles,status", [
    ({"ageo": ["auditor"]}, 200), ({"ageo": ["admin"]}, 200), ({"saga": ["auditor"]}, 200),
    ({"ageo": ["csirt"]}, 403), ({"ageo": ["ciso"]}, 403), ({"ageo": ["chief_officer"]}, 403),
    ({"ageo": ["security_manager"]}, 403), ({"ageo": ["reporter"]}, 403),
])
def test_only_auditors_and_admins_may_verify(client, factory, roles, status):
    response = client.get(VERIFY, headers=factory.headers(factory.user(roles)))
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 403:
        assert response.json["error"]["code"] == "forbidden"
    else:
        assert response.json["ok"] is True


def test_verify_needs_a_token(client):
    response = client.get(VERIFY)
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_the_cli_on_an_empty_or_intact_log(app, client, factory):
    code, output = cli_verify(app)
    assert code == 0 and "chain intact" in output
    make_entries(client, factory.headers(factory.user({"ageo": ["csirt"]})), n_incidents=1)
    code, output = cli_verify(app)
    assert code == 0 and f"ok: {len(audit_ids())} entries, chain intact, 0 checkpoints agree" in output
