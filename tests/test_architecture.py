"""The house rules of DESIGN.md, checked on the source: imports point down the flow, no cycles (imports inside
functions included), data/ is the ground floor, Typer lives only in the command layer, files stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "chatrecipe"
# DESIGN.md: cli -> commands -> pipeline -> evaluate -> judge, synth, annotate, serve -> train, backends
# -> data, models, report, stats. A module may import its own layer and the layers below it.
LAYERS = [
    {"data"},
    {"stats", "progress", "models", "recipe", "report"},
    {"train", "backends"},
    {"judge", "synth", "annotate", "serve"},
    {"evaluate"},
    {"pipeline"},
    {"commands"},
    {"cli", "__main__"},
]
LAYER = {part: level for level, parts in enumerate(LAYERS) for part in parts}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("chatrecipe",) + path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module a dotted import name lands in (`chatrecipe.data.records.load_records` -> its module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    """Every chatrecipe module `module` imports, at any depth of its code (functions included)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            target = _resolve(name) if name.startswith("chatrecipe") else None
            if target and target != module:
                found.add(target)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _part(module: str) -> str:
    """The top-level part of chatrecipe a module belongs to (`chatrecipe.data.formats.oasst` -> `data`)."""
    return module.split(".")[1] if "." in module else module


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    return found


def test_every_part_has_a_layer():
    parts = {_part(m) for m in MODULES if m != "chatrecipe"}
    assert parts <= set(LAYER), f"parts without a layer in DESIGN.md's order: {sorted(parts - set(LAYER))}"


def test_no_import_cycles():
    assert _cycles() == []


def test_imports_point_down_the_flow():
    upward = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() for t in targets
                    if m != "chatrecipe" and t != "chatrecipe" and LAYER[_part(t)] > LAYER[_part(m)])
    assert upward == []


@pytest.mark.parametrize("part, allowed", [
    ("data", {"data"}),  # the ground floor
    ("report", {"data", "stats", "report"}),  # reads result files, imports no stage
    ("backends", {"data", "models", "backends"}),  # know nothing of judging or evaluation
    ("train", {"data", "models", "recipe", "train"}),  # neither judges nor evaluates
])
def test_floors_import_only_what_they_may(part, allowed):
    reached = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if _part(m) == part for t in targets
                     if _part(t) not in allowed)
    assert reached == []


def test_typer_only_in_the_command_layer():
    outside = sorted(m for m in MODULES if _part(m) not in ("commands", "cli")
                     and any(isinstance(n, (ast.Import, ast.ImportFrom))
                             and "typer" in ([a.name for a in n.names] if isinstance(n, ast.Import) else [n.module])
                             for n in ast.walk(ast.parse(MODULES[m].read_text(encoding="utf-8")))))
    assert outside == []


def test_no_module_over_the_size_limit():
    long = {m: n for m, path in MODULES.items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
