"""Rules for everything under core/: it imports no concrete plugin (sseft.plugins.*) and not the
registry (`import sseft`, sseft.registry), at module level or inside functions (plugins are reached
through core/plugins.py's manager, models are loaded by the caller); no two core subpackages import
each other, directly or through others (the import graph between them has no cycle); and no
function in core/ is longer than 80 lines (split into steps that read top to bottom)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"
FORBIDDEN = ("sseft.plugins", "sseft.registry")
MAX_FUNCTION_LINES = 80


def _package(path: Path) -> list[str]:
    """`core/a/b.py` -> ["sseft", "core", "a"] (the package a relative import starts from)."""
    return ["sseft", "core", *path.relative_to(CORE).parent.parts]


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every module `path` (or `source`, as if it sat at `path`) imports, relative imports
    resolved to absolute names."""
    names: set[str] = set()
    text = source if source is not None else path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                pkg = _package(path)
                base = ".".join(
                    [*pkg[: len(pkg) - (node.level - 1)], *([node.module] if node.module else [])]
                )
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}  # `from sseft import registry`
    return names


def subpackage_graph(root: Path = CORE) -> dict[str, set[str]]:
    """core subpackage -> the other core subpackages its modules import (at module level or
    inside functions), from the source."""
    subs = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    graph: dict[str, set[str]] = {s: set() for s in subs}
    for f in sorted(root.rglob("*.py")):
        parts = f.relative_to(root).parts
        if len(parts) < 2 or parts[0] not in subs:
            continue
        for name in imported_modules(f):
            target = name.split(".")[2] if name.startswith("sseft.core.") else None
            if target in subs and target != parts[0]:
                graph[parts[0]].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _forbidden(name: str) -> bool:
    return (
        name == "sseft" or name.startswith(FORBIDDEN) or name in {"sseft.load", "sseft.publish", "sseft.save"}
    )


def test_core_imports_no_plugin_and_no_registry() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 40
    bad = {str(f.relative_to(CORE)): sorted(n for n in imported_modules(f) if _forbidden(n)) for f in files}
    assert not {k: v for k, v in bad.items() if v}, bad


def test_no_function_in_core_is_longer_than_80_lines() -> None:
    long = []
    for f in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{f.relative_to(CORE)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, long


def test_the_checker_sees_relative_and_absolute_imports() -> None:
    src = "from ...plugins.datasets import common\nfrom ... import registry\nimport sseft\nfrom ..features import x\n"
    names = imported_modules(CORE / "extraction" / "probe.py", src)  # as if in core/extraction/
    assert "sseft.core.features" in names and not _forbidden("sseft.core.features")
    assert sorted(n for n in names if _forbidden(n)) == [
        "sseft",
        "sseft.plugins.datasets",
        "sseft.plugins.datasets.common",
        "sseft.registry",
    ]


def test_no_import_cycle_between_core_subpackages() -> None:
    graph = subpackage_graph()
    assert {"training", "evaluation", "experiment"} <= set(graph)
    found = cycles(graph)
    assert not found, "core subpackages that import each other (directly or through others): " + "; ".join(
        " <-> ".join(c) for c in found
    )


def test_the_cycle_finder_sees_direct_and_indirect_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    # A function-level import counts as much as a module-level one.
    src = "def f():\n    from ..evaluation import compare\n"
    names = imported_modules(CORE / "training" / "x.py", src)
    assert "sseft.core.evaluation" in names
