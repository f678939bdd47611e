"""The 緊急時連絡体制 sheet in Chromium: served, and exported as a file opened without a server."""
from __future__ import annotations

from playwright.sync_api import expect

from app.plan.views import export_plan
from tests.browser.helpers import login


def test_the_sheet_and_its_static_export_render_with_the_contacts(app, factory, new_page, browser, tmp_path):
    csirt = factory.user({"ageo": ["csirt"]}, email="csirt@city.ageo.example.jp", name="佐藤 花子")
    page = new_page()
    login(page, csirt.email, "/plan/ageo")
    expect(page.locator("h1")).to_have_text("緊急時連絡体制（緊急時対応計画）")
    expect(page.locator("table.contacts")).to_contain_text("佐藤 花子")
    expect(page.locator("table.contacts")).to_contain_text("csirt@city.ageo.example.jp")
    assert page.pdf(format="A4").startswith(b"%PDF")

    with app.test_request_context():
        export_plan(tmp_path / "usb")
    offline = browser.new_context(locale="ja-JP", offline=True)  # a USB stick on a machine without a network
    try:
        sheet = offline.new_page()
        sheet.goto((tmp_path / "usb" / "index.html").as_uri())
        sheet.get_by_role("link", name="上尾市").click()
        expect(sheet.locator("h1")).to_have_text("緊急時連絡体制（緊急時対応計画）")
        expect(sheet.locator("table.contacts")).to_contain_text("佐藤 花子")
        assert sheet.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Noto Sans CJK JP"')
    finally:
        offline.close()
