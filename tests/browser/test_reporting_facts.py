"""Issue 17 in Chromium: a CSIRT member enters a leak with its reporting facts through the form
(recognition time, the 議会 as 機関, the payroll system, encryption) and the incident page says
what is owed, from which time, and what the encryption took away and why."""
from __future__ import annotations

from tests.browser.helpers import login


def test_the_form_takes_the_reporting_facts_and_the_page_explains_the_deadlines(new_page, factory, artifacts):
    user = factory.user({"ageo": ["csirt"]}, name="上尾市 CSIRT 担当")
    page = new_page()
    login(page, user.email, "/incidents/new?organization=ageo")
    page.fill("#title", "議会事務局の給与データを誤送信")
    page.select_option("#threat_category", "unintentional")
    page.fill("#detected_at", "2026-11-20T10:00")
    page.fill("#recognized_at", "2026-11-21T09:30")
    page.select_option("#organ", "gikai")
    page.check("input[name=pd_involved]")
    page.check("input[name=pd_my_number]")
    page.check("input[name=pd_sensitive]")
    page.check("input[name=pd_held_in][value=my_number_related]")
    page.fill("#pd_persons", "3")
    page.check("input[name=pd_encrypted]")
    with page.expect_navigation():
        page.get_by_role("button", name="登録").click()

    facts = page.locator("dl.facts")
    assert "2026-11-21 09:30" in facts.inner_text()
    assert "議会" in facts.locator("dt:has-text('機関') + dd").inner_text()
    assert "議会（議会の個人情報保護条例・番号法）" in facts.inner_text()
    assert "個人番号関係事務（給与事務等）の情報システム" in facts.inner_text()
    # encrypted: the council's and the 番号法 reports are withdrawn, each with its reason
    excluded = page.locator("#excluded-deadlines")
    assert excluded.is_visible()
    text = excluded.inner_text()
    assert "議長への漏えい等報告（速報）" in text and "特定個人情報の漏えい等報告（速報）" in text
    assert "特定個人情報の漏えい等に関する報告等に関する規則 第2条第1号括弧書き" in text
    page.screenshot(path=str(artifacts / "reporting-facts-encrypted.png"), full_page=True)

    # not encrypted after all: the reports are due, counted from the recognition time
    page.get_by_role("link", name="編集").click()
    page.uncheck("input[name=pd_encrypted]")
    with page.expect_navigation():
        page.get_by_role("button", name="保存").click()
    assert page.locator("#excluded-deadlines").count() == 0
    council = page.locator("table.deadlines tr", has_text="議長への漏えい等報告（速報）")
    assert "起算: 報告対象と認識した日時（2026-11-21 09:30）" in council.inner_text()
    mynumber = page.locator("table.deadlines tr", has_text="特定個人情報の漏えい等報告（速報）")
    assert "2026-11-24 09:30" in mynumber.inner_text()
    internal = page.locator("table.deadlines tr", has_text="CISOへの報告")
    assert "起算: 検知日時（2026-11-20 10:00）" in internal.inner_text()
    page.locator("table.deadlines tr", has_text="特定個人情報の漏えい等報告（速報）").locator("summary",
                                                                                     has_text="条文・注記").click()
    page.locator("#deadlines").screenshot(path=str(artifacts / "reporting-facts-deadlines.png"))
