"""Packaging: one import name `sseft`; the built wheel holds the same layout and entry points as the
editable install, and every package folder of the source tree is in it."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"sseft": "sseft", "core": "sseft/core", "plugins": "sseft/plugins", "registry": "sseft/registry"}


def _source_packages() -> set[str]:
    """Every folder with an __init__.py under the design card's folders, as its installed path."""
    out = set()
    for src, dst in ROOTS.items():
        for init in (REPO / src).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / src)
            out.add(f"{dst}/{rel}".rstrip("/.") if str(rel) != "." else dst)
    return out


@pytest.mark.slow
def test_built_wheel_layout_and_entry_points(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    for d in (*ROOTS, "configs"):
        shutil.copytree(REPO / d, src / d, ignore=shutil.ignore_patterns("__pycache__"))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("sseft-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"sseft"}, f"wheel installs more than the sseft namespace: {top}"
    packages = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    assert _source_packages() <= packages, f"missing from the wheel: {_source_packages() - packages}"
    shipped = {f"sseft/configs/{p.name}" for p in (REPO / "configs").glob("*.yaml")}
    assert shipped and shipped <= set(names), f"configs missing from the wheel: {shipped - set(names)}"
    eps_txt = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    parser = configparser.ConfigParser()
    parser.read_string(zipfile.ZipFile(wheel).read(eps_txt).decode())
    assert parser["console_scripts"]["sseft"] == "sseft.cli.main:main"
    installed = {
        ep.name: ep.value
        for ep in metadata.entry_points(group="sseft")
        if ep.dist and ep.dist.metadata["Name"] == "sseft"
    }
    assert dict(parser["sseft"]) == installed


def test_editable_install_maps_the_folders_into_sseft() -> None:
    import sseft.core
    import sseft.plugins.heads
    import sseft.registry

    assert Path(sseft.core.__file__).parent == REPO / "core"
    assert Path(sseft.plugins.heads.__file__).parent == REPO / "plugins" / "heads"
    assert Path(sseft.registry.__file__).parent == REPO / "registry"
    # Nothing generic lands at the top level of site-packages (run outside the repo, whose root
    # is on sys.path when pytest runs from it).
    for generic in ("core", "plugins", "registry"):
        res = subprocess.run(
            [sys.executable, "-c", f"import {generic}"], cwd="/", capture_output=True, text=True
        )
        assert res.returncode != 0 and "ModuleNotFoundError" in res.stderr, generic


def test_every_entry_point_module_exists() -> None:
    import importlib.util

    for ep in metadata.entry_points(group="sseft"):
        if ep.dist and ep.dist.metadata["Name"] == "sseft":
            assert importlib.util.find_spec(ep.value) is not None, (
                f"entry point {ep.name} -> {ep.value} missing"
            )
