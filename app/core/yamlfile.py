"""Reading the YAML files of playbooks/ and rosters: every way a file can be unreadable (missing,
not UTF-8, not YAML, or YAML whose values cannot be built, such as 2026-04-31) becomes one error
that names the file, for the loaders to pass on as their own."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(Exception):
    pass


def parse_yaml(text: str, name: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise YamlFileError(f"{name}: not valid YAML: {exc}") from exc
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        # PyYAML raises these while building a value: an impossible date, `!!int twelve` …
        raise YamlFileError(f"{name}: a value cannot be read: {exc}") from exc


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError(f"{path.name}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise YamlFileError(f"{path.name}: cannot read: {exc}") from exc
    return parse_yaml(text, path.name)
