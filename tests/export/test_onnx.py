"""ONNX export of fusion + head: parity with PyTorch for every fusion plugin (100 random batches, mixed
lengths and padding), the sidecar JSON, the runtime's checks, and bad input (one line, nothing
half-written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from exportkit import EXPORTABLE, fusion_names, tiny_model

from sseft.core.errors import DataError, ExportError, IntegrityError
from sseft.core.export import export_onnx, load_onnx, max_abs_diff
from sseft.core.export.meta import META_NAME, ONNX_NAME
from sseft.core.export.runtime import session


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.slow
@pytest.mark.parametrize("fusion", fusion_names())
def test_every_fusion_exports_with_parity_or_says_why(fusion: str, tmp_path: Path) -> None:
    """onnxruntime == PyTorch within 1e-4 on 100 random batches (sizes 1-8, lengths 0-max_len, random
    values in the padding); a fusion that cannot export says why in one line and leaves nothing."""
    model = tiny_model(fusion)
    out = tmp_path / "onnx"
    try:
        export_onnx(model, out, check_batches=0)
    except ExportError as e:
        assert fusion not in EXPORTABLE, f"built-in fusion {fusion!r} no longer exports: {e}"
        assert "\n" not in str(e) and f"fusion {fusion!r}" in str(e)
        assert not out.exists() and not list(tmp_path.iterdir())
        return
    diff = max_abs_diff(model, session(out / ONNX_NAME), n_batches=100, seed=1)
    assert diff <= 1e-4, f"{fusion}: max |onnxruntime - torch| = {diff}"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return export_onnx(tiny_model("sseft"), tmp_path_factory.mktemp("x") / "onnx")


@pytest.mark.slow  # shares one export (~10 s on a quiet 2-core CPU)
def test_sidecar_names_inputs_outputs_labels_and_fingerprints(exported: Path) -> None:
    assert sorted(p.name for p in exported.iterdir()) == sorted([META_NAME, ONNX_NAME])
    meta = json.loads((exported / META_NAME).read_text())
    assert [i["features"] for i in meta["inputs"]] == ["text", "speech", "face"]
    assert [i["lengths"] for i in meta["inputs"]] == ["text_lengths", "speech_lengths", "face_lengths"]
    assert meta["outputs"] == ["outputs", "fused", "probabilities"]
    assert meta["label_names"] == ["neg", "neu", "pos"] and meta["fusion"] == "sseft"
    assert meta["encoders"]["text"] == {"modality": "text", "model": "tiny-text"}
    sess = session(exported / ONNX_NAME)
    shapes = {i.name: i.shape for i in sess.get_inputs()}
    assert isinstance(shapes["text"][0], str) and isinstance(shapes["text"][1], str)  # dynamic axes
    assert shapes["text"][2] == 16 and isinstance(shapes["text_lengths"][0], str)


@pytest.mark.slow  # shares one export (~10 s on a quiet 2-core CPU)
def test_onnx_model_predicts_the_same_records_as_torch(exported: Path) -> None:
    torch_model, onnx_model = tiny_model("sseft"), load_onnx(exported)
    g = torch.Generator().manual_seed(3)
    items = [
        {"id": f"i{k}", "features": {"text": torch.randn(n, 16, generator=g), "speech": torch.randn(n + 2, 8, generator=g),
                                     "face": torch.randn(max(n - 1, 0), 6, generator=g)}}
        for k, n in enumerate([1, 5, 8, 3])
    ]  # fmt: skip
    want = torch_model.predict_features(items, allow_missing=True)
    got = onnx_model.predict_features(items, allow_missing=True)
    assert [p.label for p in got] == [p.label for p in want]
    for a, b in zip(got, want, strict=True):
        for k, v in b.probabilities.items():
            assert abs(a.probabilities[k] - v) < 1e-5


@pytest.mark.slow  # shares one export (~10 s on a quiet 2-core CPU)
def test_runtime_checks_what_the_graph_cannot(exported: Path) -> None:
    m = load_onnx(exported)
    feats = {"text": torch.randn(2, 4, 16), "speech": torch.randn(2, 3, 8), "face": torch.randn(2, 2, 6)}
    lengths = {"text": torch.tensor([4, 1]), "speech": torch.tensor([3, 5]), "face": torch.tensor([2, 0])}
    with pytest.raises(DataError, match=r"onnx input 'speech': lengths must lie in \[0, 3\]"):
        m(feats, lengths)
    with pytest.raises(DataError, match=r"onnx input 'face': expected \(batch, length, 6\)"):
        m({**feats, "face": torch.randn(2, 2, 7)}, {**lengths, "speech": torch.tensor([3, 3])})
    empty = m(feats, {**lengths, "speech": torch.tensor([3, 3]), "face": torch.tensor([0, 0])})
    assert empty.shape == (2, 3) and torch.isfinite(empty).all()


@pytest.mark.slow  # shares one export (~10 s on a quiet 2-core CPU)
def test_not_an_export_and_tampered_graphs_are_one_line(exported: Path, tmp_path: Path) -> None:
    stray = tmp_path / "other.onnx"
    stray.write_bytes((exported / ONNX_NAME).read_bytes())
    cases = {stray: "without sseft-onnx.json beside it", tmp_path / "missing": "no such file or folder"}
    for path, msg in cases.items():
        with pytest.raises(IntegrityError, match=msg) as e:
            load_onnx(path)
        assert "\n" not in str(e.value)
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / META_NAME).write_bytes((exported / META_NAME).read_bytes())
    (cut / ONNX_NAME).write_bytes((exported / ONNX_NAME).read_bytes()[:-100])
    with pytest.raises(IntegrityError, match="sha256 does not match sseft-onnx.json"):
        load_onnx(cut)
    (cut / META_NAME).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(IntegrityError, match="not an sseft ONNX metadata file"):
        load_onnx(cut)
    (cut / META_NAME).write_text("{broken")
    with pytest.raises(Exception, match=META_NAME) as e:
        load_onnx(cut)
    assert "\n" not in str(e.value)


def test_a_failed_export_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sseft.core.export.graph as graph

    model = tiny_model("concat-pool")
    target = tmp_path / "out"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ExportError, match="already exists and is not empty"):
        export_onnx(model, tmp_path / "full")

    def broken(_out: torch.Tensor) -> torch.Tensor:
        return torch.softmax(_out, -1) + 1e-3  # a graph that disagrees with the head's own output

    monkeypatch.setitem(graph.READABLE, "multiclass", ("probabilities", broken))
    monkeypatch.setattr("sseft.core.export.parity.torch_outputs", _torch_outputs_without_offset)
    with pytest.raises(ExportError, match=r"differs from PyTorch by .* \(> 0.0001\)"):
        export_onnx(model, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def _torch_outputs_without_offset(model: object, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    """PyTorch outputs computed with the head's true softmax (the check must see the offset)."""
    from sseft.core.export.graph import input_names

    args = {gi.modality: (torch.from_numpy(feed[gi.features]), torch.from_numpy(feed[gi.lengths]))
            for gi in input_names(model)}  # fmt: skip
    with torch.inference_mode():
        fused = model.fusion({m: a[0] for m, a in args.items()}, {m: a[1] for m, a in args.items()})  # type: ignore[attr-defined]
        out = model.head(fused)  # type: ignore[attr-defined]
    return [out.numpy(), fused.numpy(), torch.softmax(out, -1).numpy()]
