"""Real ticker processes (`flask --app wsgi ticker`) on the test database, for test_processes.py.

Each process runs in its own session (process group), so a kill reaches it and anything it
started; `Tickers.close()` ends every process it started, whatever the test did.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.config import REPO_ROOT

FLASK = Path(sys.executable).with_name("flask")  # .venv/bin/flask when the tests run from the venv
TICK_SECONDS = 1


class Ticker:
    def __init__(self, popen: subprocess.Popen, log: Path):
        self.popen, self.log, self.killed = popen, log, False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def ready(self) -> bool:
        """`flask ticker` prints its banner right before the first tick."""
        return "ticker: every" in self.output()

    def kill9(self) -> None:
        self.killed = True
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


class Tickers:
    def __init__(self, tmp_path: Path, database_url: str, smtp_port: int):
        self.tmp = tmp_path
        self.env = os.environ | {
            "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"),
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "TICK_SECONDS": str(TICK_SECONDS),
            "SCHEDULER_ENABLED": "0", "SECRET_KEY": "ticker-processes-test-secret", "PYTHONUNBUFFERED": "1",
        }
        self.started: list[Ticker] = []

    def start(self, count: int = 1, wait: bool = True) -> list[Ticker]:
        new = []
        for _ in range(count):
            log = self.tmp / f"ticker-{len(self.started) + 1}.log"
            with log.open("wb") as out:
                popen = subprocess.Popen([str(FLASK), "--app", "wsgi", "ticker"], cwd=REPO_ROOT, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            ticker = Ticker(popen, log)
            self.started.append(ticker)
            new.append(ticker)
        if wait:
            self.wait_for(lambda: all(t.ready() for t in new), 30, "ticker processes to start")
        return new

    def check_alive(self) -> None:
        """A ticker that died without being killed by the test fails the test, with its output."""
        for ticker in self.started:
            if not ticker.killed and ticker.popen.poll() is not None:
                raise AssertionError(f"ticker {ticker.pid} exited with {ticker.popen.returncode}:\n{ticker.output()[-3000:]}")

    def wait_for(self, predicate, timeout: float, what: str, interval: float = 0.05) -> float:
        """Polls until predicate() is true; returns the seconds waited."""
        started = time.monotonic()
        while not predicate():
            self.check_alive()
            if time.monotonic() - started > timeout:
                logs = "\n".join(f"--- ticker {t.pid}\n{t.output()[-1500:]}" for t in self.started)
                raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")
            time.sleep(interval)
        return time.monotonic() - started

    def close(self) -> None:
        for ticker in self.started:
            if ticker.popen.poll() is None:
                try:
                    os.killpg(ticker.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for ticker in self.started:
            try:
                ticker.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(ticker.popen.pid, signal.SIGKILL)
                ticker.popen.wait(timeout=5)
