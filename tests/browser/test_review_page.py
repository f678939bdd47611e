"""The printable quarterly review in a real browser: the Japanese headings, the server-side SVG
charts (risk matrix included) and a screenshot; the page as printed to A4 PDF.

Runs on each engine (`engine_name` from tests/conftest.py), like the other browser tests.
"""
from __future__ import annotations

import re
import struct

from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.reviews.support import HIGH, create, jst

PATH = "/reviews/ageo/2026/q2?print=1"
HEADINGS = ("件数と推移", "件数", "脅威区分別", "重大度別", "対応時間（検知から）", "法令上の報告期限",
            "リスク評価（脅威区分別）", "見直しへの提言（未了の提案・採用）", "インシデント一覧")
RISK = "リスクマトリクス（発生の可能性 × 発生時の損失）"
PNG = b"\x89PNG\r\n\x1a\n"
# [likelihood, loss] of the grid cell (the 25 <rect>s, likelihood-major) that holds a label's text
CELL_OF = """(svg, label) => {
  const text = [...svg.querySelectorAll("text")].find(t => t.textContent === label);
  const box = text.getBBox(), x = box.x + 2, y = box.y + 2;
  const cells = [...svg.querySelectorAll("rect")];
  const i = cells.findIndex(r => x >= +r.getAttribute("x") && x <= +r.getAttribute("x") + +r.getAttribute("width")
                             && y >= +r.getAttribute("y") && y <= +r.getAttribute("y") + +r.getAttribute("height"));
  return cells.length === 25 && i >= 0 ? [Math.floor(i / 5) + 1, i % 5 + 1] : null;
}"""




def test_printable_review_in_chromium(app, client, factory, new_page, tmp_path, engine_name):
    user = factory.user({"ageo": ["csirt"]}, name="上尾 CSIRT")
    headers = factory.headers(user)
    first = create(client, headers, jst(2026, 7, 3, 9, 0), title="標的型メールによるマルウェア感染", subcategory="malware")
    create(client, headers, jst(2026, 8, 20, 14, 0), title="USBメモリの紛失", threat_category="unintentional",
           subcategory="loss", **HIGH)
    create(client, headers, jst(2026, 5, 1, 9, 0), title="前期の事案")

    page = new_page()
    login(page, user.email, PATH)
    assert page.url.endswith(PATH)

    expect(page.locator("h1")).to_have_text("情報セキュリティインシデントの振り返り 2026年度 第2四半期")
    expect(page.locator("header .org")).to_have_text("上尾市")
    expect(page.locator("header")).to_contain_text("期間: 2026-07-01 〜 2026-09-30")
    for heading in HEADINGS:
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()

    risk = page.get_by_role("img", name=RISK)
    expect(risk).to_have_count(1)
    expect(risk).to_be_visible()
    box = risk.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 300
    # history from the first detection (2026-05-01) to 2026-10-01: 153 days; 非意図的な要因 has one
    # incident (2.4 a year → 3) whose worst is 高 (3): its label is drawn inside cell 3-3 of the grid
    expect(risk.locator("text", has_text="非意図的な要因")).to_have_count(1)
    assert risk.evaluate(CELL_OF, "非意図的な要因") == [3, 3]
    assert risk.evaluate(CELL_OF, "意図的な要因") == [3, 1]
    assert risk.evaluate(CELL_OF, "疾病による要因") == [1, 1]
    expect(risk.locator("text", has_text="発生の可能性")).to_have_count(1)
    risk_section = page.locator("section", has=page.get_by_role("heading", name="リスク評価（脅威区分別）", exact=True))
    expect(risk_section.locator("svg.risk")).to_have_count(1)
    expect(page.locator("svg.chart[role=img]")).to_have_count(4)
    expect(page.get_by_role("img", name="脅威区分別")).to_be_visible()

    count_rows = page.locator("section", has=page.get_by_role("heading", name="件数", exact=True)).locator("tbody tr")
    expect(count_rows.first).to_have_text("合計21")
    incidents = page.locator("section", has=page.get_by_role("heading", name="インシデント一覧", exact=True))
    expect(incidents.locator("tbody tr")).to_have_count(2)
    expect(incidents).to_contain_text(first["reference"])
    expect(incidents).not_to_contain_text("前期の事案")
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Noto Sans CJK JP"')
    expect(page.locator("header.site")).to_have_count(0)

    shot = tmp_path / f"review-print-{engine_name}.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 768                 # the full page, longer than the viewport

    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2   # several A4 pages
