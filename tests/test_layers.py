"""Dependencies run one way (issue 16): every import in app/, module-level or inside a function,
against the layer table of app/layers.py. A lower layer importing a higher one fails, and so does
a domain importing another of its own layer. There are no exceptions."""
from __future__ import annotations

import ast
from pathlib import Path

from app.config import REPO_ROOT
from app.layers import LAYERS, TOP_LAYER_MODULES

APP = REPO_ROOT / "app"
TOP = len(LAYERS) - 1  # the last row: the API, the pages and commands, the factory

def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def place(module: str) -> tuple[int, str]:
    """(layer, domain) of a module: its package's row of LAYERS, or the top for pages and commands."""
    leaf = module.rsplit(".", 1)[-1]
    if leaf in TOP_LAYER_MODULES or leaf.endswith("_views"):
        return TOP, module
    best: tuple[int, str] | None = None
    for number, domains in enumerate(LAYERS):
        for domain in domains:
            if (module == domain or (domain != "app" and module.startswith(domain + "."))) \
                    and (best is None or len(domain) > len(best[1])):
                best = (number, domain)
    assert best is not None, f"{module} is in no layer of app/layers.py"
    return best


def _runtime_nodes(tree: ast.AST):
    """Every node but those under `if TYPE_CHECKING:`: imports for annotations only run nothing
    (as import-linter's exclude_type_checking_imports)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports_of(path: Path, module: str) -> set[str]:
    """The app modules `path` imports (`from app.x import y` counts y when it is a module)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "app"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "app":
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = (REPO_ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() \
                    or (REPO_ROOT / Path(*candidate.split(".")) / "__init__.py").exists()
                found.add(candidate if is_module else base)
    return found


def breaks(source: str, target: str) -> bool:
    """An import upward, or into another domain of the same layer (pages and commands excepted)."""
    (layer, domain), (target_layer, target_domain) = place(source), place(target)
    return target_layer > layer or (target_layer == layer < TOP and target_domain != domain)


def violations() -> set[tuple[str, str]]:
    return {(module_name(path), target) for path in sorted(APP.rglob("*.py"))
            for target in imports_of(path, module_name(path)) if breaks(module_name(path), target)}


def test_every_module_has_a_layer():
    for path in APP.rglob("*.py"):
        place(module_name(path))


def test_imports_run_one_way():
    found = sorted(violations())
    assert not found, "imports against the layers of app/layers.py:\n" + "\n".join(f"{s} -> {t}" for s, t in found)


def test_the_check_sees_upward_and_sideways_imports(tmp_path):
    assert place("app.incidents.services") == (5, "app.incidents")
    assert place("app.intake.triage_views")[0] == place("app.incidents.views")[0] == place("app")[0] == TOP
    assert place("app.core.db") == (1, "app.core")
    assert breaks("app.incidents.services", "app.deadlines.services")  # upward
    assert breaks("app.escalation.steps", "app.deadlines.reminders")  # sideways, one layer
    assert breaks("app.notifications.delivery", "app.escalation.messages")  # the outbox knows no domain above it
    assert breaks("app.core.db", "app.incidents.views")  # into the pages
    assert not breaks("app.deadlines.services", "app.incidents.timeline")
    assert not breaks("app.incidents.views", "app.escalation.views")  # pages compose pages
    module = tmp_path / "app" / "incidents" / "example.py"
    module.parent.mkdir(parents=True)
    module.write_text("from typing import TYPE_CHECKING\nfrom app.core.db import db\nfrom . import timeline\n\n"
                      "if TYPE_CHECKING:\n    from app.records.models import PostIncidentRecord\n\n"
                      "def f():\n    from app.deadlines import services\n")
    assert imports_of(module, "app.incidents.example") == {"app.core.db", "app.incidents.timeline", "app.deadlines.services"}
