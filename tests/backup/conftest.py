"""Fixtures of the backup tests: new empty databases, a frozen clock for `time_left`."""
from __future__ import annotations

import pytest

from tests.backup.support import FIXED_NOW, Databases


@pytest.fixture
def databases(tmp_path):
    made = Databases(tmp_path)
    yield made
    made.drop_all()


@pytest.fixture
def frozen_now(monkeypatch):
    """Deadlines answer `time_left` and `overdue` against now: the same now on both sides."""
    monkeypatch.setattr("app.deadlines.serializers.now_utc", lambda: FIXED_NOW)
    return FIXED_NOW
