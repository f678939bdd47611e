"""Every migration runs on a database holding data (issue 7, item 5), on both engines.

For each revision N: a database at N-1 gets realistic rows (plain SQL) in every table it has;
`upgrade N` must keep every row and value, give the added columns their defaults or backfilled
values and enforce the new constraints on the old rows; then up to head, down to N-1 (the rows
exactly as they were) and up again. A database filled at 0001 (and at 0004) goes to head in
one `upgrade head`, and the app reads it through the JSON API, audit verification included.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from types import SimpleNamespace

import pytest
from alembic import command
from sqlalchemy import MetaData, select, text
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.audit.services import GENESIS, canonical_json, legacy_hash
from app.config import Config
from app.core.db import db, make_engine
from app.core.migrate import alembic_config, upgrade_head
from tests.migration_support import current_revision, head_revision, incident_counts, revisions, schema_differences

TOKEN = "csirt_populated-database-test-token"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


def naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def incident(id, org, reference, number, stage, title, **values) -> dict:
    return {"id": id, "organization_id": org, "reference": reference, "ref_year": 2026, "ref_number": number,
            "title": title, "description": f"{title}。**初動**は庁内手順による。", "search_text": title,
            "threat_category": "intentional", "subcategory": "malware", "detected_at": at(20, 0, 30),
            "source": "internal", "network_segments": ["lgwan"], "impacts": ["leak"],
            "asset_classes": {"confidentiality": "2"}, "pd_involved": False, "pd_persons": 0,
            "pd_sensitive": False, "pd_my_number": False, "pd_financial_damage": False, "pd_malicious": False,
            "severity": "medium", "computed_severity": "medium", "severity_reason": None,
            "severity_overridden_by_id": None, "severity_overridden_at": None, "stage": stage, "reporter_id": 1,
            "acknowledged_at": None, "closed_at": None, "created_at": at(20, 0, 50), "updated_at": at(22, 10),
            "version": 7} | values


def stage_event(id, incident_id, moment, kind, before, after, **data) -> dict:
    return {"id": id, "incident_id": incident_id, "at": moment, "actor_id": 1, "kind": kind,
            "summary": f"段階: {before} → {after}", "data": {"from": before, "to": after, "reason": None} | data}


def audit_chain() -> list[dict]:
    """Three entries linked as app.audit did before 0012 (legacy_hash, unkeyed), head row updated after."""
    rows, prev = [], GENESIS
    for number, (moment, actor_id, actor, action) in enumerate([
            (at(20, 0, 50), 1, "tanaka@city.ageo.example.jp", "incident.created"),
            (at(20, 1), 1, "tanaka@city.ageo.example.jp", "incident.stage_changed"),
            (at(20, 1, 20), None, "system", "incident.escalation_step")], start=1):
        row = {"id": number, "at": moment, "actor_id": actor_id, "actor": actor, "action": action,
               "object_type": "incident", "object_id": "1", "organization": "ageo", "prev_hash": prev,
               "payload": canonical_json({"reference": "AGEO-2026-0001", "summary": action, "data": {}})}
        prev = row["hash"] = legacy_hash(SimpleNamespace(**row))
        rows.append(row)
    return rows


STEPS = [{"level": 1, "repeat": 0, "offset_s": 0, "notify": ["csirt", "security_manager"], "only": None, "channels": None},
         {"level": 2, "repeat": 0, "offset_s": 1800, "notify": ["chief_officer"], "only": None, "channels": None},
         {"level": 3, "repeat": 0, "offset_s": 7200, "notify": ["ciso"], "only": None, "channels": ["email"]}]


def message(id, incident_id, escalation_id, cycle, step, recipient, channel, status, **values) -> dict:
    return {"id": id, "event_id": f"6f1c2d3e-0000-4000-8000-{id:012d}", "incident_id": incident_id,
            "escalation_id": escalation_id, "cycle": cycle, "step": step, "level": step + 1, "event": "escalation",
            "recipient_id": recipient, "recipient": "tanaka@city.ageo.example.jp" if recipient == 1
            else "sato@city.toride.example.jp", "role": "csirt", "channel": channel, "status": status,
            "attempts": 1, "last_error": None, "next_attempt_at": None, "claimed_at": None,
            "sent_at": at(20, 0, 51) if status == "sent" else None, "created_at": at(20, 0, 51)} | values


# Rows inserted at each revision, into the tables that revision has (ids given: rows are matched by them).
SEEDS: dict[str, list[tuple[str, dict]]] = {
    "0001": [
        ("organizations", {"id": 1, "code": "ageo", "name": "上尾市", "kind": "city", "parent_id": None,
                           "reference_prefix": "AGEO", "updated_at": at(1, 0)}),
        ("organizations", {"id": 2, "code": "toride", "name": "取手市", "kind": "city", "parent_id": None,
                           "reference_prefix": "TORIDE", "updated_at": at(1, 0)}),
        ("organizations", {"id": 3, "code": "toride-gikai", "name": "取手市議会", "kind": "assembly", "parent_id": 2,
                           "reference_prefix": "TORIDE-GIKAI", "updated_at": at(1, 0)}),
        ("users", {"id": 1, "email": "tanaka@city.ageo.example.jp", "name": "田中 一郎", "phone": "048-775-0000",
                   "password_hash": "scrypt:32768:8:1$salt$0123abcd", "webhook": "https://hooks.example.jp/csirt",
                   "available": True, "deputy_of_id": None, "locale": "ja", "created_at": at(1, 0)}),
        ("users", {"id": 2, "email": "sato@city.toride.example.jp", "name": "佐藤 花子", "phone": None,
                   "password_hash": None, "webhook": None, "available": False, "deputy_of_id": 1, "locale": "en",
                   "created_at": at(2, 9, 15)}),
        ("memberships", {"id": 1, "user_id": 1, "organization_id": 1, "role": "csirt", "active": True, "created_at": at(1, 0)}),
        ("memberships", {"id": 2, "user_id": 1, "organization_id": 1, "role": "auditor", "active": True, "created_at": at(1, 0)}),
        ("memberships", {"id": 3, "user_id": 2, "organization_id": 2, "role": "csirt", "active": True, "created_at": at(2, 9)}),
        ("memberships", {"id": 4, "user_id": 2, "organization_id": 1, "role": "reporter", "active": False, "created_at": at(2, 9)}),
        ("api_tokens", {"id": 1, "user_id": 1, "token_hash": hashlib.sha256(TOKEN.encode()).hexdigest(), "name": "SIEM連携",
                        "created_at": at(3, 0), "expires_at": None, "revoked_at": None, "last_used_at": at(19, 8)}),
        ("api_tokens", {"id": 2, "user_id": 2, "token_hash": "f" * 64, "name": None, "created_at": at(3, 0),
                        "expires_at": dt.datetime(2027, 11, 3, tzinfo=dt.UTC), "revoked_at": at(10, 12), "last_used_at": None}),
        ("incidents", incident(1, 1, "AGEO-2026-0001", 1, "prevent", "職員端末のマルウェア感染", severity="high",
                               computed_severity="high", network_segments=["lgwan", "internet"], impacts=["leak", "tampering"],
                               asset_classes={"confidentiality": "2", "integrity": "1"}, pd_involved=True, pd_persons=120,
                               acknowledged_at=at(20, 1, 5))),
        ("incidents", incident(2, 1, "AGEO-2026-0002", 2, "closed", "USBメモリの紛失", threat_category="unintentional",
                               subcategory="loss", detected_at=at(22, 8), source="external", network_segments=[],
                               impacts=["leak"], asset_classes={}, severity="critical", computed_severity="high",
                               severity_reason="住民情報を含むため", severity_overridden_by_id=1,
                               severity_overridden_at=at(22, 8, 30), closed_at=at(22, 10))),
        ("incidents", incident(3, 2, "TORIDE-2026-0001", 1, "closed", "不審メールの受信", reporter_id=2, detected_at=at(18, 11),
                               severity="low", computed_severity="low", impacts=[], closed_at=at(18, 12))),
        ("reference_counters", {"organization_id": 1, "year": 2026, "last_number": 2}),
        ("reference_counters", {"organization_id": 2, "year": 2026, "last_number": 1}),
    ],
    "0002": [
        ("timeline_events", {"id": 1, "incident_id": 1, "at": at(20, 0, 50), "actor_id": 1, "kind": "created",
                             "summary": "インシデントを登録", "data": {}}),
        ("timeline_events", stage_event(2, 1, at(20, 1), "stage_changed", "triage", "report")),
        ("timeline_events", stage_event(3, 1, at(20, 1, 20), "stage_overridden", "report", "contain", skipped=["preserve"])),
        ("timeline_events", stage_event(4, 1, at(20, 3), "stage_changed", "contain", "recover")),
        ("timeline_events", stage_event(5, 1, at(20, 4), "stage_back", "recover", "contain")),
        ("timeline_events", stage_event(6, 1, at(20, 5), "stage_changed", "contain", "recover")),
        ("timeline_events", stage_event(7, 1, at(21, 9, 30), "stage_changed", "recover", "prevent")),
        ("timeline_events", stage_event(8, 2, at(22, 9), "stage_overridden", "triage", "contain")),
        ("timeline_events", stage_event(9, 2, at(22, 10), "stage_overridden", "contain", "closed")),
        ("timeline_events", stage_event(10, 3, at(18, 12), "stage_changed", "triage", "closed")),
        ("tasks", {"id": 1, "incident_id": 1, "stage": "contain", "code": "contain.isolate", "source": "playbook:ageo",
                   "title": "感染端末をネットワークから切り離す", "guidance": "LANケーブルを抜き、無線を無効にする。", "required": True,
                   "role": "csirt", "position": 0, "assignee_id": 1, "done": True, "done_by_id": 1, "done_at": at(20, 2),
                   "created_by_id": None, "created_at": at(20, 0, 50)}),
        ("tasks", {"id": 2, "incident_id": 1, "stage": "recover", "code": None, "source": "manual", "title": "業者へ連絡",
                   "guidance": "", "required": False, "role": None, "position": 1, "assignee_id": None, "done": False,
                   "done_by_id": None, "done_at": None, "created_by_id": 1, "created_at": at(20, 3)}),
        ("tasks", {"id": 3, "incident_id": 1, "stage": "recover", "code": None, "source": "manual", "title": "再設定",
                   "guidance": "", "required": False, "role": None, "position": 2, "assignee_id": 2, "done": False,
                   "done_by_id": None, "done_at": None, "created_by_id": 1, "created_at": at(20, 3)}),
        ("evidence", {"id": 1, "incident_id": 1, "sha256": "ab" * 32, "size": 5 * 2**30, "filename": "端末イメージ.E01",
                      "content_type": "application/octet-stream", "description": "保全したディスクイメージ",
                      "uploaded_by_id": 1, "uploaded_at": at(20, 2, 30)}),
        ("evidence", {"id": 2, "incident_id": 2, "sha256": "cd" * 32, "size": 0, "filename": "empty.txt",
                      "content_type": None, "description": "", "uploaded_by_id": None, "uploaded_at": at(22, 9)}),
        *[("audit_log", row) for row in audit_chain()],
    ],
    "0003": [
        ("roster_policies", {"id": 1, "organization_id": 1, "severity": "high",
                             "levels": [{"notify": ["csirt"], "after": "0s"}, {"notify": ["ciso"], "after": "1h"}]}),
        ("oncall_rotations", {"id": 1, "organization_id": 1, "role": "csirt", "starts_at": at(2, 0), "period_days": 7,
                              "member_ids": [1, 2]}),
        ("oncall_overrides", {"id": 1, "organization_id": 1, "role": "csirt", "user_id": 1, "starts_at": at(20, 0),
                              "ends_at": at(21, 0)}),
        ("escalations", {"id": 1, "incident_id": 1, "cycle": 1, "severity": "high", "policy": STEPS, "started_at": at(20, 0, 50),
                         "next_step": 1, "next_at": at(20, 1, 20), "state": "acknowledged", "acknowledged_at": at(20, 1, 5),
                         "acknowledged_by_id": 1, "updated_at": at(20, 1, 5)}),
        ("escalations", {"id": 2, "incident_id": 2, "cycle": 1, "severity": "high", "policy": STEPS, "started_at": at(22, 8),
                         "next_step": 1, "next_at": at(22, 8, 30), "state": "superseded", "acknowledged_at": None,
                         "acknowledged_by_id": None, "updated_at": at(22, 8, 30)}),
        ("escalations", {"id": 3, "incident_id": 2, "cycle": 2, "severity": "critical", "policy": STEPS,
                         "started_at": at(22, 8, 30), "next_step": 3, "next_at": None, "state": "exhausted",
                         "acknowledged_at": None, "acknowledged_by_id": None, "updated_at": at(22, 10, 30)}),
        ("notifications", message(1, 1, 1, 1, 0, 1, "email", "sent")),
        ("notifications", message(2, 1, 1, 1, 0, 1, "in_app", "sent")),
        ("notifications", message(3, 1, 1, 1, 1, 1, "in_app", "cancelled", attempts=0)),
        ("notifications", message(4, 2, 3, 2, 2, 2, "webhook", "failed", attempts=5, last_error="HTTP 502 Bad Gateway")),
        ("notifications", message(5, 2, 3, 2, 2, 1, "email", "pending", attempts=0, next_attempt_at=at(22, 10, 31))),
    ],
    "0004": [
        ("deadlines", {"id": 1, "incident_id": 1, "organization_id": 1, "kind": "ppc_preliminary", "category": "regulatory",
                       "origin": "rule", "label": "個人情報保護委員会への漏えい等報告（速報）", "authority": "個人情報保護委員会",
                       "source": "個人情報の保護に関する法律 第68条第1項", "due_at": at(23, 0, 30), "met_at": at(21, 15),
                       "met_by_id": 1, "filed_reference": "PPC-2026-12345", "note": None, "round": 1,
                       "approaching_notified_at": at(22, 0, 30), "overdue_notified_at": None, "withdrawn_at": None,
                       "created_at": at(20, 0, 50), "updated_at": at(21, 15)}),
        ("deadlines", {"id": 2, "incident_id": 2, "organization_id": 1, "kind": "persons_notice", "category": "notice",
                       "origin": "manual", "label": "県への報告", "authority": "埼玉県", "source": None,
                       "due_at": at(25, 8), "met_at": None, "met_by_id": None, "filed_reference": None, "note": "電話で了承済み",
                       "round": 2, "approaching_notified_at": None, "overdue_notified_at": None, "withdrawn_at": None,
                       "created_at": at(22, 9), "updated_at": at(22, 9, 5)}),
        ("post_incident_records", {"id": 1, "incident_id": 2, "cause": "持ち出し手順の不徹底", "impact": "住民12名の氏名",
                                   "measures": "関係者へ連絡", "prevention": "暗号化USBへの統一", "policy_clauses": ["8-2", "8-5"],
                                   "times": {"detected": "2026-11-22T08:00:00Z"}, "saved_at": at(23, 9),
                                   "saved_by_id": 1, "approved_at": None, "approved_by_id": None, "version": 2}),
        ("recommendations", {"id": 1, "record_id": 1, "incident_id": 2, "organization_id": 1, "position": 0,
                             "text": "USBメモリの持ち出し申請を電子化する", "clause": "8-2", "status": "adopted", "updated_at": at(23, 9)}),
        ("recommendations", {"id": 2, "record_id": 1, "incident_id": 2, "organization_id": 1, "position": 1,
                             "text": "研修を年2回に", "clause": None, "status": "proposed", "updated_at": at(23, 9)}),
        # a reminder as app/deadlines/reminders.py writes it: cycle = round, step = deadline id
        ("notifications", message(6, 1, None, 1, 1, 1, "in_app", "sent", event="deadline_approaching", level=0,
                                  deadline_id=1)),
    ],
    "0006": [("login_failures", {"id": 1, "account": "tanaka@city.ageo.example.jp", "address": "192.0.2.10",
                                 "failed_at": at(23, 7, 59)})],
    "0007": [("reports", {"id": 1, "organization_id": 1, "receipt": "R-7K3M-Q9XA", "channel": "form", "source": "external",
                          "state": "new", "title": "不審なメールが届いた", "body": "市役所を名乗るメール", "occurred_at": None,
                          "received_at": at(23, 8), "sender": None, "contact": "090-0000-0000", "address": "192.0.2.20",
                          "message_id": None, "dedup_key": None, "flagged": False, "flag_reason": None, "incident_id": None,
                          "decided_by_id": None, "decided_at": None, "decision_reason": None}),
             ("report_additions", {"id": 1, "report_id": 1, "body": "続報", "received_at": at(23, 9), "message_id": None})],
    "0011": [("tick_jobs", {"name": "intake", "due_at": at(23, 10), "started_at": at(23, 9, 59)})],
    "0013": [("revoked_sessions", {"sid": "b6f0c1d2e3a4b5c6d7e8f9a0b1c2d3e4", "user_id": 1, "revoked_at": at(23, 11),
                                   "expires_at": at(23, 23)})],
    "0016": [("notification_choices", {"user_id": 1, "kind": "mentioned", "in_app": True, "email": False})],
    "0015": [
        ("risk_assessments", {"id": 1, "organization_id": 1, "threat_category": "intentional", "subcategory": "malware",
                              "asset_class": "confidentiality:2", "segment": "lgwan", "likelihood": 2, "loss": 3,
                              "reason": "標的型メールが年2件", "version": 1, "assessed_by_id": 1, "assessed_at": at(23, 9),
                              "supersedes_id": None, "superseded_at": at(23, 10)}),
        ("risk_assessments", {"id": 2, "organization_id": 1, "threat_category": "intentional", "subcategory": "malware",
                              "asset_class": "confidentiality:2", "segment": "lgwan", "likelihood": 3, "loss": 3,
                              "reason": "今期は3件", "version": 2, "assessed_by_id": 1, "assessed_at": at(23, 10),
                              "supersedes_id": 1, "superseded_at": None}),
        ("risk_near_misses", {"id": 1, "organization_id": 1, "report_id": 1, "threat_category": "intentional",
                              "subcategory": None, "segment": None, "note": "訓練メール", "occurred_at": at(23, 8),
                              "marked_by_id": 1, "marked_at": at(23, 11)}),
        ("risk_findings", {"id": 1, "organization_id": 1, "source": "audit", "clause": "8-5", "rating": "minor",
                           "text": "研修の未受講者", "threat_category": None, "found_on": dt.date(2026, 11, 2),
                           "due_on": dt.date(2026, 12, 28), "resolved_on": None, "created_by_id": 1, "created_at": at(23, 12)}),
        ("risk_circumstances", {"id": 1, "organization_id": 1, "noted_on": dt.date(2026, 10, 1), "kind": "guideline",
                                "text": "ガイドライン改定", "threat_category": None, "created_by_id": 1, "created_at": at(23, 12)}),
    ],
}
UPDATES = {  # values of columns a revision added to tables that already held rows
    "0002": ["UPDATE incidents SET closed_reason = '誤検知（訓練メール）', not_incident = :yes WHERE id = 3",
             "UPDATE incidents SET closed_reason = '回収済み' WHERE id = 2",
             f"UPDATE audit_head SET last_id = 3, last_hash = '{audit_chain()[-1]['hash']}'"],
    "0003": ["UPDATE incidents SET acknowledged_by_id = 1 WHERE id = 1"],
    "0006": ["UPDATE users SET totp_secret = 'JBSWY3DPEHPK3PXP', totp_last_step = 59000000 WHERE id = 2",
             "UPDATE api_tokens SET organization_id = 2 WHERE id = 2"],
}
# What `upgrade N` gives the columns it adds to tables holding rows (a dict: per row id), and a
# statement only the new schema refuses.
EXPECTED = {
    "0002": ({"incidents": {"not_incident": False, "closed_reason": None}},
             "UPDATE incidents SET not_incident = NULL WHERE id = 1"),
    "0003": ({"incidents": {"acknowledged_by_id": None}},
             "UPDATE incidents SET acknowledged_by_id = 99 WHERE id = 1"),
    "0004": ({"incidents": {"pd_ordinance_sensitive": False,
                            # the first forward move out of 被害拡大の防止 / 復旧 in the timeline (stage_back ignored)
                            "contained_at": {1: naive(at(20, 3)), 2: naive(at(22, 10)), 3: None},
                            "recovered_at": {1: naive(at(21, 9, 30)), 2: None, 3: None}},
              "notifications": {"deadline_id": None}},
             "UPDATE notifications SET deadline_id = 99 WHERE id = 1"),
    "0005": ({"incidents": {"reported_at": None, "recorded_late": False}},
             "UPDATE incidents SET recorded_late = NULL WHERE id = 2"),
    "0006": ({"api_tokens": {"organization_id": None},
              "users": {"totp_secret": None, "totp_enabled_at": None, "totp_last_step": None}},
             "UPDATE api_tokens SET organization_id = 99 WHERE id = 1"),
    "0007": ({"evidence": {"report_id": None}},
             "UPDATE evidence SET incident_id = NULL WHERE id = 1"),
    "0008": ({"incidents": {"impact_outage": False}},  # the seeds' impacts hold no outage; see the test below
             "UPDATE incidents SET impact_outage = NULL WHERE id = 1"),
    "0009": ({}, None),  # indexes only: every row as it was
    "0010": ({}, "INSERT INTO incident_counts (organization_id, threat_category, stage, severity, n) "
                 "VALUES (99, 'intentional', 'triage', 'high', 1)"),
    "0011": ({}, "INSERT INTO tick_jobs (name) VALUES ('intake')"),  # due_at is required
    # the entries before 0012 become the sealed, unkeyed legacy chain; the head row is its head
    "0012": ({"audit_log": {"chain": ":legacy", "seq": {1: 1, 2: 2, 3: 3}, "key_id": None},
              "audit_head": {"chain": ":legacy"}},
             "UPDATE audit_log SET seq = 1 WHERE id = 2"),
    "0013": ({"users": {"session_generation": 0}},  # every session signed in before it is signed out once
             "UPDATE users SET session_generation = NULL WHERE id = 1"),
    # no recognition time recorded (the reports count from detection, as before), the body itself;
    # a rule's deadline counted from detection, a notice a handler added from nothing
    "0014": ({"incidents": {"recognized_at": None, "organ": None, "pd_held_in": [], "pd_encrypted": False,
                            "pd_public_exposure": False},
              "deadlines": {"counts_from": {1: "detected_at", 2: None}}},
             "UPDATE deadlines SET counts_from = 'reported_at' WHERE id = 1"),
    # new tables only; a likelihood off the 5×5 scale is refused
    "0015": ({}, "INSERT INTO risk_assessments (organization_id, threat_category, subcategory, asset_class, segment, "
                 "likelihood, loss, reason, version, assessed_by_id, assessed_at) "
                 "VALUES (1, 'intentional', '', '', '', 6, 1, 'x', 1, 1, '2026-11-23 00:00:00')"),
    "0016": ({"notifications": {"read_at": None, "detail": None},  # every message unread
              "users": {"webhook_preset": "generic"}},
             "UPDATE users SET webhook_preset = 'teamz' WHERE id = 1"),
    "0017": ({}, "INSERT INTO incident_people (incident_id, user_id, role, added_at) VALUES "  # one owner at most
                 "(1, 1, 'owner', '2026-11-23 00:00:00'), (1, 2, 'owner', '2026-11-23 00:00:00')"),
}


# New tables that a migration fills from the rows already there.
DERIVED = {"incident_counts": incident_counts}


# Columns a later revision requires of rows seeded earlier, when they are inserted at or after it.
LATER_COLUMNS = {"0012": {"audit_log": lambda row: {"chain": ":legacy", "seq": row["id"]}}}


def _fitted(table: str, row: dict, seeded_at: str, upto: str) -> dict:
    order = revisions()
    for later, tables in LATER_COLUMNS.items():
        if table in tables and order.index(seeded_at) < order.index(later) <= order.index(upto):
            row = row | tables[table](row)
    return row


def populate(url: str, upto: str) -> None:
    """The SEEDS and UPDATES of every revision up to `upto`, in plain SQL, in one transaction."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            sqlite = conn.dialect.name == "sqlite"
            for revision in revisions()[:revisions().index(upto) + 1]:
                for table, row in SEEDS.get(revision, []):
                    values = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list)
                              else v.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite and isinstance(v, dt.datetime)
                              else v for k, v in _fitted(table, row, revision, upto).items()}
                    columns, names = ", ".join(f'"{k}"' for k in values), ", ".join(":" + k for k in values)
                    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({names})"), values)
                for statement in UPDATES.get(revision, []):
                    conn.execute(text(statement), {"yes": True})
    finally:
        engine.dispose()


def snapshot(url: str) -> dict[str, list[dict]]:
    """Every row of every table (reflected types: datetimes as naive UTC, JSON parsed), by primary key."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":  # batch migrations rebuild tables with foreign keys off
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            meta = MetaData()
            meta.reflect(conn)
            return {name: [{k: naive(v) if isinstance(v, dt.datetime) and v.tzinfo else v for k, v in row._mapping.items()}
                           for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
                    for name, table in meta.tables.items() if name != "alembic_version"}
    finally:
        engine.dispose()


def assert_seeded(snap: dict[str, list[dict]], upto: str) -> None:
    """Each inserted row is there with the values it was given."""
    for revision in revisions()[:revisions().index(upto) + 1]:
        for table, row in SEEDS.get(revision, []):
            given = {k: naive(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}
            assert given in [{k: stored[k] for k in given} for stored in snap[table]], (table, row)


def only(rows: list[dict], like: list[dict]) -> list[dict]:
    return [{k: row[k] for k in like[0]} for row in rows] if like else rows


def refused(url: str, statement: str) -> bool:
    """Whether the database rejects the statement (rolled back either way)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            try:
                conn.execute(text(statement))
            except IntegrityError:
                return True
            finally:
                conn.rollback()
            return False
    finally:
        engine.dispose()


MIGRATIONS = revisions()[1:]


@pytest.mark.parametrize("revision", MIGRATIONS)
def test_migration_keeps_every_row_of_a_populated_database(fresh_url, revision):
    assert revision in EXPECTED, f"{revision}: add its expected column values and a refused statement to EXPECTED"
    previous = revisions()[revisions().index(revision) - 1]
    cfg = alembic_config(fresh_url)
    command.upgrade(cfg, previous)
    populate(fresh_url, previous)
    before = snapshot(fresh_url)
    assert [name for name, rows in before.items() if not rows] == [], f"tables left empty at {previous}: add rows to SEEDS"
    assert_seeded(before, previous)

    command.upgrade(cfg, revision)
    after = snapshot(fresh_url)
    added, statement = EXPECTED[revision]
    for table, rows in before.items():
        assert set(after[table][0]) == set(rows[0]) | set(added.get(table, {})), table
        assert only(after[table], rows) == rows, table  # every row, every old value
        for column, value in added.get(table, {}).items():
            assert [row[column] for row in after[table]] == [
                value[row["id"]] if isinstance(value, dict) else value for row in after[table]], (table, column)
    new_tables = {name: sorted(rows, key=lambda row: tuple(row.values())) if name in DERIVED else rows
                  for name, rows in after.items() if name not in before}
    assert new_tables == {name: [{"id": 1, "last_id": 0, "last_hash": GENESIS}] if name == "audit_head"
                          else DERIVED[name](after) if name in DERIVED else [] for name in new_tables}
    assert statement is None or refused(fresh_url, statement)

    command.upgrade(cfg, "head")
    at_head = snapshot(fresh_url)
    assert {name: only(at_head[name], rows) for name, rows in after.items()} == after
    command.downgrade(cfg, previous)
    assert current_revision(fresh_url) == previous
    assert snapshot(fresh_url) == before
    command.upgrade(cfg, "head")
    assert snapshot(fresh_url) == at_head
    assert schema_differences(fresh_url) == []


def test_0004_widens_the_message_key_to_the_event(fresh_url):
    """After 0004 a deadline reminder may share (incident, cycle, step, person, channel) with an escalation step."""
    command.upgrade(alembic_config(fresh_url), "0004")
    populate(fresh_url, "0004")
    assert not refused(fresh_url, "UPDATE notifications SET event = 'deadline_overdue' WHERE id = 6")
    assert refused(fresh_url, "UPDATE notifications SET event = 'escalation' WHERE id = 6")


def test_0008_flags_the_incidents_whose_impacts_hold_an_outage(fresh_url):
    cfg = alembic_config(fresh_url)
    command.upgrade(cfg, "0007")
    populate(fresh_url, "0007")
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET impacts = :v WHERE id = 2"), {"v": json.dumps(["leak", "outage"])})
    finally:
        engine.dispose()
    command.upgrade(cfg, "0008")
    rows = {row["id"]: row["impact_outage"] for row in snapshot(fresh_url)["incidents"]}
    assert rows == {1: False, 2: True, 3: False}


def test_0004_downgrades_with_deadline_reminders_in_the_outbox(fresh_url):
    cfg = alembic_config(fresh_url)
    command.upgrade(cfg, "0004")
    populate(fresh_url, "0004")
    command.downgrade(cfg, "0003")
    assert [row["id"] for row in snapshot(fresh_url)["notifications"]] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("populated_at", ["0001", "0004", head_revision()])  # head: the newest seeds fit too
def test_a_populated_database_goes_to_head_in_one_step_and_the_app_reads_it(fresh_url, populated_at, tmp_path):
    command.upgrade(alembic_config(fresh_url), populated_at)
    populate(fresh_url, populated_at)
    upgrade_head(fresh_url)
    assert current_revision(fresh_url) == head_revision()
    assert_seeded(snapshot(fresh_url), populated_at)

    app = create_app(Config(INSTANCE_PATH=tmp_path / "instance", DATABASE_URL=fresh_url, TESTING=True,
                            SCHEDULER_ENABLED=False))
    client, headers = app.test_client(), {"Authorization": f"Bearer {TOKEN}"}
    try:
        listing = client.get("/api/v1/incidents", headers=headers)
        assert listing.status_code == 200, listing.get_data(as_text=True)
        assert listing.get_json()["total"] == 2  # 上尾市's two; 取手市's incident is not this person's
        assert [(i["reference"], i["stage"], i["detected_at"]) for i in listing.get_json()["items"]] == [
            ("AGEO-2026-0002", "closed", "2026-11-22T08:00:00Z"), ("AGEO-2026-0001", "prevent", "2026-11-20T00:30:00Z")]
        detail = client.get("/api/v1/incidents/1", headers=headers).get_json()
        assert (detail["title"], detail["network_segments"], detail["impacts"], detail["asset_classes"]) == (
            "職員端末のマルウェア感染", ["lgwan", "internet"], ["leak", "tampering"], {"confidentiality": "2", "integrity": "1"})
        assert (detail["personal_data"]["persons"], detail["acknowledged_at"], detail["reported_at"]) == (
            120, "2026-11-20T01:05:00Z", "2026-11-20T00:50:00Z")  # reported_at: created_at for old incidents
        assert (detail["recorded_late"], detail["not_incident"], detail["version"]) == (False, False, 7)
        closed = client.get("/api/v1/incidents/2", headers=headers).get_json()
        assert (closed["severity"], closed["severity_override"]["reason"]) == ("critical", "住民情報を含むため")
        assert client.get("/api/v1/incidents/3", headers=headers).status_code == 404
        if populated_at >= "0004":
            assert closed["closed_reason"] == "回収済み"
            assert detail["escalation"] | {"next_at": None} == {"level": 1, "next_at": None, "state": "acknowledged",
                                                                "cycle": 1, "levels": 3}
            assert [(d["kind"], d["met_at"]) for d in detail["deadlines"]] == [("ppc_preliminary", "2026-11-21T15:00:00Z")]
        entries = 3 if populated_at >= "0002" else 0
        assert client.get("/api/v1/audit/verify", headers=headers).get_json() == {
            "ok": True, "entries": entries, "first_bad": None}  # `flask audit verify`'s check, on the hand-built chain
    finally:
        with app.app_context():
            db.engine.dispose()
