"""What followed the incidents of a period: the escalation levels reached, the regulatory deadlines
(due / on time / late / open / overdue), and the outstanding recommendations grouped by clause."""
from __future__ import annotations

import datetime as dt

from app.reviews.periods import Period
from tests.reviews.support import (
    API,
    CRITICAL,
    HIGH,
    create,
    deadlines,
    escalation_message,
    jst,
    reminder_message,
    review_json,
    review_tables,
    set_deadline,
)

MYNUMBER_LEAK = {"network_segments": ["mynumber"], "personal_data": {"involved": True, "my_number": True, "persons": 2}}


def file(client, headers, incident_id: int, deadline_id: int, met_at: dt.datetime) -> None:
    response = client.post(f"{API}/{incident_id}/deadlines/{deadline_id}/met", headers=headers,
                           json={"met_at": met_at.isoformat(), "reference": "受付番号 R-1"})
    assert response.status_code == 200, response.get_data(as_text=True)


def test_escalation_levels_reached(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    first = create(client, headers, jst(2026, 7, 2, 9, 0), **HIGH)
    escalation_message(first["id"], 1, user, channel="email")
    escalation_message(first["id"], 1, user, channel="in_app")     # one level, two messages: one incident
    escalation_message(first["id"], 2, user)
    second = create(client, headers, jst(2026, 9, 30, 23, 0))
    escalation_message(second["id"], 1, user)
    reminded = create(client, headers, jst(2026, 8, 1, 9, 0))
    reminder_message(reminded["id"], user)                          # a deadline reminder is no level
    create(client, headers, jst(2026, 8, 2, 9, 0))                  # nothing sent
    earlier = create(client, headers, jst(2026, 6, 30, 23, 0), **CRITICAL)   # Q1, the previous period
    for level in (1, 2, 3):
        escalation_message(earlier["id"], level, user)
    later = create(client, headers, jst(2026, 10, 1, 0, 0), **CRITICAL)      # Q3: neither
    escalation_message(later["id"], 4, user)

    body = review_json(client, headers, "ageo", 2026, 2)
    assert body["current"]["escalation_levels"] == {"1": 2, "2": 1}
    assert body["previous"]["escalation_levels"] == {"1": 1, "2": 1, "3": 1}
    assert review_json(client, headers, "ageo", 2026)["current"]["escalation_levels"] == {"1": 3, "2": 2, "3": 1, "4": 1}


def test_escalation_table(app, client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    now = create(client, headers, jst(2026, 7, 2, 9, 0))
    escalation_message(now["id"], 1, user)
    before = create(client, headers, jst(2026, 5, 2, 9, 0))
    escalation_message(before["id"], 1, user)
    escalation_message(before["id"], 3, user)
    _header, rows = review_tables(app, user, "ageo", Period(2026, 2))["エスカレーションが到達した段階"]
    assert rows == [["第1段階", 1, 1], ["第3段階", 0, 1]]


def _deadline_data(client, headers) -> None:
    # d1: 速報 filed the day before it was due, 確報 five days late (through the API)
    d1 = create(client, headers, jst(2026, 8, 1, 10, 0), **HIGH)
    rows = deadlines(d1["id"])
    assert rows["ppc_preliminary"].due_at == dt.datetime(2026, 8, 4, 1, 0, tzinfo=dt.UTC)
    file(client, headers, d1["id"], rows["ppc_preliminary"].id, jst(2026, 8, 3, 10, 0))
    file(client, headers, d1["id"], rows["ppc_final"].id, jst(2026, 9, 5, 10, 0))
    # d2: 速報 at its due instant (on time), 確報 never (overdue now)
    d2 = create(client, headers, jst(2026, 8, 10, 10, 0), **HIGH)
    rows = deadlines(d2["id"])
    file(client, headers, d2["id"], rows["ppc_preliminary"].id, rows["ppc_preliminary"].due_at)
    # d3: 特定個人情報: 速報 an hour late, 確報 open and not due yet
    d3 = create(client, headers, jst(2026, 9, 20, 10, 0), **MYNUMBER_LEAK)
    rows = deadlines(d3["id"])
    assert set(k for k, d in rows.items() if d.category == "regulatory") == {"mynumber_preliminary", "mynumber_final"}
    set_deadline(rows["mynumber_preliminary"].id, met_at=rows["mynumber_preliminary"].due_at + dt.timedelta(hours=1))
    set_deadline(rows["mynumber_final"].id, due_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=10))
    # d4: withdrawn deadlines are history, not counted
    d4 = create(client, headers, jst(2026, 9, 1, 10, 0), **HIGH)
    for row in deadlines(d4["id"]).values():
        if row.category == "regulatory":
            set_deadline(row.id, withdrawn_at=dt.datetime.now(dt.UTC))
    # the previous period (Q1): 速報 on time, 確報 open and overdue
    p1 = create(client, headers, jst(2026, 5, 1, 10, 0), **HIGH)
    file(client, headers, p1["id"], deadlines(p1["id"])["ppc_preliminary"].id, jst(2026, 5, 2, 10, 0))
    # Q3: neither period
    create(client, headers, jst(2026, 10, 1, 10, 0), **HIGH)


def test_regulatory_deadline_figures(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    _deadline_data(client, headers)

    body = review_json(client, headers, "ageo", 2026, 2)
    figures = body["current"]["deadlines"]
    assert figures["total"] == {"due": 6, "on_time": 2, "late": 2, "open": 2, "overdue": 1}
    assert figures["by_kind"] == {
        "ppc_preliminary": {"label": "個人情報保護委員会への漏えい等報告（速報）", "due": 2, "on_time": 2, "late": 0,
                            "open": 0, "overdue": 0},
        "ppc_final": {"label": "個人情報保護委員会への漏えい等報告（確報）", "due": 2, "on_time": 0, "late": 1,
                      "open": 1, "overdue": 1},
        "mynumber_preliminary": {"label": "特定個人情報の漏えい等報告（速報）", "due": 1, "on_time": 0, "late": 1,
                                 "open": 0, "overdue": 0},
        "mynumber_final": {"label": "特定個人情報の漏えい等報告（確報）", "due": 1, "on_time": 0, "late": 0,
                           "open": 1, "overdue": 0},
    }
    assert body["previous"]["deadlines"]["total"] == {"due": 2, "on_time": 1, "late": 0, "open": 1, "overdue": 1}


def test_deadline_table(app, client, factory):
    user = factory.user({"ageo": ["csirt"]})
    _deadline_data(client, factory.headers(user))
    header, rows = review_tables(app, user, "ageo", Period(2026, 2))["法令上の報告期限"]
    assert header == ["", "対象", "期限内", "期限後", "未了", "うち超過"]
    assert rows[-2:] == [["合計", 6, 2, 2, 2, 1], ["合計（2026年度 第1四半期）", 2, 1, 0, 1, 1]]
    assert ["個人情報保護委員会への漏えい等報告（確報）", 2, 0, 1, 1, 1] in rows


def _record(client, headers, incident_id: int, recommendations: list[dict]) -> dict:
    response = client.put(f"{API}/{incident_id}/post-incident-record", headers=headers, json={
        "cause": "原因", "impact": "影響", "measures": "措置", "prevention": "再発防止策",
        "policy_clauses": sorted({r["clause"] for r in recommendations if r.get("clause")}),
        "recommendations": recommendations})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def _recommendation_data(client, factory) -> dict:
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    old = create(client, headers, jst(2025, 5, 1, 9, 0))       # an earlier fiscal year: still outstanding
    new = create(client, headers, jst(2026, 7, 1, 9, 0))
    _record(client, headers, old["id"], [
        {"text": "標的型メール訓練を全職員に行う", "clause": "8-5", "status": "proposed"},
        {"text": "ログの保存期間を1年に延ばす", "clause": "8-7", "status": "adopted"},
        {"text": "私物USBの全面禁止", "clause": "8-5", "status": "rejected"},
        {"text": "パッチ適用手順の文書化", "clause": "8-7", "status": "done"},
    ])
    _record(client, headers, new["id"], [
        {"text": "情報セキュリティ研修に事例を加える", "clause": "8-5", "status": "adopted"},
        {"text": "委員会で扱う", "status": "proposed"},
    ])
    saga_headers = factory.headers(factory.user({"saga": ["csirt"]}))
    saga = create(client, saga_headers, jst(2026, 7, 1, 9, 0), organization="saga")
    _record(client, saga_headers, saga["id"], [{"text": "佐賀市の提言", "clause": "6-1", "status": "proposed"}])
    return {"headers": headers, "old": old, "new": new}


def test_outstanding_recommendations_grouped_by_clause(client, factory):
    data = _recommendation_data(client, factory)
    groups = review_json(client, data["headers"], "ageo", 2026, 2)["recommendations"]
    by_clause = {g["clause"]: g for g in groups}
    assert set(by_clause) == {"8-5", "8-7", None}
    assert [g["clause"] for g in groups if g["clause"]] == ["8-5", "8-7"]
    assert {g["organization"] for g in groups} == {"ageo"}
    assert by_clause["8-5"]["label"] == "第8条(5) 人的セキュリティの対策"
    assert [(i["status"], i["text"], i["reference"]) for i in by_clause["8-5"]["items"]] == [
        ("adopted", "情報セキュリティ研修に事例を加える", data["new"]["reference"]),
        ("proposed", "標的型メール訓練を全職員に行う", data["old"]["reference"]),
    ]
    assert by_clause["8-7"]["label"] == "第8条(7) 運用"
    assert [(i["status"], i["text"], i["incident_id"]) for i in by_clause["8-7"]["items"]] == [
        ("adopted", "ログの保存期間を1年に延ばす", data["old"]["id"])]
    assert by_clause[None]["label"] == "（条項の指定なし）"
    assert [i["text"] for i in by_clause[None]["items"]] == ["委員会で扱う"]
    texts = [i["text"] for g in groups for i in g["items"]]
    assert "私物USBの全面禁止" not in texts and "パッチ適用手順の文書化" not in texts and "佐賀市の提言" not in texts


def test_recommendations_table_and_markdown(app, client, factory):
    data = _recommendation_data(client, factory)
    user_tables = review_tables(app, factory.user({"ageo": ["auditor"]}), "ageo", Period(2026, 2))
    header, rows = user_tables["見直しへの提言（未了の提案・採用）"]
    assert header == ["条項", "状態", "提言", "インシデント"]
    assert ["第8条(5) 人的セキュリティの対策", "採用", "情報セキュリティ研修に事例を加える", data["new"]["reference"]] in rows
    assert ["第8条(5) 人的セキュリティの対策", "提案", "標的型メール訓練を全職員に行う", data["old"]["reference"]] in rows
    assert ["第8条(7) 運用", "採用", "ログの保存期間を1年に延ばす", data["old"]["reference"]] in rows
    assert len(rows) == 4
    assert not any(status in ("不採用", "実施済") for _clause, status, _text, _ref in rows)

    markdown = client.get("/api/v1/reviews/ageo/2026/q2?format=md", headers=data["headers"]).get_data(as_text=True)
    assert "## 見直しへの提言（未了の提案・採用）" in markdown
    assert "| 第8条(7) 運用 | 採用 | ログの保存期間を1年に延ばす |" in markdown
    assert "私物USBの全面禁止" not in markdown and "パッチ適用手順の文書化" not in markdown
