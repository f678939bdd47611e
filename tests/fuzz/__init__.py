"""Fuzzing (issue 8, item 5): schemathesis on the OpenAPI document, hypothesis properties of the
loaders and rules, and the XSS corpus through every rendered text field."""
from __future__ import annotations


def say(request, line: str) -> None:
    """Writes a figure of the run (cases, vectors × fields) to the terminal, past pytest's capture."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    if capture is None:
        reporter.ensure_newline()
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        reporter.write_line(line)
