"""Walking an incident through the stages in a real browser: the required-task gate, ticking the
checklist, an officer's override with a reason, evidence with its SHA-256, a Markdown note.

Runs on each engine (`engine_name` from tests/conftest.py), like the other browser tests.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.browser.helpers import login

JST = ZoneInfo("Asia/Tokyo")
SCREEN = {"width": 1366, "height": 900}
# (stage label, how it is left): "tick" = complete every required task; "override" = force with a reason.
WALK = [("受付・評価", "tick"), ("連絡・報告", "tick"), ("証拠保全", "tick"), ("被害拡大の防止", "override")]
FINAL = "復旧"
REFUSAL = re.compile(r"必須タスクが (\d+) 件残っているため次の段階へ進めません")
OVERRIDE_REASON = "CISOの指示により、隔離完了の確認を待たずに復旧作業へ移る（確認は並行して行う）"
EVIDENCE = "プロキシログ 2026-11-21 09:00-10:00\n203.0.113.45 GET /payload/stage2.bin 200\n".encode()


# --- helpers -------------------------------------------------------------------------------



def submit(page: Page, button) -> None:
    """Clicks a button of a POST form and waits for the redirect back to the incident page."""
    with page.expect_navigation():
        button.click()


def current_step(page: Page):
    return page.locator("ol.stages li[aria-current=step]")


def open_required(page: Page):
    """The open required tasks in the current stage's checklist (the only <details> open on load)."""
    return page.locator("#tasks details.stage-tasks[open] ul.tasks > li:not(.done):has(span.badge.required)")


def forward_button(page: Page):
    return page.locator("form.stage-forward button[type=submit]")


def expect_refused(page: Page, stage: str) -> int:
    """次の段階へ with required tasks open: a Japanese refusal, the stage unchanged. Returns the count."""
    remaining = open_required(page).count()
    assert remaining > 0, f"{stage}: no open required task to be refused on"
    submit(page, forward_button(page))
    error = page.locator(".flash.error")
    expect(error).to_have_count(1)
    expect(error).to_contain_text(REFUSAL)
    match = REFUSAL.search(error.inner_text())
    assert match and int(match.group(1)) == remaining, f"{stage}: {error.inner_text()!r}, {remaining} open"
    expect(current_step(page)).to_contain_text(stage)
    expect(page.locator("dl.facts")).to_contain_text(stage)
    return remaining


def tick_required(page: Page, stage: str) -> list[str]:
    """Ticks every required task of the current stage through its check button; returns their titles."""
    expect(page.locator("#tasks details.stage-tasks[open] > summary.current")).to_contain_text(stage)
    titles = []
    while open_required(page).count():
        task = open_required(page).first
        title = task.locator(".task-title").inner_text()
        submit(page, task.get_by_role("button", name=f"完了にする: {title}"))
        expect(page.locator(".flash.success")).to_have_text("タスクを更新しました。")
        done = page.locator("#tasks li.done", has_text=title)
        expect(done.locator("button.check")).to_have_text("✔")
        titles.append(title)
    expect(page.locator("#tasks details.stage-tasks[open] > summary .badge.required")).to_have_count(0)
    return titles


def upload_evidence(page: Page) -> str:
    sha256 = hashlib.sha256(EVIDENCE).hexdigest()
    page.set_input_files("#evidence-file", {"name": "proxy-log.txt", "mimeType": "text/plain", "buffer": EVIDENCE})
    page.fill("#evidence-description", "プロキシサーバから CSIRT が取得（2026-11-21 10:30）")
    submit(page, page.get_by_role("button", name="保全する", exact=True))
    expect(page.locator(".flash.success")).to_have_text("証拠を保全しました。")
    item = page.locator("ul.evidence li", has_text="proxy-log.txt")
    expect(item.locator(".hash")).to_have_text(f"SHA-256 {sha256}")
    expect(item).to_contain_text(f"{len(EVIDENCE):,} bytes")
    expect(page.locator("#timeline li.ev-evidence_added")).to_contain_text(sha256[:12])
    return sha256


def add_note(page: Page) -> None:
    page.fill("#note-body", "**太字**で強調したメモ。\n\n- 検体は隔離済み\n- 送信元ドメインを遮断")
    submit(page, page.get_by_role("button", name="記録する", exact=True))
    expect(page.locator(".flash.success")).to_have_text("メモを追加しました。")
    note = page.locator("#timeline li.ev-note .markdown.note")
    expect(note.locator("strong")).to_have_text("太字")
    expect(note.locator("li")).to_have_count(2)
    expect(note).not_to_contain_text("**")


def override(page: Page, stage: str, to: str) -> None:
    form = page.locator("form.stage-forward")
    form.locator("details > summary", has_text="必須タスクが残っていても進める").click()
    form.get_by_label("強制移行する").check()
    form.locator("#override-reason").fill(OVERRIDE_REASON)
    submit(page, forward_button(page))
    expect(page.locator(".flash.success")).to_have_text("段階を変更しました。")
    entry = page.locator("#timeline li.ev-stage_overridden")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(f"段階: {stage} → {to}（理由: {OVERRIDE_REASON}）")


# --- the walk ----------------------------------------------------------------------------------

def test_walk_from_triage_to_recovery(app, factory, new_page, artifacts, engine_name):
    user = factory.user({"ageo": ["csirt", "chief_officer"]}, name="上尾 統括")
    page = new_page(viewport=SCREEN)
    login(page, user.email, "/incidents/new")
    expect(page.locator("h1")).to_have_text("インシデントの新規登録")

    detected = (dt.datetime.now(JST) - dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    page.select_option("#threat_category", "intentional")
    page.select_option("#subcategory", "malware")
    page.fill("#detected_at", detected.strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#source", "internal")
    page.check("input[name=network_segments][value=internet]")
    page.fill("#description", "企画課の端末で**不審な添付ファイル**を開封し、ウイルス対策ソフトが検知した。")
    page.fill("#title", "標的型メールの添付ファイル開封によるマルウェア感染の疑い")
    submit(page, page.get_by_role("button", name="登録", exact=True))
    expect(page.locator(".flash.success")).to_contain_text("を登録しました。")
    expect(current_step(page)).to_contain_text("受付・評価")
    expect(page.locator("ol.stages li[aria-current]")).to_have_count(1)

    stages = [label for label, _how in WALK] + [FINAL]
    seen = {"evidence": False, "note": False}
    for n, (stage, how) in enumerate(WALK):
        following = stages[n + 1]
        expect(current_step(page)).to_contain_text(stage)
        expect(forward_button(page)).to_have_text(f"次の段階へ: {following}")
        expect_refused(page, stage)
        if stage == "証拠保全":
            upload_evidence(page)
            seen["evidence"] = True
            add_note(page)
            seen["note"] = True
            expect(current_step(page)).to_contain_text(stage)  # neither moves the stage
        if how == "override":
            override(page, stage, following)
        else:
            ticked = tick_required(page, stage)
            assert ticked, f"{stage}: nothing ticked"
            submit(page, forward_button(page))
            expect(page.locator(".flash.success")).to_have_text("段階を変更しました。")
            expect(page.locator("#timeline li.ev-stage_changed").last).to_contain_text(f"段階: {stage} → {following}")
        expect(current_step(page)).to_contain_text(following)
        expect(page.locator("ol.stages li.done")).to_have_count(n + 1)
        expect(page.locator("dl.facts")).to_contain_text(following)

    assert seen == {"evidence": True, "note": True}
    expect(current_step(page)).to_contain_text(FINAL)
    expect(page.locator("ol.stages li[aria-current]")).to_have_count(1)
    expect(page.locator("#timeline li.ev-stage_changed")).to_have_count(3)
    expect(page.locator("#timeline li.ev-stage_overridden")).to_have_count(1)
    expect(page.locator("#timeline li.ev-note strong")).to_have_text("太字")
    expect(page.locator("#tasks details.stage-tasks[open] > summary.current")).to_contain_text(FINAL)

    page.goto(page.url.split("#")[0])  # the page as opened, not scrolled to an anchor
    page.screenshot(path=str(artifacts / f"stage-walk-{engine_name}.png"), full_page=True)
