"""The acknowledgement page from the e-mail, on a 390×844 phone (issue 18, §3): what to act on at
3 a.m. fits the screen without sideways scrolling, and acknowledging leads to the incident."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from app.core.db import db
from app.jobs.ticker import tick
from tests.escalation.support import HIGH, headers, load_roster, open_incident, person, started

PHONE = {"width": 390, "height": 844}
CSIRT = "csirt@ageo.example.jp"


def test_acknowledging_from_the_mail_on_a_phone(app, client, factory, new_page, smtp_server, tmp_path, artifacts):
    load_roster(tmp_path, [person(CSIRT, "佐藤 花子", ["csirt"]), person("manager@ageo.example.jp", "田中 一郎",
                                                                      ["security_manager"])])
    incident = open_incident(client, headers(factory, CSIRT), HIGH, title="住民票の誤送付（35件）",
                             description="住民票の写しを別の事業者へ誤って送付した。回収を依頼中。")
    tick(started(incident["id"]))
    db.session.commit()  # the live server's thread reads what this one wrote
    mail = next(m for m in smtp_server.messages if m["To"] == CSIRT)
    link = re.search(r"https?://\S+(/ack/\S+)", mail.get_content()).group(1)

    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto(link)
    expect(page.locator("h1")).to_have_text("受領（確認）の登録")
    expect(page.locator("dl.facts")).to_contain_text("上尾市")
    expect(page.locator("ul.paged")).to_contain_text("田中 一郎")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts / "ack-phone-before.png"), full_page=True)
    button = page.get_by_role("button", name="受領を登録する")
    box = button.bounding_box()
    assert box["width"] >= 300 and box["height"] >= 44  # a thumb's target
    button.click()
    expect(page.locator("p.flash.success")).to_contain_text("佐藤 花子 様が")
    page.screenshot(path=str(artifacts / "ack-phone-after.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("link", name="インシデントの画面を開く").click()
    assert page.url.endswith(f"/incidents/{incident['id']}") or "/login" in page.url
