"""Shared steps of the browser tests."""
from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import Page

from tests.factories import PASSWORD


def login(page: Page, email: str, next_path: str) -> None:
    """Logs in through the form and lands on `next_path`."""
    page.goto(f"/login?next={quote(next_path)}")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="ログイン").click()
