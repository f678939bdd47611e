"""How fast is the incident page, against a bare Flask + SQLAlchemy + Jinja app showing the same rows?

    python -m bench.incident_page [--repeat 50] [--n 1000] [--postgresql] [--profile]

Seeds a fresh database (SQLite in a temporary directory, or with --postgresql a new PostgreSQL
database that is dropped at the end; see bench/seed.py): --n incidents in bulk as bench.listing
does, and on one 上尾市 incident (intentional / malware, in 被害拡大の防止) 30 checklist tasks,
200 timeline entries (notes, some in Markdown; task, stage, evidence and edit entries) and three
evidence files, inserted with SQLAlchemy core. Then measures, through Flask test clients, the
median of --repeat runs of:

  (a) GET /incidents/<id> on the real app, logged in through the login form (CSRF token and all)
      as a csirt of 上尾市;
  (b) the same page from a bare Flask app: its own table definitions, five plain queries (the
      incident, tasks, timeline, evidence, the body's members), one Jinja template of similar
      size, notes rendered with markdown + nh3 as the app does. No login, no permissions.

(a) and (b) alternate, so both see the same caches. Before timing, both pages are checked to show
the same tasks and timeline entries. --profile prints a cProfile of (a).
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import io
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import markdown as md
import nh3
from flask import Flask, abort, render_template
from jinja2 import DictLoader
from markupsafe import Markup
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    select,
)
from sqlalchemy.orm import aliased

from app.auth.models import Membership, User
from app.auth.services import hash_password
from app.core.db import db
from app.core.playbooks import playbooks
from app.incidents.models import Evidence, Incident, Task, TimelineEvent
from app.incidents.playbook import playbook_for
from app.organizations.models import Organization
from app.organizations.services import get_profile
from bench import seed
from bench.listing import _statements, _timed

TARGET_TIMELINE, TARGET_TASKS = 200, 30
JST = ZoneInfo("Asia/Tokyo")

# --- seeding the incident -----------------------------------------------------------------------

DESCRIPTION = """## 概要

企画課の職員が**請求書を装ったメール**の添付ファイル（`請求書_1121.xlsm`）を開封し、マクロを有効化した。
ウイルス対策ソフトが不審な通信を検知し、CSIRT へ報告された。

- 端末: 企画課 PC-12（インターネット接続系）
- 送信元: billing@example-invoice.invalid
- 検知: 2026-11-21 09:12（EDR）

| 時刻 | 事象 | 担当 |
|---|---|---|
| 09:12 | EDR 検知 | 情報システム課 |
| 09:30 | 端末の隔離 | CSIRT |
"""
NOTES_MD = [
    "**プロキシログ**を確認した。接続先は次のとおり。\n\n- 203.0.113.45（stage2.bin）\n- 198.51.100.7（C2 の疑い）",
    "委託事業者へ *EDR のフルスキャン* を依頼。回答は **本日17時** までの予定。",
    "同じメールの受信者は 6 名。\n\n1. 企画課 2 名\n2. 税務課 3 名\n3. 福祉課 1 名\n\n開封は企画課の 1 名のみ。",
    "ファイアウォールに遮断設定を追加:\n\n```\ndeny ip any host 203.0.113.45\ndeny ip any host 198.51.100.7\n```",
    "| 端末 | 検査結果 |\n|---|---|\n| PC-12 | 検出あり |\n| PC-13 | 検出なし |\n| PC-15 | 検出なし |",
    "CISO へ第2報。**個人情報の漏えいは現時点で確認されていない**。引き続きログを調査する。",
]
NOTES_PLAIN = [
    "企画課長へ状況を説明し、当該端末の使用中止を依頼した。", "県のセキュリティクラウド運用担当へ電話で連絡済み。",
    "メールゲートウェイで同一件名のメールを検索中。", "バックアップの取得日時を確認した（11月20日 23:00 のもの）。",
    "EDR のアラートを追加で 2 件確認。いずれも同じ端末。", "職員向けの注意喚起文を作成し、総務課の確認待ち。",
    "警察（サイバー犯罪相談窓口）へ相談。受理番号は別途記録。", "保守事業者が来庁し、ディスクイメージの取得を開始。",
]
UPDATES = [
    {"severity": {"before": "medium", "after": "high"}},
    {"impacts": {"before": "", "after": "漏えい"}},
    {"title": {"before": "不審なメールの報告", "after": "標的型メールの添付ファイル開封によるマルウェア感染の疑い"}},
    {"network_segments": {"before": "インターネット接続系", "after": "インターネット接続系、LGWAN接続系"}},
    {"pd_persons": {"before": "0", "after": "12"}, "pd_involved": {"before": "なし", "after": "あり"}},
]
MANUAL_TASKS = [("contain", "PC-13・PC-15 のフルスキャン結果を確認する", True),
                ("recover", "企画課の業務再開の可否を課長と協議する", False)]
PEOPLE = [("上尾 一郎", "ciso"), ("上尾 花子", "chief_officer"), ("大宮 次郎", "csirt"), ("桶川 三奈", "csirt"),
          ("北本 健", "system_admin"), ("鴻巣 由美", "security_manager"), ("川越 誠", "security_officer"),
          ("伊奈 彩", "csirt"), ("蓮田 拓也", "system_admin"), ("久喜 智子", "reporter")]


def add_members(org_id: int) -> list[int]:
    """People of 上尾市 besides the bench's csirt, for the assignee lists; call in an app context."""
    password_hash = hash_password(seed.PASSWORD)
    ids = []
    for n, (name, role) in enumerate(PEOPLE):
        user = User(email=f"ageo-{n}@bench.example.jp", name=name, password_hash=password_hash, available=True)
        db.session.add(user)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, organization_id=org_id, role=role, active=True))
        ids.append(user.id)
    db.session.commit()
    return ids


def make_target(rows: list[dict], org_id: int, now: dt.datetime) -> dict:
    """Turns the newest 上尾市 row into the incident under test (open, in 被害拡大の防止)."""
    row = next(r for r in reversed(rows) if r["organization_id"] == org_id)
    detected = now - dt.timedelta(days=6)
    row.update(title="標的型メールの添付ファイル開封によるマルウェア感染の疑い", description=DESCRIPTION,
               threat_category="intentional", subcategory="malware", stage="contain", detected_at=detected,
               created_at=detected + dt.timedelta(minutes=40), acknowledged_at=detected + dt.timedelta(minutes=55),
               updated_at=now - dt.timedelta(minutes=5), closed_at=None, closed_reason=None, not_incident=False)
    return row


def task_rows(app, incident_id: int, actors: list[int], now: dt.datetime, rng: random.Random) -> list[dict]:
    items = playbook_for(playbooks(app).checklists, get_profile("ageo")).items_for("intentional", "malware")
    while len(items) > TARGET_TASKS - len(MANUAL_TASKS):  # the playbook's own items, less optional ones from the end
        items.remove(next(i for i in reversed(items) if not i.required))
    manual = MANUAL_TASKS + [("contain", f"追加の確認事項 {n}", False) for n in range(TARGET_TASKS - len(items) - len(MANUAL_TASKS))]
    specs = [(i.stage, i.code, i.source, i.title, i.guidance, i.required, i.role) for i in items]
    specs += [(stage, None, "manual", title, "", required, None) for stage, title, required in manual]
    order = ["triage", "report", "preserve", "contain", "recover", "prevent"]
    rows = []
    for position, (stage, code, source, title, guidance, required, role) in enumerate(specs, start=1):
        done = order.index(stage) < 3 and (required or rng.random() < 0.6) or stage == "contain" and rng.random() < 0.4
        doer = rng.choice(actors)
        rows.append({"incident_id": incident_id, "stage": stage, "code": code, "source": source, "title": title,
                     "guidance": guidance, "required": required, "role": role, "position": position,
                     "assignee_id": rng.choice(actors) if rng.random() < 0.7 else None, "done": done,
                     "done_by_id": doer if done else None,
                     "done_at": now - dt.timedelta(hours=rng.uniform(2, 120)) if done else None,
                     "created_by_id": actors[0] if source == "manual" else None,
                     "created_at": now - dt.timedelta(days=6)})
    assert len(rows) == TARGET_TASKS, len(rows)
    return rows


def timeline_rows(incident: dict, tasks: list[dict], actors: list[int], rng: random.Random) -> list[dict]:
    """200 entries in the order they happened: registration, stage moves, tasks, evidence, edits, notes."""
    stages = [("受付・評価", "連絡・報告", "triage", "report"), ("連絡・報告", "証拠保全", "report", "preserve"),
              ("証拠保全", "被害拡大の防止", "preserve", "contain")]
    entries = [("created", f"{incident['reference']} を登録しました（上尾市）",
                {"title": incident["title"], "threat_category": "intentional", "severity": incident["severity"]})]
    entries += [("task_done", f"タスク「{t['title']}」を完了しました", {"task_id": None, "code": t["code"]})
                for t in tasks if t["done"]]
    entries += [("stage_changed", f"段階: {a} → {b}", {"from": f, "to": t, "reason": None}) for a, b, f, t in stages]
    entries += [("task_added", f"タスク「{title}」を追加しました", {"task_id": None, "stage": stage, "required": req})
                for stage, title, req in MANUAL_TASKS]
    files = ["proxy-20261121.log", "edr-alert-PC12.json", "mail-請求書_1121.eml"]
    entries += [("evidence_added", f"証拠「{f}」を保全しました（SHA-256 {hashlib.sha256(f.encode()).hexdigest()[:12]}…）",
                 {"filename": f}) for f in files]
    entries += [("updated", f"{', '.join(change)} を変更しました", {"changes": change}) for change in UPDATES]
    entries += [("note", f"メモ: {body.splitlines()[0][:60]}", {"body": body}) for body in NOTES_MD]
    fillers = [lambda: ("note", "メモ", {"body": rng.choice(NOTES_PLAIN)}),
               lambda: ("task_assigned", f"タスク「{rng.choice(tasks)['title']}」の担当: 大宮 次郎", {"assignee": None}),
               lambda: ("evidence_downloaded", f"証拠「{rng.choice(files)}」をダウンロードしました（web）",
                        {"channel": "web"})]
    while len(entries) < TARGET_TIMELINE:
        entries.append(rng.choice(fillers)())
    entries = entries[:1] + rng.sample(entries[1:], len(entries) - 1)  # the registration first, the rest mixed
    start, step = incident["created_at"], (incident["updated_at"] - incident["created_at"]) / TARGET_TIMELINE
    return [{"incident_id": incident["id"], "at": start + step * n, "kind": kind, "summary": summary, "data": data,
             "actor_id": None if kind == "task_assigned" and n % 17 == 0 else rng.choice(actors)}
            for n, (kind, summary, data) in enumerate(entries)]


def evidence_rows(incident_id: int, actors: list[int], now: dt.datetime) -> list[dict]:
    names = [("proxy-20261121.log", "text/plain", 1_843_221), ("edr-alert-PC12.json", "application/json", 48_113),
             ("mail-請求書_1121.eml", "message/rfc822", 312_908)]
    return [{"incident_id": incident_id, "sha256": hashlib.sha256(name.encode()).hexdigest(), "size": size,
             "filename": name, "content_type": kind, "description": "CSIRT が取得（取得元・日時は経過記録を参照）",
             "uploaded_by_id": actors[n % len(actors)], "uploaded_at": now - dt.timedelta(days=5, hours=n)}
            for n, (name, kind, size) in enumerate(names)]


def seed_page(app, n: int) -> dict:
    """Background incidents, then the incident under test with its tasks, timeline and evidence."""
    rng, now = random.Random(20261122), dt.datetime.now(dt.UTC)
    with app.app_context():
        users = seed.create_users()
        org_id = db.session.scalar(select(Organization.id).where(Organization.code == "ageo"))
        actors = [users["ageo"]["id"], *add_members(org_id)[:8]]
        rows, counters = seed.incident_rows(app, n, users)
        target = make_target(rows, org_id, now)
        seed.bulk_insert(rows, counters)
        target["id"] = db.session.scalar(select(Incident.id).where(Incident.reference == target["reference"]))
        tasks = task_rows(app, target["id"], actors, now, rng)
        with db.engine.begin() as conn:
            seed._insert(conn, Task.__table__, tasks)
            seed._insert(conn, TimelineEvent.__table__, timeline_rows(target, tasks, actors, rng))
            seed._insert(conn, Evidence.__table__, evidence_rows(target["id"], actors, now))
        if app.extensions["db_engine"].dialect.name == "postgresql":
            seed.vacuum_analyze()
    return {"incident_id": target["id"], "reference": target["reference"], "email": users["ageo"]["email"],
            "org_id": org_id, "titles": [t["title"] for t in tasks]}


# --- the bare app ----------------------------------------------------------------------------------

_meta = MetaData()
organizations = Table("organizations", _meta, Column("id", Integer, primary_key=True), Column("code", String),
                      Column("name", String))
users_t = Table("users", _meta, Column("id", Integer, primary_key=True), Column("email", String), Column("name", String))
memberships_t = Table("memberships", _meta, Column("user_id", Integer), Column("organization_id", Integer),
                      Column("active", Boolean))
incidents_t = Table(
    "incidents", _meta, *(Column(c, Integer) for c in ("id", "organization_id", "pd_persons", "version")),
    *(Column(c, String) for c in ("reference", "title", "description", "threat_category", "subcategory", "severity",
                                  "stage", "source")),
    *(Column(c, JSON) for c in ("network_segments", "impacts", "asset_classes")),
    *(Column(c, Boolean) for c in ("pd_involved", "pd_sensitive", "pd_my_number")),
    *(Column(c, DateTime(timezone=True)) for c in ("detected_at", "created_at", "updated_at")),
)
tasks_t = Table("tasks", _meta, *(Column(c, Integer) for c in ("id", "incident_id", "position", "assignee_id", "done_by_id")),
                *(Column(c, String) for c in ("stage", "source", "title", "role")), Column("guidance", Text),
                Column("required", Boolean), Column("done", Boolean), Column("done_at", DateTime(timezone=True)))
timeline_t = Table("timeline_events", _meta, Column("id", Integer, primary_key=True), Column("incident_id", Integer),
                   Column("at", DateTime(timezone=True)), Column("actor_id", Integer), Column("kind", String),
                   Column("summary", Text), Column("data", JSON))
evidence_t = Table("evidence", _meta, Column("id", Integer, primary_key=True), Column("incident_id", Integer),
                   Column("sha256", String), Column("size", BigInteger), Column("filename", String),
                   Column("description", Text), Column("uploaded_by_id", Integer),
                   Column("uploaded_at", DateTime(timezone=True)))

STAGES = [("triage", "受付・評価"), ("report", "連絡・報告"), ("preserve", "証拠保全"), ("contain", "被害拡大の防止"),
          ("recover", "復旧"), ("prevent", "再発防止"), ("closed", "終結")]
SEVERITY = {"critical": "緊急", "high": "高", "medium": "中", "low": "低"}
ROLES = {"ciso": "最高情報セキュリティ責任者", "chief_officer": "統括情報セキュリティ責任者", "csirt": "CSIRT要員",
         "security_officer": "情報セキュリティ責任者", "security_manager": "情報セキュリティ管理者",
         "system_admin": "情報システム管理者", "reporter": "職員"}
MD_TAGS = {"p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5",
           "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "del"}


def _markdown(text: str | None) -> Markup:
    html = md.markdown(text or "", extensions=["tables", "fenced_code"], output_format="html")
    return Markup(nh3.clean(html, tags=MD_TAGS, attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
                            url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow"))


def _jst(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(JST).strftime("%Y-%m-%d %H:%M")


PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{{ i.reference }}</title>
<link rel="stylesheet" href="/static/style.css"></head><body><header class="site"><a class="brand" href="/">CSIRT インシデント管理</a>
<nav><a href="/incidents/">インシデント一覧</a> <a href="/incidents/new">新規登録</a><form method="post" action="/logout" class="inline">
<input type="hidden" name="csrf_token" value="{{ token }}"><button type="submit" class="link">ログアウト</button></form></nav></header><main>
<h1><span class="ref">{{ i.reference }}</span> {{ i.title }}</h1>
<section id="stage"><ol class="stages">{% for code, label in stages %}<li class="{% if loop.index0 < current %}done{% elif loop.index0 == current %}current{% endif %}">{{ loop.index }} {{ label }}</li>{% endfor %}</ol>
<form method="post" action="/incidents/{{ i.id }}/stage"><input type="hidden" name="csrf_token" value="{{ token }}">
<input type="hidden" name="to" value="{{ stages[current + 1][0] }}"><button type="submit">次の段階へ: {{ stages[current + 1][1] }}</button></form>
<form method="post" action="/incidents/{{ i.id }}/stage"><input type="hidden" name="csrf_token" value="{{ token }}"><label for="back-to">前の段階に戻す</label>
<select name="to" id="back-to">{% for code, label in stages[:current] %}<option value="{{ code }}">{{ label }}</option>{% endfor %}</select>
<input type="text" id="back-reason" name="reason" maxlength="2000"><button type="submit">戻す</button></form></section>
<section><dl class="facts"><dt>団体</dt><dd>{{ i.org_name }}</dd><dt>段階</dt><dd>{{ stages[current][1] }}</dd>
<dt>重大度</dt><dd>{{ severity[i.severity] }}</dd><dt>脅威区分</dt><dd>{{ i.threat_category }} — {{ i.subcategory }}</dd>
<dt>検知日時</dt><dd>{{ i.detected_at | jst }} JST</dd><dt>ネットワーク</dt><dd>{{ i.network_segments | join("、") }}</dd>
<dt>被害</dt><dd>{{ i.impacts | join("、") or "—" }}</dd><dt>個人情報</dt><dd>{{ "あり" if i.pd_involved else "なし" }}</dd>
<dt>更新日時</dt><dd>{{ i.updated_at | jst }}(版 {{ i.version }})</dd></dl>
<div class="markdown">{{ i.description | markdown }}</div></section>
<section id="tasks"><h2>チェックリスト</h2>{% for code, label in stages if code in tasks %}
<details {% if code == i.stage %}open{% endif %}><summary>{{ label }} 完了 {{ tasks[code] | selectattr("done") | list | length }} / {{ tasks[code] | length }}</summary><ul class="tasks">
{% for t in tasks[code] %}<li id="task-{{ t.id }}" class="{% if t.done %}done{% endif %}"><div class="task-main">
<form method="post" action="/incidents/{{ i.id }}/tasks/{{ t.id }}" class="inline"><input type="hidden" name="csrf_token" value="{{ token }}">
<input type="hidden" name="action" value="{{ 'reopen' if t.done else 'done' }}"><button type="submit" class="check" title="{{ '未完了に戻す' if t.done else '完了にする' }}" aria-label="{{ '未完了に戻す' if t.done else '完了にする' }}: {{ t.title }}">{{ "✔" if t.done }}</button></form>
<span class="task-title">{{ t.title }}</span>{% if t.required %}<span class="badge required">必須</span>{% endif %}{% if t.role %}<span class="badge">{{ roles[t.role] }}</span>{% endif %}
{% if t.source == "manual" %}<span class="badge">手動追加</span>{% endif %}
<form method="post" action="/incidents/{{ i.id }}/tasks/{{ t.id }}" class="inline assign"><input type="hidden" name="csrf_token" value="{{ token }}">
<label for="assignee-{{ t.id }}" class="sr">担当者</label><select name="assignee" id="assignee-{{ t.id }}"><option value="">（担当者なし）</option>{% for m in members %}<option value="{{ m.email }}" {% if t.assignee_id == m.id %}selected{% endif %}>{{ m.name }}</option>{% endfor %}</select>
<button type="submit" class="small">担当を設定</button></form></div>
{% if t.guidance %}<details><summary>手順</summary><p>{{ t.guidance }}</p></details>{% endif %}
{% if t.done %}<div class="task-meta">完了: {{ t.done_by_name }} {{ t.done_at | jst }}</div>{% endif %}</li>{% endfor %}</ul></details>{% endfor %}</section>
<section id="evidence"><h2>証拠保全</h2><ul class="evidence">{% for e in evidence %}<li><a href="/incidents/{{ i.id }}/evidence/{{ e.id }}" download>{{ e.filename }}</a>
<span>{{ "{:,}".format(e.size) }} bytes</span><div>{{ e.description }}</div><div class="hash">SHA-256 {{ e.sha256 }}</div>
<div>{{ e.uploader }} {{ e.uploaded_at | jst }}</div></li>{% endfor %}</ul></section>
<section id="timeline"><h2>経過記録</h2><ol class="timeline">{% for e in events %}<li class="ev-{{ e.kind }}">
<div class="when muted">{{ e.at | jst }} · {{ e.actor or "システム" }}</div>
{% if e.kind == "note" %}<div class="markdown note">{{ e.data.body | markdown }}</div>{% else %}<div>{{ e.summary }}</div>{% endif %}
{% if e.kind == "updated" %}<details><summary>変更内容</summary><table class="changes">{% for f, c in e.data.changes.items() %}
<tr><th>{{ f }}</th><td>{{ c.before }}</td><td>→ {{ c.after }}</td></tr>{% endfor %}</table></details>{% endif %}</li>{% endfor %}</ol>
<form method="post" action="/incidents/{{ i.id }}/notes"><input type="hidden" name="csrf_token" value="{{ token }}">
<textarea name="body"></textarea><button type="submit">記録する</button></form></section></main></body></html>"""


def bare_app(url: str) -> Flask:
    """A minimal Flask app: GET /incidents/<id> loads the rows with five plain queries and renders one template."""
    engine = create_engine(url, pool_pre_ping=url.startswith("postgresql"))  # as the app's engine
    app = Flask("bare")
    app.jinja_loader = DictLoader({"page.html": PAGE})
    app.jinja_env.filters.update(markdown=_markdown, jst=_jst)
    assignee, doer = aliased(users_t), aliased(users_t)
    order = {code: n for n, (code, _label) in enumerate(STAGES)}

    @app.get("/incidents/<int:incident_id>")
    def show(incident_id: int):
        with engine.connect() as conn:
            incident = conn.execute(select(incidents_t, organizations.c.name.label("org_name"))
                                    .join(organizations, organizations.c.id == incidents_t.c.organization_id)
                                    .where(incidents_t.c.id == incident_id)).mappings().first()
            if incident is None:
                abort(404)
            task_list = conn.execute(select(tasks_t, doer.c.name.label("done_by_name"))
                                     .outerjoin(assignee, assignee.c.id == tasks_t.c.assignee_id)
                                     .outerjoin(doer, doer.c.id == tasks_t.c.done_by_id)
                                     .where(tasks_t.c.incident_id == incident_id)
                                     .order_by(tasks_t.c.position, tasks_t.c.id)).mappings().all()
            events = conn.execute(select(timeline_t, users_t.c.name.label("actor"))
                                  .outerjoin(users_t, users_t.c.id == timeline_t.c.actor_id)
                                  .where(timeline_t.c.incident_id == incident_id).order_by(timeline_t.c.id)).mappings().all()
            evidence = conn.execute(select(evidence_t, users_t.c.name.label("uploader"))
                                    .outerjoin(users_t, users_t.c.id == evidence_t.c.uploaded_by_id)
                                    .where(evidence_t.c.incident_id == incident_id).order_by(evidence_t.c.id)).mappings().all()
            members = conn.execute(select(users_t.c.id, users_t.c.email, users_t.c.name).join(
                memberships_t, memberships_t.c.user_id == users_t.c.id).where(
                memberships_t.c.organization_id == incident["organization_id"], memberships_t.c.active)
                .distinct().order_by(users_t.c.name)).mappings().all()
        by_stage: dict[str, list] = {}
        for t in sorted(task_list, key=lambda t: (order[t["stage"]], t["position"], t["id"])):
            by_stage.setdefault(t["stage"], []).append(t)
        return render_template("page.html", i=incident, stages=STAGES, current=order[incident["stage"]],
                               severity=SEVERITY, roles=ROLES, tasks=by_stage, events=events, evidence=evidence, members=members,
                               token="x" * 91)

    app.extensions["bench_engine"] = engine
    return app


# --- measuring --------------------------------------------------------------------------------

def _ok(response, status: int = 200):
    if response.status_code != status:
        raise SystemExit(f"unexpected {response.status_code} from {response.request.path}: "
                         f"{response.get_data(as_text=True)[:500]}")
    return response


def logged_in_client(app, email: str):
    """A test client with a session, logged in through the login form as a browser would."""
    client = app.test_client()
    page = _ok(client.get("/login")).get_data(as_text=True)
    token = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', page)
    if token is None:
        raise SystemExit("no CSRF token on the login page")
    _ok(client.post("/login", data={"email": email, "password": seed.PASSWORD, "csrf_token": token.group(1), "next": ""}), 302)
    return client


def check_same_page(app_html: str, bare_html: str, info: dict) -> None:
    for name, html in (("app", app_html), ("bare", bare_html)):
        entries = html.count('<li class="ev-')
        missing = [t for t in info["titles"] if f">{t}<" not in html]
        if entries != TARGET_TIMELINE or missing or info["reference"] not in html or "<strong>プロキシログ</strong>" not in html:
            raise SystemExit(f"the {name} page is not the expected page: {entries} timeline entries, "
                             f"missing tasks {missing[:3]}")


def measure(app, bare: Flask, info: dict, repeat: int) -> dict:
    client, bare_client = logged_in_client(app, info["email"]), bare.test_client()
    path = f"/incidents/{info['incident_id']}"

    def app_page():
        return _ok(client.get(path))

    def bare_page():
        return _ok(bare_client.get(path))

    app_html, bare_html = app_page().get_data(as_text=True), bare_page().get_data(as_text=True)
    check_same_page(app_html, bare_html, info)
    for _ in range(3):  # warm up both
        app_page()
        bare_page()
    statements = {"app": _statements(app.extensions["db_engine"], app_page),
                  "bare": _statements(bare.extensions["bench_engine"], bare_page)}
    times: dict[str, list[float]] = {"app": [], "bare": []}
    for _ in range(repeat):
        times["app"].append(_timed(app_page))
        times["bare"].append(_timed(bare_page))
    sizes = {"app": len(app_html.encode()), "bare": len(bare_html.encode())}
    return {"times": times, "statements": statements, "sizes": sizes, "client": client, "path": path}


def profile(result: dict, runs: int = 20, top: int = 30) -> None:
    """cProfile of `runs` requests of the app's page: the functions that take the time."""
    profiler = cProfile.Profile()
    client, path = result["client"], result["path"]
    profiler.enable()
    for _ in range(runs):
        _ok(client.get(path))
    profiler.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"\n--- cProfile of {runs} requests of the app's page, by {order} ---")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])


def report(engine: str, n: int, repeat: int, seeding_s: float, result: dict) -> float:
    times, statements, sizes = result["times"], result["statements"], result["sizes"]

    def row(label: str, key: str) -> str:
        values = times[key]
        q = statistics.quantiles(values, n=10) if len(values) > 1 else values * 9
        return (f"{label:<48} {statistics.median(values):>9.2f} {min(values):>8.2f} {q[-1]:>8.2f} "
                f"{statements[key]:>5} {sizes[key] / 1024:>7.1f}")

    print(f"\nengine: {engine}   incidents: {n}   page: {TARGET_TASKS} tasks, {TARGET_TIMELINE} timeline entries"
          f"   repetitions: {repeat}   seeding: {seeding_s:.1f} s")
    print(f"{'measure':<48} {'median ms':>9} {'min ms':>8} {'p90 ms':>8} {'SQL':>5} {'KiB':>7}")
    print(row("(a) app  GET /incidents/<id> (logged in)", "app"))
    print(row("(b) bare Flask + SQLAlchemy + Jinja, same rows", "bare"))
    ratio = statistics.median(times["app"]) / statistics.median(times["bare"])
    print(f"incident page ratio app/bare (medians): {ratio:.2f}   (target: within 2×)")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.incident_page", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="incidents in the database besides the page's rows (default 1000)")
    parser.add_argument("--repeat", type=int, default=50, help="repetitions of each measure (default 50)")
    parser.add_argument("--postgresql", action="store_true", help="a new PostgreSQL database at 127.0.0.1:5432 instead of SQLite")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the app's page")
    args = parser.parse_args(argv)
    if args.n < 50 or args.repeat < 1:
        parser.error("--n must be at least 50, --repeat at least 1")
    engine = "postgresql" if args.postgresql else "sqlite"
    with tempfile.TemporaryDirectory(prefix="csirt-bench-") as tmp, seed.fresh_database(Path(tmp), args.postgresql) as url:
        started = time.perf_counter()
        app = seed.build_app(Path(tmp), url)
        info = seed_page(app, args.n)
        seeding_s = time.perf_counter() - started
        print(f"seeded {args.n} incidents and {info['reference']} into a fresh {engine} database in {seeding_s:.1f} s",
              flush=True)
        bare = bare_app(url)
        try:
            result = measure(app, bare, info, args.repeat)
            ratio = report(engine, args.n, args.repeat, seeding_s, result)
            if args.profile:
                profile(result)
            elif ratio > 2:
                print("slower than 2×: run with --profile to see where the time goes")
        finally:
            bare.extensions["bench_engine"].dispose()
            app.extensions["db_engine"].dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
