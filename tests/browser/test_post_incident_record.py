"""The post-incident record (事後報告) in a real browser: the printable A4 page as the 統括情報セキュリティ
責任者 opens it, and approving the record from its page, which closes the incident (終結).

Runs on each engine (`engine_name` from tests/conftest.py), like the other browser tests.
"""
from __future__ import annotations

from playwright.sync_api import expect

from app.core.db import db
from app.incidents.models import Incident
from app.records.models import PostIncidentRecord
from tests.browser.helpers import login
from tests.records.helpers import at_prevent, saved

HEADINGS = ("経過", "原因", "被害・影響", "対応措置", "再発防止策", "関係する基本方針の条項", "見直しへの提言")
CAUSE = "職員が**標的型メール**の添付ファイルを開封した。<script>window.__xss = 1</script>"
PNG = b"\x89PNG\r\n\x1a\n"




def _ready(client, factory) -> tuple[int, dict]:
    """An incident at 再発防止 with a saved record (by CSIRT through the API)."""
    headers = factory.headers(factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT"))
    incident_id = at_prevent(client, headers, title="標的型メールによるマルウェア感染")
    return incident_id, saved(client, headers, incident_id, cause=CAUSE)


def test_printable_record_in_chromium(app, client, factory, new_page, tmp_path, engine_name):
    incident_id, record = _ready(client, factory)
    chief = factory.user({"ageo": ["chief_officer"]}, name="上尾 統括")
    page = new_page()
    login(page, chief.email, f"/incidents/{incident_id}/record/print")
    assert page.url.endswith(f"/incidents/{incident_id}/record/print")

    expect(page.locator("h1")).to_have_text("情報セキュリティインシデント 事後報告")
    for heading in HEADINGS:
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.locator("header .org")).to_have_text("上尾市")
    expect(page.locator("table.meta")).to_contain_text(record["reference"])
    expect(page.locator("table.meta")).to_contain_text("未承認")
    cause = page.locator("section", has=page.get_by_role("heading", name="原因", exact=True)).locator(".markdown")
    expect(cause.locator("strong")).to_have_text("標的型メール")
    assert page.evaluate("window.__xss") is None  # the <script> of the Markdown never runs
    expect(page.locator("table.recs tbody tr")).to_have_count(2)
    expect(page.locator("table.recs")).to_contain_text("第8条(5)")
    expect(page.locator("table.recs")).to_contain_text("採用")
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Noto Sans CJK JP"')

    shot = tmp_path / f"record-print-{engine_name}.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000
    assert int.from_bytes(data[16:20], "big") == 1366  # IHDR width: the laptop viewport

    pdf = page.pdf(format="A4")  # the page is meant for printing on A4
    assert pdf.startswith(b"%PDF")


def test_approve_and_close_from_the_record_page(app, client, factory, new_page):
    incident_id, _ = _ready(client, factory)
    chief = factory.user({"ageo": ["chief_officer"]}, name="上尾 統括")
    page = new_page()
    login(page, chief.email, f"/incidents/{incident_id}/record")
    expect(page.locator("h1")).to_contain_text("事後報告")
    expect(page.locator("#cause")).to_have_value(CAUSE)
    button = page.get_by_role("button", name="事後報告を承認して終結")
    expect(button).to_be_visible()

    with page.expect_navigation():
        button.click()
    expect(page.locator(".flash.success")).to_have_text("事後報告を承認し、インシデントを終結しました。")
    current = page.locator("ol.stages li[aria-current=step]")
    expect(current).to_have_count(1)
    expect(current).to_contain_text("終結")
    expect(page.locator("ol.stages li.done")).to_have_count(6)
    expect(page.locator("#stage p.muted")).to_contain_text("終結")

    db.session.expire_all()
    assert db.session.get(Incident, incident_id).stage == "closed"
    record = db.session.query(PostIncidentRecord).filter_by(incident_id=incident_id).one()
    assert record.approved_by_id == chief.id and record.approved_at is not None

    page.goto(f"/incidents/{incident_id}/record")
    expect(page.get_by_role("button", name="事後報告を承認して終結")).to_have_count(0)
    expect(page.get_by_role("button", name="保存")).to_have_count(0)
    expect(page.locator("body")).to_contain_text("承認済み")
    page.goto(f"/incidents/{incident_id}/record/print")
    expect(page.locator("table.meta")).to_contain_text(f"承認済み（{chief.email}）")
