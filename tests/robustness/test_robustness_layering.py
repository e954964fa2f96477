"""core/robustness/ imports no concrete plugin and not the registry (core's rule); the names and
media decoding live in sseft/api.py and plugins/modalities/raw_noise.py."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core" / "robustness"


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 2:  # from ...x: outside core
            names.add("." * node.level + (node.module or ""))
    return names


def test_core_robustness_imports_no_plugin_and_no_registry() -> None:
    files = sorted(CORE.glob("*.py"))
    assert len(files) > 5
    bad = {
        f.name: sorted(
            n for n in imported(f) if n == "sseft" or n.startswith(("sseft.plugins", "sseft.registry", "..."))
        )
        for f in files
    }
    assert not {k: v for k, v in bad.items() if v}, bad
