"""The plugin system: entry-point discovery, broken plugins, clashes, restriction, unknown names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sseft.core.errors import PluginError, UnknownNameError
from sseft.core.plugins import PluginInfo, PluginManager, unknown_name_message
from tests.conftest import make_fake_distribution, run_cli

GOOD_MODALITY = """
from pydantic import BaseModel
from sseft.core.hookspecs import hookimpl

class Cfg(BaseModel):
    pass

class Toy:
    name = "{name}"
    dim = 8
    provides_cls = False
    max_len = 16
    config_model = Cfg
    def build_extractor(self, config, device="cpu"):
        raise NotImplementedError

TOY = Toy()

@hookimpl
def register_modalities(register):
    register(TOY)
"""


def _pythonpath(*roots: Path) -> dict[str, str]:
    parts = [str(r) for r in roots] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"PYTHONPATH": os.pathsep.join(parts)}


@pytest.fixture
def broken_plugin(tmp_path: Path) -> dict[str, str]:
    root = make_fake_distribution(
        tmp_path / "site",
        "sseft-broken",
        {"sseft_broken_plugin": "raise RuntimeError('this plugin is broken on purpose')\n"},
        {"broken": "sseft_broken_plugin"},
    )
    return _pythonpath(root)


def test_broken_plugin_is_listed_and_others_still_work(broken_plugin: dict[str, str]) -> None:
    res = run_cli("plugins", env=broken_plugin)
    assert res.returncode == 0, res.stderr
    assert "broken" in res.stdout and "sseft-broken" in res.stdout
    assert "RuntimeError: this plugin is broken on purpose" in res.stdout
    # another command keeps working, and the built-in plugins are still listed
    res_env = run_cli("env", "--json", env=broken_plugin)
    assert res_env.returncode == 0, res_env.stderr
    assert '"broken"' in res_env.stdout


def test_strict_mode_makes_a_broken_plugin_fatal(broken_plugin: dict[str, str]) -> None:
    res = run_cli("plugins", env={**broken_plugin, "SSEFT_STRICT_PLUGINS": "1"})
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr  # one line, no traceback
    assert "plugin 'broken' from package sseft-broken failed to load" in lines[0]
    assert "SSEFT_STRICT_PLUGINS" in lines[0]


def test_name_clash_between_two_packages_names_both(tmp_path: Path) -> None:
    a = make_fake_distribution(
        tmp_path / "a", "pkg-alpha", {"alpha_mod": GOOD_MODALITY.format(name="toy")}, {"alpha": "alpha_mod"}
    )
    b = make_fake_distribution(
        tmp_path / "b", "pkg-beta", {"beta_mod": GOOD_MODALITY.format(name="toy")}, {"beta": "beta_mod"}
    )
    res = run_cli("plugins", env=_pythonpath(a, b))
    assert res.returncode == 2
    assert "modality name 'toy' is registered twice" in res.stderr
    assert "pkg-alpha" in res.stderr and "pkg-beta" in res.stderr


def test_plugin_from_entry_point_registers_and_restriction_works(tmp_path: Path) -> None:
    a = make_fake_distribution(
        tmp_path / "a", "pkg-alpha", {"alpha_mod": GOOD_MODALITY.format(name="toy")}, {"alpha": "alpha_mod"}
    )
    res = run_cli("plugins", "--json", env=_pythonpath(a))
    assert res.returncode == 0, res.stderr
    assert '"toy"' in res.stdout and '"pkg-alpha"' in res.stdout
    only = run_cli("plugins", "--json", env={**_pythonpath(a), "SSEFT_PLUGINS": "alpha"})
    import json

    names = [p["name"] for p in json.loads(only.stdout)]
    assert names == ["alpha"]


class _Obj:
    def __init__(self, name: str) -> None:
        self.name = name
        self.path = "/nonexistent"


def _module(*objs: object) -> object:
    class M:
        @staticmethod
        def register_models(register):  # type: ignore[no-untyped-def]
            for o in objs:
                register(o)

    return M


def test_same_object_twice_is_a_noop_and_a_real_clash_is_an_error() -> None:
    pm = PluginManager(group="sseft-test-none")
    pm._loaded = True  # no entry points: plugins are added by hand
    shared = _Obj("shared-model")
    pm.add_plugin(_module(shared), PluginInfo("p1", "pkg1", "1", "m1"))
    pm.add_plugin(_module(shared), PluginInfo("p2", "pkg2", "1", "m2"))
    assert pm.names("model") == ["shared-model"]
    with pytest.raises(PluginError, match=r"pkg1.*pkg2"):
        pm.add_plugin(_module(_Obj("shared-model")), PluginInfo("p3", "pkg2", "1", "m3"))


def test_invalid_registration_is_recorded_as_that_plugins_error() -> None:
    pm = PluginManager(group="sseft-test-none")
    pm._loaded = True
    pm.add_plugin(_module(_Obj("Bad Name!")), PluginInfo("p1", "pkg1", "1", "m1"))
    assert pm.plugins["p1"].error is not None and "invalid" in pm.plugins["p1"].error
    assert pm.names("model") == []


def test_unknown_name_suggests_closest_matches() -> None:
    msg = unknown_name_message("head", "regresion", ["regression", "multiclass", "multilabel-binary"])
    assert "did you mean 'regression'" in msg and "sseft plugins" in msg
    pm = PluginManager(group="sseft-test-none")
    pm._loaded = True
    with pytest.raises(UnknownNameError, match="unknown dataset 'meldd'"):
        pm.get("dataset", "meldd")
    assert "sseft models list" in unknown_name_message("model", "x", [])


MISSPELLED = """
from sseft.core.hookspecs import hookimpl

@hookimpl
def register_modalites(register):
    pass
"""


def test_misspelled_hook_is_that_plugins_error_naming_it(tmp_path: Path) -> None:
    a = make_fake_distribution(tmp_path / "a", "pkg-typo", {"typo_mod": MISSPELLED}, {"typo": "typo_mod"})
    res = run_cli("plugins", env=_pythonpath(a))
    assert res.returncode == 0, res.stderr  # reported, not fatal: the other plugins still work
    assert "register_modalites" in res.stdout and "pkg-typo" in res.stdout
    assert "synthetic" in res.stdout
    strict = run_cli("plugins", env={**_pythonpath(a), "SSEFT_STRICT_PLUGINS": "1"})
    assert strict.returncode == 2 and "register_modalites" in strict.stderr


def test_required_attributes_come_from_the_protocols() -> None:
    from typing import Protocol

    from sseft.core.plugins import PROTOCOLS, contract

    class P(Protocol):
        name: str
        suffixes: tuple[str, ...] = ()

        def build(self) -> None: ...

    assert contract(P) == (["name", "build"], ["suffixes"])
    required, _ = contract(PROTOCOLS["modality"])
    assert {"name", "dim", "build_extractor", "config_model"} <= set(required)
    pm = PluginManager(group="sseft-test-none")
    pm._loaded = True

    class NoPath:
        name = "no-path"

    pm.add_plugin(_module(NoPath()), PluginInfo("p1", "pkg1", "1", "m1"))
    assert "lacks path" in (pm.plugins["p1"].error or "") and "ModelPlugin" in pm.plugins["p1"].error


def test_plugin_commands_are_registered_under_their_group() -> None:
    import click

    @click.command("hello")
    def hello() -> None:
        click.echo("hi")

    class M:
        @staticmethod
        def register_commands(register):  # type: ignore[no-untyped-def]
            register(hello, group="convert")

    pm = PluginManager(group="sseft-test-none")
    pm._loaded = True
    pm.add_plugin(M, PluginInfo("p1", "pkg1", "1", "m1"))
    assert pm.group_commands("convert") == {"hello": hello} and pm.group_commands(None) == {}
