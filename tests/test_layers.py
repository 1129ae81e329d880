"""The import rules of docs/architecture.md, read from the code: the floor imports no stage, each stage
imports only the floor (and itself), nothing shipped imports the test tooling, and there is no cycle.

Why a test: a layout only stays a layout if an arrow that breaks it fails the build; the rules are the
table at the top of docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("dagster_project", "sync")

# package prefix -> the first-party prefixes it may import (besides itself).
ALLOWED: dict[str, tuple[str, ...]] = {
    "dagster_project.core": (),
    "dagster_project.demo": ("dagster_project.core",),
    "dagster_project.ingest": ("dagster_project.core",),
    "dagster_project.ai": ("dagster_project.core",),
    "sync": ("dagster_project.core",),
}
FIRST_PARTY = ("dagster_project", "sync", "tests", "bench", "scripts")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, id(node) in top_level) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names]
            # `from pkg import module` imports the module; `from module import name` the module.
            found.extend((n if _is_module(n) else target, id(node) in top_level) for n in names)
    return [(name, level) for name, level in found if name.split(".")[0] in FIRST_PARTY]


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _shipped_modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in SHIPPED for p in sorted((ROOT / pkg).rglob("*.py"))}


def _rule(module: str) -> str | None:
    matches = [prefix for prefix in ALLOWED if module == prefix or module.startswith(prefix + ".")]
    return max(matches, key=len) if matches else None


@pytest.mark.parametrize("module", sorted(_shipped_modules()))
def test_each_layer_imports_only_what_it_may(module: str) -> None:
    path = _shipped_modules()[module]
    rule = _rule(module)
    wrong = []
    for name, _ in _imports(path, module):
        if name.split(".")[0] in ("tests", "bench", "scripts"):
            wrong.append(f"{name} (test, bench and demo scripts never ship)")
            continue
        if rule is None or name == rule or name.startswith(rule + "."):
            continue
        if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED[rule]):
            wrong.append(name)
    assert not wrong, f"{module} ({rule or 'top'}) imports {wrong}; see docs/architecture.md"


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    modules = _shipped_modules()
    for module, path in modules.items():
        for name, top in _imports(path, module):
            if top and name in modules and name != module:
                graph[module].add(name)
    # Depth-first search; a grey node met again closes a cycle.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(modules):
        if module not in state and (cycle := visit(module)):
            pytest.fail(" -> ".join(cycle))


def test_the_rules_see_a_breach(tmp_path: Path) -> None:
    """The checker itself: a floor module importing a stage is reported."""
    probe = ROOT / "dagster_project" / "core" / "warehouse.py"
    imports = _imports(probe, "dagster_project.core.warehouse")
    assert all(_rule(name) == "dagster_project.core" for name, _ in imports)
    fake = tmp_path / "x.py"
    fake.write_text("from sync import engine\nfrom ..ingest import load\n")
    names = [n for n, _ in _imports(fake, "dagster_project.core.x")]
    assert "sync.engine" in names and "dagster_project.ingest.load" in names

