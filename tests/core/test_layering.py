"""#14's rules for everything under core/: it imports no concrete plugin (sseft.plugins.*) and not
the registry (`import sseft`, sseft.registry), at module level or inside functions (plugins are
reached through core/plugins.py's manager, models are loaded by the caller); and no function in
core/ is longer than 80 lines (split into steps that read top to bottom)."""

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
