"""The review pages: choosing a review, the page with its server-side SVG charts and tables, the
printable A4 layout, downloads from the page, and who may open them."""
from __future__ import annotations

import re

import pytest

from app.core.timeutil import now_utc
from app.reviews.periods import period_of
from tests.factories import PASSWORD, csrf_token
from tests.reviews.support import HIGH, create, jst, not_incident

PAGE = "/reviews/ageo/2026/q2"


def login(client, user) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302, response.text


def section(html: str, title: str) -> str:
    """The <section> whose heading is `title`."""
    match = re.search(r'<section class="review-part">\s*<h2>' + re.escape(title) + r"</h2>(.*?)</section>", html, re.S)
    assert match, f"no section {title}"
    return match.group(1)


@pytest.fixture
def csirt(client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    incidents = [
        create(client, headers, jst(2026, 7, 1, 0, 0), title="<b>標的型メール</b>", subcategory="malware"),
        create(client, headers, jst(2026, 8, 1, 9, 30), title="USBメモリの紛失", threat_category="unintentional",
               subcategory="loss", **HIGH),
        create(client, headers, jst(2026, 9, 1, 9, 0), title="誤検知"),
        create(client, headers, jst(2026, 5, 1, 9, 0), title="前期の事案"),
    ]
    not_incident(incidents[2]["id"])
    login(client, user)
    return {"user": user, "incidents": incidents}


@pytest.mark.parametrize("path", ["/reviews", PAGE, f"{PAGE}?print=1", f"{PAGE}?format=csv", "/reviews/ageo/2026"])
def test_logged_out_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_index_offers_the_readable_bodies_and_the_current_quarter(client, csirt):
    html = client.get("/reviews").text
    assert "<h1>四半期の振り返り</h1>" in html
    assert '<option value="ageo">上尾市</option>' in html
    assert 'value="all"' not in html                     # one body: no "all"
    current = period_of(now_utc())
    assert f'<option value="{current.fiscal_year}">{current.fiscal_year}年度</option>' in html
    assert re.search(rf'<option value="{current.quarter}" selected>第{current.quarter}四半期</option>', html)
    assert '<option value="">年度全体</option>' in html


def test_index_offers_all_to_a_member_of_several_bodies(client, factory):
    user = factory.user({"ageo": ["csirt"], "saga": ["auditor"], "toride": ["reporter"]})
    login(client, user)
    html = client.get("/reviews").text
    assert '<option value="ageo">上尾市</option>' in html and '<option value="saga">佐賀市</option>' in html
    assert 'value="toride"' not in html
    assert '<option value="all">所属するすべての団体</option>' in html


def test_index_form_redirects_to_the_chosen_review(client, csirt):
    response = client.get("/reviews", query_string={"org": "ageo", "fiscal_year": "2026", "quarter": "2"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/reviews/ageo/2026/q2")
    response = client.get("/reviews", query_string={"org": "ageo", "fiscal_year": "2025", "quarter": ""})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/reviews/ageo/2025")
    followed = client.get("/reviews", query_string={"org": "ageo", "fiscal_year": "2026", "quarter": "2"},
                          follow_redirects=True)
    assert followed.status_code == 200
    assert "振り返り 上尾市 2026年度 第2四半期" in followed.text


def test_review_page_shows_charts_and_tables(client, csirt):
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.text
    assert "<h1>振り返り 上尾市 2026年度 第2四半期</h1>" in html
    assert "期間: 2026-07-01 〜 2026-09-30（検知日、日本時間）· 比較: 2026年度 第1四半期" in html
    charts = re.findall(r'<svg [^>]*role="img"[^>]*>\s*<title>([^<]*)</title>', html)
    assert charts == ["脅威区分別", "重大度別", "報告元別", "リスクマトリクス（発生の可能性 × 発生時の損失）"]
    assert "<td>合計</td><td>3</td><td>1</td>" in section(html, "件数")
    assert "<td>うち非該当</td><td>1</td><td>0</td>" in section(html, "件数")
    assert "<td>意図的な要因</td><td>2</td><td>1</td>" in section(html, "脅威区分別")
    assert "<td>高</td><td>1</td><td>0</td>" in section(html, "重大度別")
    risk = section(html, "リスク評価（脅威区分別）")
    assert 'class="chart risk"' in risk and "評価方法" in risk
    assert "chart risk" not in section(html, "法令上の報告期限")
    incidents = section(html, "インシデント一覧")
    for incident in csirt["incidents"][:3]:
        assert f'href="/incidents/{incident["id"]}">{incident["reference"]}</a>' in incidents
    assert csirt["incidents"][3]["reference"] not in incidents
    assert "&lt;b&gt;標的型メール&lt;/b&gt;" in incidents and "<b>標的型メール</b>" not in html
    assert "終結（非該当）" in incidents
    assert "2026-08-01 09:30" in incidents
    for link in ('href="?print=1"', 'href="?format=md"', 'href="?format=csv"', 'href="?format=xlsx"'):
        assert link in html


def test_the_bar_chart_draws_both_periods(client, csirt):
    html = client.get(PAGE).text
    chart = re.search(r"<svg [^>]*><title>脅威区分別</title>.*?</svg>", html, re.S).group(0)
    # bars in pairs (this period solid, the previous hatched) after the two legend swatches; widths
    # are proportional: 意図的な要因 2 and 1, 非意図的な要因 1 and 0, the others 0
    bars = re.findall(r'<rect x="[^"]+" y="[^"]+" width="([0-9.]+)" height="[^"]+" (fill="#1f5f99"|fill="url\(#hatch-0\)")',
                      chart)[2:]
    assert [fill for _w, fill in bars] == ['fill="#1f5f99"', 'fill="url(#hatch-0)"'] * 5
    widths = [float(w) for w, _fill in bars]
    assert widths[0] > 100
    assert widths[1:] == [widths[0] / 2, widths[0] / 2, 0, 0, 0, 0, 0, 0, 0]
    assert re.findall(r'font-size="11">(\d+)</text>', chart) == ["2", "1", "1", "0", "0", "0", "0", "0", "0", "0"]
    assert ">2026年度 第2四半期</text>" in chart and ">2026年度 第1四半期</text>" in chart


def test_printable_layout(client, csirt):
    response = client.get(f"{PAGE}?print=1")
    assert response.status_code == 200
    html = response.text
    assert '<body class="a4 review">' in html
    assert "/static/print.css" in html and "/static/style.css" not in html
    assert '<header class="site">' not in html                        # no site navigation on paper
    assert '<p class="org">上尾市</p>' in html
    assert "<h1>情報セキュリティインシデントの振り返り 2026年度 第2四半期</h1>" in html
    assert html.count('role="img"') == 4
    assert "<h2>見直しへの提言（未了の提案・採用）</h2>" in html
    assert "<td>合計</td><td>3</td><td>1</td>" in html


def test_fiscal_year_page(client, csirt):
    html = client.get("/reviews/ageo/2026").text
    assert "<h1>振り返り 上尾市 2026年度</h1>" in html
    assert "<td>合計</td><td>4</td><td>0</td>" in section(html, "件数")


def test_downloads_from_the_page(client, csirt):
    response = client.get(f"{PAGE}?format=csv", buffered=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data().startswith("\ufeff番号,団体,件名".encode())
    assert response.get_data().decode("utf-8-sig").count("\r\n") == 4
    response = client.get(f"{PAGE}?format=xlsx")
    assert response.status_code == 200 and response.get_data()[:2] == b"PK"
    response = client.get(f"{PAGE}?format=md")
    assert response.status_code == 200 and "- 団体: 上尾市" in response.text


def test_an_unknown_format_on_the_page_is_not_a_server_error(client, csirt):
    response = client.get(f"{PAGE}?format=pdf")
    assert response.status_code in (400, 422)


def test_pages_of_another_body_or_for_a_reporter(client, factory):
    login(client, factory.user({"saga": ["csirt"], "toride": ["reporter"]}))
    assert client.get(PAGE).status_code == 404
    assert client.get(f"{PAGE}?print=1").status_code == 404
    assert client.get("/reviews/toride/2026/q2").status_code == 403
    assert client.get("/reviews/saga/2026/q5").status_code == 404
    html = client.get("/reviews").text
    assert '<option value="saga">佐賀市</option>' in html and 'value="toride"' not in html


def test_an_auditor_reads_the_page(client, factory, csirt):
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/reviews").text)})
    login(client, factory.user({"ageo": ["auditor"]}))
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "<td>合計</td><td>3</td><td>1</td>" in response.text
