"""Reading the YAML files of playbooks/ and rosters, for every loader alike.

Every way a file can be unreadable (missing, not UTF-8, not YAML, or YAML whose values cannot be
built, such as 2026-04-31) and every way it can be invalid becomes one error in one format:
`<file>: <field path>: <problem>`, every problem of a file joined with "; ", one line per file, and
every problem reported, not only the first. A loader gathers what it finds in `Problems`, both the
files' validation and its own checks across files (an unknown parent, a duplicate code), and raises
them at the end as its own error type (a YamlFileError).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
TOP_LEVEL = "(top level)"


class YamlFileError(ValueError):
    """Files of playbooks/ (or a roster) that cannot be used; the message names every problem."""


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


def _validation_problems(exc: ValidationError, where: Callable[[tuple], str]) -> list[str]:
    return [f"{where(e['loc'])}: {e['msg']}" for e in exc.errors()]


class Problems:
    """What a loader found wrong, file by file, in the order found: `add` as it goes, then
    `raise_if_any` once at the end, so that one start-up names every mistake."""

    def __init__(self) -> None:
        self.by_file: dict[str, list[str]] = {}

    def add(self, file: str, problem: str) -> None:
        """`problem`: `<field path>: <what is wrong>` (or a sentence about the whole file)."""
        self.by_file.setdefault(file, []).append(problem)

    def __bool__(self) -> bool:
        return bool(self.by_file)

    def __str__(self) -> str:
        return "\n".join(f"{file}: {'; '.join(found)}" for file, found in self.by_file.items())

    def validate(self, model: type[M], data: Any, name: str, where: Callable[[tuple], str] = field_path) -> M | None:
        """`data` (read from the file `name`) as `model`, or None with every problem added."""
        if not isinstance(data, dict):
            self.add(name, f"{TOP_LEVEL}: expected a mapping")
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for problem in _validation_problems(exc, where):
                self.add(name, problem)
            return None

    def load(self, path: Path, model: type[M]) -> M | None:
        """The YAML file at `path` as `model`, or None with its problems added."""
        try:
            data = read_yaml(path)
        except YamlFileError as exc:
            self.add(path.name, str(exc).removeprefix(f"{path.name}: "))
            return None
        return self.validate(model, data, path.name)

    def raise_if_any(self, error: type[Exception] = YamlFileError) -> None:
        if self:
            raise error(str(self))


def validate_document(model: type[M], data: Any, name: str, error: type[Exception],
                      where: Callable[[tuple], str] = field_path) -> M:
    """`data` (read from the file `name`) as `model`, or `error` naming every problem. `where`
    names a field path (the roster adds the person's email to `people[1]`)."""
    found = Problems()
    document = found.validate(model, data, name, where)
    found.raise_if_any(error)
    return document


def load_document(path: Path, model: type[M], error: type[Exception] = YamlFileError) -> M:
    """The YAML file at `path` as `model`; any problem is `error` in the format above."""
    found = Problems()
    document = found.load(path, model)
    found.raise_if_any(error)
    return document
