"""A fresh database for the benchmark: migrations, organizations, users, and N incidents in bulk.

Incidents are inserted with SQLAlchemy core (`insert(...)` of dicts in batches), not through the
services, so 100 000 rows take seconds. Every NOT NULL column is filled the way the app would:
categories, subcategories, segments and asset classes from each body's profile; severity derived
by the rules in playbooks/severity.yaml (a few overridden by hand); references unique per body and
year, numbered in order of registration, with matching `reference_counters` rows.
"""
from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import Column, MetaData, Table, insert, inspect, select

from app import create_app
from app.auth.models import Membership, User
from app.auth.services import create_api_token, hash_password
from app.config import Config
from app.core.db import db
from app.core.migrate import upgrade_head
from app.core.playbooks import playbooks
from app.incidents.counts import bulk_load
from app.incidents.models import Impact, Incident, ReferenceCounter, Severity, Source, Stage
from app.incidents.services import normalize_for_search
from app.incidents.severity import Facts, asset_ranks, derive_severity
from app.organizations.models import Organization
from app.organizations.services import get_profile, sync_organizations

BODIES = ("ageo", "saga", "toride-gikai", "kumamoto-gikai", "mog-gesui")
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-password-2026"
JST = ZoneInfo("Asia/Tokyo")
BATCH = 5000

TITLES = {
    "intentional": ["標的型メールの添付ファイルを開封", "不正アクセスの試行を検知", "ウイルス感染の疑い", "ホームページへのDoS攻撃",
                    "不審な外部通信の検知", "ランサムウェア感染の疑い", "職員による情報の不正持ち出しの疑い", "フィッシングサイトへの認証情報入力"],
    "unintentional": ["USBメモリの紛失", "メールの誤送信", "書類の誤送付", "設定ミスによる公開範囲の誤り", "ノートPCの置き忘れ",
                      "委託先での個人情報の誤廃棄", "無許可ソフトウェアの使用", "バックアップ装置の故障"],
    "disaster": ["地震によるサーバ室の被災", "落雷による通信機器の故障", "庁舎火災によるシステム停止"],
    "pandemic": ["感染症の流行による運用要員の不足", "委託先要員の大量欠勤"],
    "infrastructure": ["停電による業務システム停止", "通信回線の途絶", "断水による空調停止"],
    "other": ["不審な電話による問い合わせ", "SNS上の不正確な情報の拡散"],
}
DEPARTMENTS = ["市民課", "税務課", "福祉課", "教育総務課", "議会事務局", "企画課", "総務課", "上下水道課"]
CATEGORY_WEIGHTS = {"intentional": 35, "unintentional": 40, "disaster": 4, "pandemic": 2, "infrastructure": 12, "other": 7}
SEGMENT_CHANCE = {"mynumber": 0.05, "lgwan": 0.3, "internet": 0.35}
STAGES_OPEN = [Stage.TRIAGE, Stage.REPORT, Stage.PRESERVE, Stage.CONTAIN, Stage.RECOVER, Stage.PREVENT]


@contextmanager
def fresh_database(tmp: Path, postgresql: bool) -> Iterator[str]:
    """Yields the URL of an empty database; a PostgreSQL one is dropped afterwards."""
    if not postgresql:
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    name = f"csirt_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_app(tmp: Path, url: str):
    """The real app on `url`, schema built by the migrations, organizations synced."""
    upgrade_head(url)
    app = create_app(Config(INSTANCE_PATH=tmp / "instance", DATABASE_URL=url, SCHEDULER_ENABLED=False))
    with app.app_context():
        sync_organizations()
        db.session.commit()
    return app


def create_users() -> dict[str, dict]:
    """One csirt per body, plus one csirt of all five. Returns {key: {id, email, token}}; call in an app context."""
    orgs = {o.code: o.id for o in db.session.scalars(select(Organization).where(Organization.code.in_(BODIES)))}
    password_hash = hash_password(PASSWORD)  # one hash for all: scrypt is slow on purpose
    people = {code: [code] for code in BODIES} | {"all": list(BODIES)}
    users = {}
    for key, codes in people.items():
        user = User(email=f"csirt-{key}@bench.example.jp", name=f"ベンチ CSIRT {key}", password_hash=password_hash,
                    available=True)
        db.session.add(user)
        db.session.flush()
        db.session.add_all(Membership(user_id=user.id, organization_id=orgs[c], role="csirt", active=True) for c in codes)
        users[key] = {"id": user.id, "email": user.email}
    db.session.commit()
    for info in users.values():
        info["token"] = create_api_token(info["email"], name="bench")
    db.session.commit()
    return users


def _pick_some(rng: random.Random, codes: list[str], chance: dict[str, float] | float) -> list[str]:
    return sorted(c for c in codes if rng.random() < (chance[c] if isinstance(chance, dict) else chance))


def _incident_facts(rng: random.Random, profile) -> dict:
    categories = profile.threat_categories
    category = rng.choices(categories, weights=[CATEGORY_WEIGHTS[c.code] for c in categories])[0]
    sub = rng.choice(category.subcategories).code if category.subcategories and rng.random() < 0.8 else None
    segments = _pick_some(rng, list(profile.segment_codes()), SEGMENT_CHANCE)
    impacts = _pick_some(rng, [i.value for i in Impact], 0.15)
    assets = {axis.code: rng.choice(axis.levels).code for axis in profile.asset_classification.axes if rng.random() < 0.5}
    involved = rng.random() < 0.3
    persons = rng.choice([0, 1, 3, 12, 45, 150, 1200]) if involved else 0
    flags = {name: involved and rng.random() < p for name, p in
             (("sensitive", 0.1), ("my_number", 0.04), ("financial_damage", 0.05), ("malicious", 0.1))}
    return {
        "threat_category": category.code, "subcategory": sub, "network_segments": segments, "impacts": impacts, "pd_held_in": [],
        "impact_outage": "outage" in impacts, "asset_classes": assets, "pd_involved": involved, "pd_persons": persons,
        **{f"pd_{name}": value for name, value in flags.items()},
        "title": f"{rng.choice(TITLES[category.code])}（{rng.choice(DEPARTMENTS)}）",
    }


def _severity(rules, profile, row: dict) -> tuple[str, str]:
    flags = {name for name in ("involved", "sensitive", "my_number", "financial_damage", "malicious") if row[f"pd_{name}"]}
    facts = Facts(segments=frozenset(row["network_segments"]), impacts=frozenset(row["impacts"]), flags=frozenset(flags),
                  persons=row["pd_persons"], ranks=asset_ranks(profile, row["asset_classes"]))
    severity, reason = derive_severity(rules, facts)
    return severity.value, reason or ""


def iter_incident_rows(app, n: int, users: dict[str, dict], counters: dict[tuple[int, int], int],
                       seed: int = 20261122) -> Iterator[dict]:
    """N incident rows (dicts for a core insert), one at a time; `counters` ({(organization_id, year):
    last number}) is filled as they go. Call in an app context."""
    rng = random.Random(seed)
    rules = playbooks(app).severity_rules
    orgs = {o.code: o for o in db.session.scalars(select(Organization).where(Organization.code.in_(BODIES)))}
    now = dt.datetime.now(dt.UTC)
    span = dt.timedelta(days=3 * 365).total_seconds()
    drafts = []
    for _ in range(n):
        code = rng.choices(BODIES, weights=(30, 30, 10, 10, 20))[0]
        detected = now - dt.timedelta(seconds=rng.uniform(3600, span))
        created = detected + dt.timedelta(minutes=rng.uniform(5, 72 * 60))
        drafts.append((min(created, now), detected, code))
    drafts.sort()  # numbered in order of registration, as the app does
    for created, detected, code in drafts:
        org, profile = orgs[code], get_profile(code)
        year = created.astimezone(JST).year
        counters[(org.id, year)] += 1
        number = counters[(org.id, year)]
        row = _incident_facts(rng, profile)
        computed, reason = _severity(rules, profile, row)
        age_days = (now - created).days
        stage = Stage.CLOSED if age_days > 60 and rng.random() < 0.9 else rng.choice([*STAGES_OPEN, Stage.CLOSED])
        acknowledged = created + dt.timedelta(minutes=rng.uniform(5, 240)) if stage != Stage.TRIAGE else None
        closed = min(created + dt.timedelta(days=rng.uniform(1, 45)), now) if stage == Stage.CLOSED else None
        override = rng.random() < 0.02
        severity = rng.choice([s.value for s in Severity if s.value != computed]) if override else computed
        reporter = users[code]["id"] if rng.random() < 0.8 else users["all"]["id"]
        updated = max(filter(None, (created, acknowledged, closed)))
        reference = f"{org.reference_prefix}-{year}-{number:04d}"
        description = f"## 概要\n\n{row['title']}。{reason or '被害は確認されていない。'}\n\n- 報告: {code}\n"
        not_incident = stage == Stage.CLOSED and rng.random() < 0.05
        row |= {
            "organization_id": org.id, "reference": reference, "ref_year": year, "ref_number": number,
            "description": description,
            "search_text": normalize_for_search("\n".join((reference, row["title"], description))),
            "not_incident": not_incident,
            "closed_reason": ("非該当（誤検知）" if not_incident else "対応完了") if closed else None,
            "detected_at": detected, "source": rng.choice([s.value for s in Source]),
            "severity": severity, "computed_severity": computed,
            "severity_reason": "担当課の聞き取りにより手動で設定" if override else None,
            "severity_overridden_by_id": users["all"]["id"] if override else None,
            "severity_overridden_at": updated if override else None,
            "stage": stage.value, "reporter_id": reporter, "acknowledged_at": acknowledged, "closed_at": closed,
            "created_at": created, "updated_at": updated, "version": 1 + (stage != Stage.TRIAGE) + override,
        }
        yield row


def counter_rows(counters: dict[tuple[int, int], int]) -> list[dict]:
    return [{"organization_id": o, "year": y, "last_number": last} for (o, y), last in sorted(counters.items())]


def incident_rows(app, n: int, users: dict[str, dict], seed: int = 20261122) -> tuple[list[dict], list[dict]]:
    """N incident rows (dicts for a core insert) and the reference_counters rows; call in an app context."""
    counters: dict[tuple[int, int], int] = defaultdict(int)
    rows = list(iter_incident_rows(app, n, users, counters, seed))
    return rows, counter_rows(counters)


def _as_migrated(conn, model: Table) -> tuple[Table, dict]:
    """The model's table cut down to the columns the migrations made, with the model's types (UTC, JSON)
    and no defaults; plus the values for columns the rows leave out (the model's scalar defaults)."""
    columns = {c["name"]: c for c in inspect(conn).get_columns(model.name)}
    unknown = [n for n, c in columns.items() if n not in model.c and not c["nullable"] and c.get("default") is None]
    if unknown:
        raise SystemExit(f"bench/seed.py: {model.name}.{unknown} is NOT NULL in the database but not in the model")
    table = Table(model.name, MetaData(), *(Column(c.name, c.type, primary_key=c.primary_key)
                                            for c in model.columns if c.name in columns))
    defaults = {c.name: c.default.arg for c in model.columns
                if c.name in columns and c.default is not None and c.default.is_scalar}
    return table, defaults


def _insert(conn, model: Table, rows: list[dict]) -> None:
    table, defaults = _as_migrated(conn, model)
    names = [c.name for c in table.columns if c.name in rows[0] or c.name in defaults]
    missing = [c.name for c in table.columns if c.name not in names and not c.primary_key
               and not next(m for m in model.columns if m.name == c.name).nullable]
    if missing:
        raise SystemExit(f"bench/seed.py does not fill {model.name}.{missing} (NOT NULL): update incident_rows()")
    for start in range(0, len(rows), BATCH):
        conn.execute(insert(table), [{n: r.get(n, defaults.get(n)) for n in names} for r in rows[start:start + BATCH]])


def bulk_insert(rows: list[dict], counter_rows: list[dict]) -> None:
    """Core inserts in batches, one transaction, into the schema as migrated; call in an app context."""
    with db.engine.begin() as conn, bulk_load(conn):
        _insert(conn, Incident.__table__, rows)
        _insert(conn, ReferenceCounter.__table__, counter_rows)


def seed_incidents(app, n: int, users: dict[str, dict], seed: int = 20261122, chunk: int = 50_000) -> None:
    """incident_rows + bulk_insert (the same rows), streamed: never more than `chunk` rows in memory,
    for a million; call in an app context."""
    counters: dict[tuple[int, int], int] = defaultdict(int)
    rows: list[dict] = []
    with db.engine.begin() as conn, bulk_load(conn):
        for row in iter_incident_rows(app, n, users, counters, seed):
            rows.append(row)
            if len(rows) == chunk:
                _insert(conn, Incident.__table__, rows)
                rows = []
        if rows:
            _insert(conn, Incident.__table__, rows)
        _insert(conn, ReferenceCounter.__table__, counter_rows(counters))


def vacuum_analyze() -> None:
    """PostgreSQL after a bulk load settles the way autovacuum leaves it: statistics and visibility map.
    The session's transaction ends first: left idle in transaction, its snapshot keeps VACUUM from
    marking the freshly loaded pages all-visible, and counts would read the heap, not the index."""
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
