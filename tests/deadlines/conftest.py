"""Fixtures for the deadline tests: the escalation tests' real SMTP server, and a way to change a
body's reporting options for one test (the profiles are shared by the whole session)."""
from __future__ import annotations

import pytest

from app.core.playbooks import playbooks
from tests.escalation.conftest import smtp_server  # noqa: F401 - a fixture


@pytest.fixture
def reporting_options(app):
    """set(code, **options): that body's profile with `reporting` changed, restored afterwards."""
    profiles = playbooks(app).profiles
    saved: dict = {}

    def set_options(code: str, **options):
        saved.setdefault(code, profiles[code])
        profile = profiles[code]
        profiles[code] = profile.model_copy(update={"reporting": profile.reporting.model_copy(update=options)})
        return profiles[code]

    yield set_options
    profiles.update(saved)
