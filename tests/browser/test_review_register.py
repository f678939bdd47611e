"""The risk register in a real browser (issue 17): the quarterly review page shows the register
with its inputs and a disagreement between incident history and the assessment; on the register
page a row is assessed again through its form and the earlier assessment stays in its history.
Screenshots of both pages are written to test-artifacts/.

Runs on each engine (`engine_name` from tests/conftest.py), like the other browser tests.
"""
from __future__ import annotations

import struct

from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.risks.support import quarter_with_disagreements

REVIEW = "/reviews/ageo/2026/q3"
MALWARE_ROW = "意図的な要因 / ウイルス攻撃・すべての分類・LGWAN接続系"
PNG = b"\x89PNG\r\n\x1a\n"


def _section(page, title: str):
    return page.locator("section", has=page.get_by_role("heading", name=title, exact=True))


def _screenshot(page, path) -> None:
    page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000
    assert struct.unpack(">II", data[16:24])[1] > 768  # the full page, longer than the viewport


def test_the_review_page_shows_the_register_and_a_disagreement(app, client, factory, new_page, artifacts, engine_name):
    world = quarter_with_disagreements(client, factory)
    page = new_page()
    login(page, world["user"].email, REVIEW)
    assert page.url.endswith(REVIEW)

    register = _section(page, "リスク登録簿（評価と期間中の実績）")
    expect(register).to_be_visible()
    rows = register.locator("tbody tr")
    expect(rows).to_have_count(2)
    # 対象, 可能性, 損失, リスク値, 前回, 変化, 版, インシデント, 最も重い重大度, ヒヤリハット, 未完了の指摘, 状況の変化, 不一致
    expect(rows.first.locator("td").nth(0)).to_have_text(MALWARE_ROW)
    assert rows.first.locator("td").all_inner_texts()[:13] == [
        MALWARE_ROW, "1 まれ", "2 小", "2", "2×2=4", "低下", "2", "3", "低", "1", "1", "1", "発生の可能性"]

    disagreements = _section(page, "評価と実績の不一致")
    expect(disagreements.locator("tbody tr")).to_have_count(3)
    expect(disagreements).to_contain_text(
        "発生の可能性を1（まれ）と評価していますが、期間中に3件のインシデントがありました（3件以上で見直しの目安）。")
    expect(disagreements).to_contain_text("「災害による要因」のインシデントが期間中に1件ありましたが、リスク登録簿に評価がありません。")
    recommendations = _section(page, "情報セキュリティ委員会への提言（リスク登録簿から）")
    expect(recommendations).to_contain_text(f"「{MALWARE_ROW}」の発生の可能性を再評価する")
    expect(_section(page, "ヒヤリハット")).to_contain_text("偽の請求メール")
    expect(_section(page, "監査・自己点検の指摘")).to_contain_text("LGWAN端末の修正プログラム適用が遅れている")
    _screenshot(page, artifacts / f"review-register-{engine_name}.png")
    register.screenshot(path=str(artifacts / f"review-register-table-{engine_name}.png"))
    disagreements.screenshot(path=str(artifacts / f"review-disagreements-{engine_name}.png"))


def test_a_row_is_assessed_again_on_the_register_page(app, client, factory, new_page, artifacts, engine_name):
    world = quarter_with_disagreements(client, factory)
    page = new_page()
    login(page, world["user"].email, "/risks/ageo")
    row = page.locator("table.register tbody tr", has_text=MALWARE_ROW)
    expect(row).to_have_class("disagrees")
    expect(row).to_contain_text("実績と不一致")
    row.get_by_text("再評価する").click()
    row.get_by_label("発生の可能性").select_option("3")
    row.get_by_label("評価の理由").fill("今期3件の感染があり、可能性を引き上げる")
    with page.expect_navigation():
        row.get_by_role("button", name="評価を記録").click()
    expect(page.locator(".flash")).to_contain_text("評価を記録しました。以前の評価は履歴として残ります。")
    row = page.locator("table.register tbody tr", has_text=MALWARE_ROW)
    expect(row.locator("td").nth(1)).to_have_text("3 中程度")
    expect(row).not_to_have_class("disagrees")  # three incidents do not contradict 中程度
    row.get_by_text("履歴（2件）").click()
    expect(row).to_contain_text("第2版: 1×2=2")
    expect(row).to_contain_text("無害化を導入した")
    expect(page.locator("#disagreements")).not_to_contain_text(MALWARE_ROW)
    _screenshot(page, artifacts / f"risk-register-{engine_name}.png")
