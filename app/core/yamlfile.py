"""Reading the YAML files of playbooks/ and rosters, for every loader alike.

Every way a file can be unreadable (missing, not UTF-8, not YAML, or YAML whose values cannot be
built, such as 2026-04-31) and every way it can be invalid becomes one error in one format:
`<file>: <field path>: <problem>`, every problem of the file joined with "; ", not only the first.
Each loader raises it as its own error type.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
TOP_LEVEL = "(top level)"


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


def read_text(path: Path) -> str:
    """The file as text; a byte-order mark (Excel saves CSV with one) is dropped."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlFileError(f"{path.name}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise YamlFileError(f"{path.name}: cannot read: {exc}") from exc


def read_yaml(path: Path) -> Any:
    return parse_yaml(read_text(path), path.name)


def field_path(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or TOP_LEVEL


def validate_document(model: type[M], data: Any, name: str, error: type[Exception],
                      where: Callable[[tuple], str] = field_path) -> M:
    """`data` (read from the file `name`) as `model`, or `error` naming every problem. `where`
    names a field path (the roster adds the person's email to `people[1]`)."""
    if not isinstance(data, dict):
        raise error(f"{name}: {TOP_LEVEL}: expected a mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{name}: {problems(exc, where)}") from exc


def problems(exc: ValidationError, where: Callable[[tuple], str] = field_path) -> str:
    return "; ".join(f"{where(e['loc'])}: {e['msg']}" for e in exc.errors())


def load_document(path: Path, model: type[M], error: type[Exception]) -> M:
    """The YAML file at `path` as `model`; any problem is `error` in the format above."""
    try:
        data = read_yaml(path)
    except YamlFileError as exc:
        raise error(str(exc)) from exc
    return validate_document(model, data, path.name, error)
