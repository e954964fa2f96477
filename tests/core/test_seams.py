"""The typed seams and the one-copy plumbing: the plugin Protocols name every member core probes,
prediction lives in core/inference (the model only forwards and holds no Predictor), the artifact's
metadata is a declared attribute, no module reads the feature store's private members, and the one
JSON converter (core/files.py to_plain) and lazy-export helper (core/lazy.py) behave as documented."""

from __future__ import annotations

import ast
import json
import math
import sys
import types
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sseft.core.files import atomic_write_json, to_plain
from sseft.core.lazy import lazy_exports
from sseft.core.plugins import contract
from sseft.core.protocols import DatasetPlugin, Extractor, ModalityPlugin

ROOT = Path(__file__).resolve().parents[2]
# Where core and the dataset plugins probe optional members of extractors and modality/dataset
# plugins, and the names those objects go by there.
PROBED_DIRS = ("core/extraction", "core/inference", "core/robustness", "plugins/datasets")
PROBED_NAMES = {"extractor", "ex", "plugin", "p"}


def _probes(path: Path) -> list[tuple[int, str]]:
    """(line, member) of every getattr(x, "member"...) / hasattr(x, "member") with x a probed name."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in PROBED_NAMES
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            out.append((node.lineno, node.args[1].value))
    return out


def test_every_probed_plugin_member_is_in_a_protocol() -> None:
    declared = {
        n for proto in (Extractor, ModalityPlugin, DatasetPlugin) for part in contract(proto) for n in part
    }
    found = [
        (f"{p.relative_to(ROOT)}:{line}", member)
        for d in PROBED_DIRS
        for p in sorted((ROOT / d).rglob("*.py"))
        for line, member in _probes(p)
    ]
    assert found, "the scan found no probes at all: it no longer looks where core probes"
    missing = [(where, m) for where, m in found if m not in declared]
    assert not missing, f"probed but not declared in core/protocols.py: {missing}"


def test_optional_protocol_members_are_optional() -> None:
    required, optional = contract(Extractor)
    assert {"dim", "fingerprint"} <= set(required)
    assert {"length_hint", "prepare", "frame_rate", "max_len"} <= set(optional)
    required, optional = contract(ModalityPlugin)
    assert "build_extractor" in required and {"input_kinds", "suffixes", "probe"} <= set(optional)


def _imports(path: Path, package: list[str]) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            names |= {base, *(f"{base}.{a.name}" for a in node.names)}
    return names


def test_inference_never_imports_the_model_module() -> None:
    """Prediction is owned by core/inference; core/model.py forwards to it, never the other way."""
    for p in sorted((ROOT / "core" / "inference").glob("*.py")):
        names = _imports(p, ["sseft", "core", "inference"])
        assert "sseft.core.model" not in names, f"{p.name} imports core/model.py"


def _tiny_model() -> torch.nn.Module:
    from sseft.core.model import ModelConfig, build_model
    from sseft.core.specs import ModalitySpec

    spec = {"dim": 8, "max_len": 16, "provides_cls": False, "fingerprint": {"source": "synthetic"}}
    cfg = ModelConfig(
        modalities=[ModalitySpec(name="a", **spec), ModalitySpec(name="b", **spec)],
        fusion={"n_self": 1, "heads": 2, "ffn_dim": 8},
        head={"name": "regression"},
        task="regression",
        label_names=["sentiment"],
    )
    return build_model(cfg).eval()


def test_the_model_forwards_prediction_and_keeps_no_predictor() -> None:
    from sseft.core.inference.predictor import Predictor, predictor_for

    m = _tiny_model()
    assert m.artifact_info is None  # built here: no artifact behind it
    feats = {"a": torch.randn(2, 5, 8), "b": torch.randn(2, 3, 8)}
    preds = m.predict_features({"features": feats})
    direct = predictor_for(m).predict_features({"features": feats})
    assert [p.score for p in preds] == pytest.approx([p.score for p in direct])
    assert isinstance(m.predictor(), Predictor)
    held = [k for k, v in vars(m).items() if isinstance(v, (Predictor, dict)) and k == "_predictors"]
    assert not held and not any(isinstance(v, Predictor) for v in vars(m).values())


def test_artifact_info_is_declared_on_the_model() -> None:
    from sseft.core.artifact_info import ArtifactInfo
    from sseft.core.model import SseftModel

    assert "artifact_info" in SseftModel.__annotations__
    assert SseftModel.artifact_info is None
    import sseft.registry.artifact as artifact

    assert artifact.ArtifactInfo is ArtifactInfo  # old import path keeps working


def test_no_module_reads_the_feature_stores_private_members() -> None:
    store_py = ROOT / "core" / "features" / "store.py"
    private = {
        n.attr
        for n in ast.walk(ast.parse(store_py.read_text(encoding="utf-8")))
        if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__")
        and isinstance(n.value, ast.Name) and n.value.id == "self"
    }  # fmt: skip
    assert {"_row", "_where"} <= private
    bad = []
    for d in ("core", "plugins", "registry", "sseft"):
        for p in sorted((ROOT / d).rglob("*.py")):
            if p == store_py:
                continue
            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
                if (
                    isinstance(n, ast.Attribute)
                    and n.attr in private
                    and isinstance(n.value, ast.Name)
                    and "store" in n.value.id
                ):
                    bad.append(f"{p.relative_to(ROOT)}:{n.lineno} {ast.unparse(n)}")
    assert not bad, bad


def test_no_guessing_of_a_stores_root() -> None:
    hits = [
        f"{p.relative_to(ROOT)}"
        for p in sorted((ROOT / "core").rglob("*.py"))
        if 'getattr(store, "root"' in p.read_text(encoding="utf-8")
        or "getattr(store, 'root'" in p.read_text(encoding="utf-8")
    ]
    assert not hits, hits


# -- the one JSON converter ---------------------------------------------------------------------------
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_to_plain_turns_every_non_finite_float_into_null(x: float) -> None:
    out = to_plain({"v": [x, (x,)], 1: torch.tensor([x], dtype=torch.float64)})
    expected = x if math.isfinite(x) else None
    assert out == {"v": [expected, [expected]], "1": [expected]}
    json.dumps(out, allow_nan=False)  # strict JSON


def test_to_plain_refuses_unknown_objects_unless_told_how() -> None:
    obj = object()
    with pytest.raises(TypeError, match="object"):
        to_plain({"x": obj})
    assert to_plain({"x": obj, "p": Path("a/b")}, unknown=str) == {"x": str(obj), "p": "a/b"}


def test_atomic_json_is_strict_and_leaves_no_temp(tmp_path: Path) -> None:
    path = atomic_write_json(tmp_path / "r.json", {"a": float("inf"), "b": [1.5, float("nan")]}, indent=2)
    assert path.read_text(encoding="utf-8") == '{\n  "a": null,\n  "b": [\n    1.5,\n    null\n  ]\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# -- the one lazy-export helper -----------------------------------------------------------------------
def test_lazy_exports_both_table_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = types.ModuleType("lazy_demo_pkg")
    pkg.__path__ = []  # a package
    pkg.__version__ = "1"
    mod = types.ModuleType("lazy_demo_pkg.impl")
    mod.one, mod.two, mod.three = 1, 2, 3
    monkeypatch.setitem(sys.modules, "lazy_demo_pkg", pkg)
    monkeypatch.setitem(sys.modules, "lazy_demo_pkg.impl", mod)
    get, dir_, all_ = lazy_exports(
        "lazy_demo_pkg", {"one": ".impl", ".impl": ("two", "three")}, eager=("VERSION",)
    )
    assert (get("one"), get("two"), get("three")) == (1, 2, 3)
    assert all_ == ["VERSION", "one", "three", "two"]
    assert "__version__" in dir_() and "one" in dir_()
    with pytest.raises(AttributeError, match="no attribute 'four'"):
        get("four")
