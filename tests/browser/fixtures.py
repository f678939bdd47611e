"""Browser fixtures (registered for the whole suite by tests/conftest.py): the `app` fixture's Flask app on a live server, driven by Debian's Chromium.

Never downloads a browser: Playwright launches /usr/bin/chromium (override with CHROMIUM_PATH).
Each test gets a fresh browser context (own cookies) with the Japanese locale, so the pages
are in Japanese as a Japanese user's browser would see them.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.config import REPO_ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--no-first-run"]
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 820, "height": 1180}
ARTIFACTS = REPO_ROOT / "test-artifacts"


class LiveServer:
    def __init__(self, app):
        # Port 0: the OS picks a free port, so parallel runs never collide.
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def live_server(app):
    """Serves the test's app (same database) on 127.0.0.1; stopped before `app` empties the tables."""
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_page(browser, live_server):
    """new_page(viewport=None, **context_options) -> a page in its own context (Japanese locale, live server)."""
    contexts = []

    def make(viewport: dict | None = None, locale: str = "ja-JP", **context_options):
        context = browser.new_context(base_url=live_server.url, locale=locale, viewport=viewport or LAPTOP,
                                      timezone_id="Asia/Tokyo", **context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
