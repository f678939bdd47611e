"""Hypothesis keeps its caches (example database, constants) outside the work tree."""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import configuration, settings

configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "csirt-hypothesis")
settings.register_profile("csirt", database=None, deadline=None)
settings.load_profile("csirt")
