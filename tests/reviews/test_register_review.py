"""The quarterly and fiscal-year review carries the risk register (issue 17): the rows as they
stood at the period's end, the change since the previous period's end, the period's incidents,
near misses, findings and changes of circumstance beside them, where incident history disagrees
with the assessment (playbooks/risk.yaml `disagreement`), the recommendations to the 情報セキュリティ
委員会, and every export (Markdown, XLSX, the CSV summary) holds all of it."""
from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest

from tests.reviews.support import review, review_json
from tests.risks.support import assess, quarter_with_disagreements


@pytest.fixture
def world(client, factory):
    return quarter_with_disagreements(client, factory)


def test_the_review_shows_the_register_its_inputs_and_the_change_since(client, world):
    register = review_json(client, world["headers"], "ageo", 2026, 3)["register"]
    assert register["period"] == {"from": "2026-10-01", "to": "2026-12-31"}
    assert register["as_of"] == "2026-12-31T15:00:00Z" and register["previous_as_of"] == "2026-09-30T15:00:00Z"
    rows = {r["id"]: r for r in register["rows"]}
    assert list(rows) == [world["lowered"]["id"], world["loss"]["id"]]
    malware, loss = rows[world["lowered"]["id"]], rows[world["loss"]["id"]]
    assert (malware["change"], malware["previous"]["likelihood"], malware["previous"]["loss"]) == ("lowered", 2, 2)
    assert [h["id"] for h in malware["history"]] == [world["first"]["id"]]
    assert malware["inputs"] == {"incidents": 3, "worst_severity": "low", "near_misses": 1, "open_findings": 1, "changes": 1}
    assert (loss["change"], loss["previous"]) == ("new", None)
    assert loss["inputs"] == {"incidents": 1, "worst_severity": "high", "near_misses": 0, "open_findings": 0, "changes": 0}
    assert [n["title"] for n in register["near_misses"]] == ["偽の請求メール"]
    assert [(f["clause"], f["overdue"]) for f in register["findings"]] == [("8-6", True)]
    assert [c["text"] for c in register["circumstances"]] == ["総務省ガイドラインの改定"]


def test_a_disagreement_between_history_and_assessment_is_shown(client, world):
    register = review_json(client, world["headers"], "ageo", 2026, 3)["register"]
    found = [(d["kind"], d["assessment"], d["assessed"], d["observed"], d["threshold"]) for d in register["disagreements"]]
    assert found == [("likelihood", world["lowered"]["id"], 1, 3, 3),   # three in a quarter against まれ
                     ("loss", world["loss"]["id"], 1, 3, 3),            # a 高 incident against loss 軽微
                     ("unassessed", None, None, 1, 1)]                 # 災害: no row
    assert register["disagreements"][0]["message"] == \
        "発生の可能性を1（まれ）と評価していますが、期間中に3件のインシデントがありました（3件以上で見直しの目安）。"
    assert register["disagreements"][2]["label"] == "災害による要因"
    assert [r["disagreements"] for r in register["rows"]] == [["likelihood"], ["loss"]]
    assert [r["kind"] for r in register["recommendations"]] == [
        "reassess_likelihood", "reassess_loss", "assess", "finding_overdue", "circumstance"]
    assert register["recommendations"][0]["text"] == "「意図的な要因 / ウイルス攻撃・すべての分類・LGWAN接続系」の発生の可能性を再評価する"


def test_an_earlier_quarter_shows_the_register_as_it_stood_then(client, world):
    register = review_json(client, world["headers"], "ageo", 2026, 2)["register"]
    assert [(r["id"], r["likelihood"], r["change"]) for r in register["rows"]] == [(world["first"]["id"], 2, "new")]
    assert register["rows"][0]["inputs"]["incidents"] == 0 and register["disagreements"] == []


def test_the_fiscal_year_compares_with_its_own_thresholds(client, world):
    register = review_json(client, world["headers"], "ageo", 2026)["register"]
    assert register["period"] == {"from": "2026-04-01", "to": "2027-03-31"}
    assert [d["kind"] for d in register["disagreements"]] == ["likelihood", "loss", "unassessed"]
    assert register["disagreements"][0]["threshold"] == 3
    assert [r["change"] for r in register["rows"]] == ["new", "new"]  # nothing stood at the end of FY2025


def test_the_exports_carry_the_register(client, world):
    headers = world["headers"]
    text = review(client, headers, "ageo", 2026, 3, format="md").get_data(as_text=True)
    for heading in ("リスク登録簿（評価と期間中の実績）", "評価と実績の不一致", "ヒヤリハット", "監査・自己点検の指摘", "状況の変化",
                    "リスク登録簿の評価の履歴", "情報セキュリティ委員会への提言（リスク登録簿から）"):
        assert f"## {heading}\n" in text
    assert "| 意図的な要因 / ウイルス攻撃・すべての分類・LGWAN接続系 | 1 まれ | 2 小 | 2 | 2×2=4 | 低下 | 2 | 3 | 低 | 1 | 1 | 1 | 発生の可能性 |" in text
    assert "期間中に3件のインシデントがありました" in text

    book = openpyxl.load_workbook(io.BytesIO(review(client, headers, "ageo", 2026, 3, format="xlsx").get_data()))
    sheet = list(book["リスク登録簿（評価と期間中の実績）"].values)
    assert sheet[1][:4] == ("対象（脅威・分類・ネットワーク）", "発生の可能性", "発生時の損失", "リスク値")
    assert [row[0] for row in sheet[2:]] == ["意図的な要因 / ウイルス攻撃・すべての分類・LGWAN接続系",
                                             "非意図的な要因 / 紛失又は置き忘れ・機密性3B・すべてのネットワーク"]
    assert [row[0] for row in list(book["評価と実績の不一致"].values)[2:]] == ["発生の可能性", "発生時の損失", "未評価"]

    summary = review(client, headers, "ageo", 2026, 3, format="csv", part="summary")
    assert summary.headers["Content-Disposition"] == 'attachment; filename="review-ageo-2026-q3-summary.csv"'
    rows = list(csv.reader(io.StringIO(summary.get_data(as_text=True).lstrip("\ufeff"))))
    titles = {row[0] for row in rows}
    assert {"件数", "リスク登録簿（評価と期間中の実績）", "ヒヤリハット", "情報セキュリティ委員会への提言（リスク登録簿から）"} <= titles
    assert ["ヒヤリハット", dismissed_receipt(rows), "偽の請求メール"] == [r for r in rows if r[0] == "ヒヤリハット"][1][:3]
    incidents = client.get("/api/v1/reviews/ageo/2026/q3", headers=headers, query_string={"format": "csv"}, buffered=True)
    assert incidents.get_data(as_text=True).lstrip("\ufeff").startswith("番号,団体,件名")
    assert review(client, headers, "ageo", 2026, 3, format="csv", part="everything").status_code == 422


def dismissed_receipt(rows: list[list[str]]) -> str:
    return next(r for r in rows if r[0] == "ヒヤリハット" and r[1] != "受付番号")[1]


def test_the_review_json_keeps_its_figures_beside_the_register(client, world):
    body = review_json(client, world["headers"], "ageo", 2026, 3)
    assert body["total"] == 6 and body["current"]["total"] == 6 and body["previous"]["total"] == 0
    assert body["current"]["period"] == {"fiscal_year": 2026, "quarter": 3, "label": "2026年度 第3四半期",
                                         "from": "2026-10-01", "to": "2026-12-31"}
    assert set(body["current"]) == {"period", "total", "not_incident", "by_threat_category", "by_subcategory",
                                    "by_severity", "by_source", "by_segment", "response_times", "escalation_levels",
                                    "deadlines", "risk_matrix"}
    assert body["by_threat_category"] == {"intentional": 4, "unintentional": 1, "disaster": 1}
    assert dt.date.fromisoformat(body["register"]["period"]["to"]) == dt.date(2026, 12, 31)


def test_a_review_of_every_body_names_each_rows_body(client, factory):
    joint = factory.headers(factory.user({"ageo": ["csirt"], "saga": ["csirt"]}))
    assess(client, joint, "ageo")
    assess(client, joint, "saga", asset_class="importance:II")
    register = review_json(client, joint, "all", 2026, 3)["register"]
    assert register["organizations"] == ["ageo", "saga"] and set(register["scales"]) == {"ageo", "saga"}
    assert [(r["organization"], r["asset_class"]) for r in register["rows"]] == [
        ("ageo", "confidentiality:2"), ("saga", "importance:II")]
    text = review(client, joint, "all", 2026, 3, format="md").get_data(as_text=True)
    assert "意図的な要因 / ウイルス攻撃・重要性分類II・LGWAN接続系（saga）" in text
