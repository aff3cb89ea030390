"""The package's imports run one way: every import (top level, inside functions, relative)
goes from a module to one in the same layer or a lower one, and no two subpackages import
each other. The layer order is written in CONTRIBUTING.md ("Where things live").
"""

from __future__ import annotations

import ast
from pathlib import Path

import workbench

ROOT = Path(workbench.__file__).parent

# Lowest first. A module belongs to the layer of its longest prefix listed here.
LAYERS: list[tuple[str, ...]] = [
    ("workbench", "workbench.errors", "workbench._io", "workbench.device"),
    ("workbench.data", "workbench.checkpoints", "workbench.info"),
    ("workbench.models",),
    ("workbench.metrics",),
    ("workbench.geo",),
    ("workbench.ingest",),
    ("workbench.inference",),
    ("workbench.training",),
    ("workbench.evaluation",),
    ("workbench.viz",),
    ("workbench.checkpoints.build", "workbench.checkpoints.build_caffe256"),
    ("workbench.cli", "workbench.testing"),
]

# (file relative to workbench/, imported module, reason). Must only shrink.
ALLOWED: set[tuple[str, str]] = set()


def _layer_of(module: str) -> tuple[int, str]:
    best: tuple[int, str] | None = None
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (
                best is None or len(name) > len(best[1])
            ):
                best = (i, name)
    assert best is not None, f"{module} is in no layer of tests/test_layers.py"
    return best


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """All ``workbench`` modules imported anywhere in ``path`` as (line, module)."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not node.module:  # from . import x: x may be a module
                found += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, mod))
    return [(ln, m) for ln, m in found if m == "workbench" or m.startswith("workbench.")]


def _all_imports() -> list[tuple[str, int, str, str]]:
    rows = []
    for path in sorted(ROOT.rglob("*.py")):
        me = _module_name(path)
        for line, mod in _imports(path):
            rows.append((str(path.relative_to(ROOT)), line, me, mod))
    return rows


def _subpackage(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_imports_go_down_the_layers_only():
    rows = _all_imports()
    assert len(rows) > 300, f"only {len(rows)} imports found: is the walk broken?"
    bad = []
    for file, line, me, mod in rows:
        (mine, _), (theirs, _) = _layer_of(me), _layer_of(mod)
        if theirs > mine and (file, mod) not in ALLOWED:
            bad.append(f"{file}:{line} ({me}, layer {mine}) imports {mod} (layer {theirs})")
    assert not bad, "imports from a higher layer:\n" + "\n".join(bad)


def test_no_cycles_between_subpackages():
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for file, line, me, mod in _all_imports():
        a, b = _layer_of(me)[1], _layer_of(mod)[1]
        if a != b and (file, mod) not in ALLOWED:
            edges.setdefault(a, set()).add(b)
            where.setdefault((a, b), f"{file}:{line}")
    cycles = []
    for a, targets in edges.items():
        for b in targets:
            if a in edges.get(b, set()) and a < b:
                cycles.append(f"{a} <-> {b}: {where[(a, b)]} and {where[(b, a)]}")
    assert not cycles, "subpackages that import each other:\n" + "\n".join(cycles)


def test_layer_of_relative_imports():
    """The walk resolves ``from . import x`` and ``from .. import y`` (a check of the test)."""
    rows = {(f, m) for f, _, _, m in _all_imports()}
    assert ("evaluation/__init__.py", "workbench.metrics.calibration") in rows
    assert _layer_of("workbench.checkpoints.build")[0] > _layer_of("workbench.evaluation")[0]
