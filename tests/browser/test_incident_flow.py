"""End-to-end through a real browser: log in, register, find, read; XSS; validation; language; layout.

The pages are checked as a user sees them (Japanese by default). Every test runs on each engine
(`engine_name` from tests/conftest.py).
"""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from app.core.db import db
from app.incidents.models import Incident
from tests.browser.fixtures import LAPTOP, TABLET
from tests.factories import PASSWORD

JST = ZoneInfo("Asia/Tokyo")


# --- helpers -------------------------------------------------------------------------------

def login(page: Page, email: str, password: str = PASSWORD, next_path: str | None = None) -> None:
    page.goto("/login" + (f"?next={quote(next_path)}" if next_path else ""))
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="ログイン").click()


def facts(page: Page) -> dict[str, str]:
    """The incident page's <dl class="facts"> as {label: text}."""
    return page.eval_on_selector(
        "dl.facts",
        """dl => Object.fromEntries([...dl.querySelectorAll('dt')].map(
            dt => [dt.textContent.trim(), dt.nextElementSibling.innerText.trim()]))""",
    )


def option_labels(page: Page, selector: str) -> list[str]:
    return page.eval_on_selector(selector, "s => [...s.options].map(o => o.textContent.trim())")


def no_horizontal_scroll(page: Page) -> tuple[bool, int, int]:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    return widths[0] <= widths[1] + 1, widths[0], widths[1]


def yesterday_morning() -> dt.datetime:
    return (dt.datetime.now(JST) - dt.timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)


def fill_incident_form(page: Page, *, title: str, detected: dt.datetime, description: str) -> None:
    """Fills every kind of field on the 上尾市 form (title last, so a test can leave it empty)."""
    page.select_option("#threat_category", "intentional")
    page.select_option("#subcategory", "unauthorized_access")
    page.fill("#detected_at", detected.strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#source", "external")
    page.fill("#description", description)
    page.check("input[name=network_segments][value=internet]")
    page.check("input[name=impacts][value=leak]")
    page.select_option("#asset_confidentiality", "2")
    page.check("#pd_involved")
    page.fill("#pd_persons", "12")
    if title:
        page.fill("#title", title)


# --- 1. log in, register through the form, find it with filters, open it ---------------------

def test_login_register_filter_and_open(app, factory, new_page):
    user = factory.user({"ageo": ["csirt"], "saga": ["csirt"]}, name="上尾 花子")
    page = new_page()

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("h1")).to_have_text("ログイン")
    expect(page.locator("label[for=email]")).to_have_text("メールアドレス")
    expect(page.locator("label[for=password]")).to_have_text("パスワード")

    # A wrong password: a Japanese error, still on the login page, not logged in.
    page.fill("#email", user.email)
    page.fill("#password", "wrong password 123")
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator(".flash.error")).to_contain_text("メールアドレスまたはパスワードが正しくありません")
    expect(page.locator("h1")).to_have_text("ログイン")
    expect(page.get_by_role("button", name="ログアウト")).to_have_count(0)

    # The right one: lands on the incident list.
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/incidents/$"))
    expect(page.locator("h1")).to_have_text("インシデント一覧")
    expect(page.get_by_role("button", name="ログアウト")).to_be_visible()

    # Two bodies: choose one first. Each body's form offers its own 脅威区分.
    page.goto("/incidents/new")
    expect(page.locator("h1")).to_have_text("インシデントの新規登録")
    page.select_option("#organization", "saga")
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("p.muted").first).to_contain_text("佐賀市")
    assert "その他" in option_labels(page, "#threat_category")

    page.goto("/incidents/new")
    page.select_option("#organization", "ageo")
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("p.muted").first).to_contain_text("上尾市")
    ageo_categories = option_labels(page, "#threat_category")
    assert "その他" not in ageo_categories
    assert ageo_categories == ["選択してください", "意図的な要因", "非意図的な要因", "災害による要因", "疾病による要因", "インフラによる要因"]
    expect(page.locator("label[for=title]")).to_contain_text("件名")
    expect(page.locator("label[for=threat_category]")).to_contain_text("脅威区分")

    detected = yesterday_morning()
    title = "標的型メールによる不正アクセスの疑い"
    fill_incident_form(page, title=title, detected=detected,
                       description="**不審なメール**の添付ファイルを開封した。\n\n- 送信元: example.net\n- 端末: 企画課 PC-12")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="登録", exact=True).click()
    assert posted.value.status == 302, f"POST /incidents/new answered {posted.value.status}"
    year = dt.datetime.now(JST).year
    reference = f"AGEO-{year}-0001"
    expect(page.locator(".flash.success")).to_have_text(f"インシデント {reference} を登録しました。")
    expect(page.locator("h1 .ref")).to_have_text(reference)

    # Other incidents, so that each filter has something to leave out.
    factory.incident(user, title="標的型メール訓練の誤報告", threat_category="unintentional")
    factory.incident(user, title="庁内ファイルサーバへの不審な通信", threat_category="intentional")
    factory.incident(user, organization="saga", title="標的型メール（佐賀市）", threat_category="other")

    page.goto("/incidents/")
    expect(page.locator("h1")).to_have_text("インシデント一覧")
    expect(page.locator("p.count")).to_have_text("4 件")
    page.select_option("#f-cat", "intentional")
    page.fill("#f-q", "標的型")
    page.get_by_role("button", name="絞り込む").click()
    expect(page).to_have_url(re.compile(r"threat_category=intentional"))
    expect(page.locator("p.count")).to_have_text("1 件")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(title)
    expect(rows.first.locator("td").nth(2)).to_have_text("上尾市")
    expect(rows.first.locator("td").nth(3)).to_have_text("意図的な要因")
    expect(page.locator("#f-cat")).to_have_value("intentional")  # the filter is kept
    expect(page.locator("#f-q")).to_have_value("標的型")

    page.get_by_role("link", name=reference).click()
    expect(page.locator("h1 .ref")).to_have_text(reference)
    expect(page.locator("h1")).to_contain_text(title)
    shown = facts(page)
    assert shown["団体"] == "上尾市"
    assert shown["段階"] == "受付・評価"
    assert shown["重大度"].startswith("高"), shown["重大度"]
    assert "機密性2の情報の漏えい・詐取" in shown["重大度"]
    assert shown["脅威区分"] == "意図的な要因 — 不正アクセス"
    assert shown["検知日時"] == detected.strftime("%Y-%m-%d %H:%M JST")
    assert shown["報告元"] == "住民等外部"
    assert shown["ネットワーク"] == "インターネット接続系"
    assert shown["被害"] == "漏えい"
    assert "機密性" in shown["情報資産の分類"] and "2" in shown["情報資産の分類"]
    assert shown["個人情報"].startswith("あり") and "12" in shown["個人情報"]
    expect(page.locator(".markdown strong")).to_have_text("不審なメール")
    expect(page.locator(".markdown li")).to_have_count(2)


# --- 2. script in the description or the title does not run -------------------------------

XSS_HOOKS = """
window.__xss = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = function (...args) { window.__xss.push(name + ":" + args.map(String).join(",")); return null; };
}
"""

XSS_DESCRIPTION = """## 調査メモ

<script>window.__xss.push("script-tag"); alert("script")</script>

<img src=x onerror="window.__xss.push('img-onerror'); alert('img')">

<svg onload="alert('svg')"><circle r="5"></circle></svg>

[詳細](javascript:alert('link'))

<a href="https://example.jp/" onclick="alert('click')">参考</a>

<iframe src="javascript:alert('iframe')"></iframe>
"""


def test_script_in_description_does_not_run(app, factory, new_page):
    user = factory.user({"ageo": ["csirt"]})
    incident = factory.incident(user, title='<script>alert("title")</script>不審なメール', description=XSS_DESCRIPTION)
    # CSP off in the browser: what is checked here is the escaping and sanitizing, not the header.
    page = new_page(bypass_csp=True)
    page.add_init_script(XSS_HOOKS)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(f"{dialog.type}:{dialog.message}"), dialog.dismiss()))

    login(page, user.email, next_path=f"/incidents/{incident.id}")
    response = page.goto(f"/incidents/{incident.id}", wait_until="load")
    assert response.status == 200
    assert "script-src 'self'" in response.headers.get("content-security-policy", "")
    expect(page.locator("h1 .ref")).to_have_text(incident.reference)
    expect(page.locator(".markdown h2")).to_have_text("調査メモ")  # the rest of the description is rendered
    page.wait_for_timeout(300)  # let any error/load handlers fire

    assert page.evaluate("window.__xss") == []
    assert dialogs == []
    assert page.locator(".markdown script").count() == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    dangerous = page.evaluate("""() => [...document.querySelectorAll('.markdown *')].flatMap(el =>
        [...el.attributes].filter(a => /^on/i.test(a.name) || /^\\s*javascript:/i.test(a.value))
          .map(a => el.tagName + '[' + a.name + '=' + a.value + ']'))""")
    assert dangerous == []
    assert page.locator(".markdown img, .markdown svg, .markdown iframe").count() == 0
    # The title is shown as text, not markup.
    expect(page.locator("h1")).to_contain_text('<script>alert("title")</script>不審なメール')


# --- 3. validation keeps what was entered ---------------------------------------------------

def test_empty_title_shows_japanese_message_and_keeps_values(app, factory, new_page):
    user = factory.user({"ageo": ["csirt"]})
    page = new_page()
    login(page, user.email, next_path="/incidents/new")
    expect(page.locator("h1")).to_have_text("インシデントの新規登録")  # one body: straight to its form

    detected = yesterday_morning()
    description = "件名を入れずに送信する。\n2行目"
    fill_incident_form(page, title="", detected=detected, description=description)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="登録", exact=True).click()
    assert posted.value.status == 422

    expect(page.locator("#title + p.error")).to_contain_text("入力してください")
    expect(page.locator("#title")).to_have_value("")
    expect(page.locator("#threat_category")).to_have_value("intentional")
    expect(page.locator("#subcategory")).to_have_value("unauthorized_access")
    expect(page.locator("#detected_at")).to_have_value(detected.strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("#source")).to_have_value("external")
    expect(page.locator("#description")).to_have_value(description)
    expect(page.locator("input[name=network_segments][value=internet]")).to_be_checked()
    expect(page.locator("input[name=network_segments][value=lgwan]")).not_to_be_checked()
    expect(page.locator("input[name=impacts][value=leak]")).to_be_checked()
    expect(page.locator("#asset_confidentiality")).to_have_value("2")
    expect(page.locator("#pd_involved")).to_be_checked()
    expect(page.locator("#pd_persons")).to_have_value("12")
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


# --- 4. language switch -----------------------------------------------------------------------

def test_language_switch_to_english_and_back(app, factory, new_page):
    user = factory.user({"ageo": ["csirt"]})
    page = new_page()
    page.goto("/login?next=/incidents/new")
    expect(page.locator("h1")).to_have_text("ログイン")

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.locator("label[for=email]")).to_have_text("Email address")
    expect(page.locator("label[for=password]")).to_have_text("Password")
    expect(page).to_have_url(re.compile(r"/login\?next="))  # back on the same page

    # The choice survives logging in (a fresh session keeps the language).
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/incidents/new$"))
    expect(page.locator("header.site")).to_contain_text("CSIRT Incident Management")
    expect(page.locator("header.site nav a").first).to_have_text("Triage and status")
    expect(page.locator("header.site nav a[href='/incidents/']")).to_have_text("Incidents")
    expect(page.locator("label[for=title]")).to_contain_text("Title")
    expect(page.locator("label[for=threat_category]")).to_contain_text("Threat category")
    expect(page.get_by_role("button", name="Register")).to_be_visible()

    page.get_by_role("button", name="日本語").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("header.site nav a").first).to_have_text("受付・対応状況")
    expect(page.locator("label[for=title]")).to_contain_text("件名")


# --- 5. screenshots at laptop and tablet size; no sideways scrolling on a tablet --------------

LONG_DESCRIPTION = """## 経過

1. 09:12 職員から不審なメールの報告（件名「【重要】請求書の確認」）
2. 09:30 CSIRT が端末をネットワークから切り離し
3. 10:05 プロキシのログを確認

| 時刻 | 事象 | 担当 |
|---|---|---|
| 09:12 | 報告受付 | 企画課 |
| 09:30 | 端末の隔離 | CSIRT |

接続先: https://login.example-phishing.invalid/owa/auth/logon.aspx?replaceCurrent=1&url=https%3a%2f%2fmail.city.ageo.example.jp%2fowa%2f

```
2026-11-21T00:12:45Z proxy DENIED GET http://203.0.113.45/payload/stage2.bin?id=8f3a9c1e7b2d4f6a8c0e1b3d5f7a9c1e User-Agent: Mozilla/5.0
```
"""


def _seed_for_screens(factory):
    user = factory.user({"ageo": ["csirt"], "saga": ["csirt"]}, name="上尾市 CSIRT 担当")
    detected = yesterday_morning()
    rows = [
        dict(title="【至急】住民情報システムへの不正ログイン試行が多数検知された件（夜間バッチ停止の影響調査を含む）",
             threat_category="intentional", subcategory="unauthorized_access", network_segments=["mynumber"],
             impacts=["outage"]),
        dict(title="標的型メールの添付ファイルを開封した可能性", threat_category="intentional", subcategory="malware",
             network_segments=["internet"], impacts=["leak"], asset_classes={"confidentiality": "2"},
             description=LONG_DESCRIPTION),
        dict(title="委託先からの個人情報を含む書類の誤送付（住民 120 名分）", threat_category="unintentional",
             subcategory="outsourcing_failure", personal_data={"involved": True, "persons": 120}),
        dict(title="庁舎停電によるサーバ停止", threat_category="infrastructure", subcategory="power_outage", impacts=["outage"]),
        dict(title="ウイルス対策ソフトの定義ファイル更新失敗", threat_category="unintentional", subcategory="program_defect"),
        dict(organization="saga", title="ホームページ改ざんの通報", threat_category="intentional", source="external",
             impacts=["tampering"], asset_classes={"importance": "II"}),
        dict(organization="saga", title="不審な電話による問い合わせ", threat_category="other", source="external"),
    ]
    incidents = [factory.incident(user, detected_at=detected - dt.timedelta(hours=5 * i), **row) for i, row in enumerate(rows)]
    return user, incidents[1]


@pytest.mark.parametrize("screen", ["list", "form", "incident"])
def test_screenshots_and_no_sideways_scroll_on_tablet(app, factory, new_page, artifacts, engine_name, screen):
    user, incident = _seed_for_screens(factory)
    path = {"list": "/incidents/", "form": "/incidents/new?organization=ageo", "incident": f"/incidents/{incident.id}"}[screen]
    page = new_page(viewport=LAPTOP)
    login(page, user.email, next_path="/incidents/new?organization=ageo")
    if screen == "form":  # show the form with a field error, as a user sees it after a mistake
        page.fill("#description", "件名を入れ忘れた例")
        page.get_by_role("button", name="登録", exact=True).click()
        expect(page.locator("#title + p.error")).to_be_visible()
    else:
        response = page.goto(path)
        assert response.status == 200, f"GET {path} answered {response.status}: {page.inner_text('body')[:300]}"

    page.screenshot(path=str(artifacts / f"{screen}-laptop-{engine_name}.png"), full_page=True)
    page.set_viewport_size(TABLET)
    page.wait_for_timeout(100)
    page.screenshot(path=str(artifacts / f"{screen}-tablet-{engine_name}.png"), full_page=True)
    ok, scroll_width, client_width = no_horizontal_scroll(page)
    assert ok, f"{path} scrolls sideways at {TABLET['width']}px: scrollWidth {scroll_width} > clientWidth {client_width}"
