"""Encoders that can follow the fusion into ONNX (`sseft models export REF DIR --format onnx --encoders`).

    text   a Hugging Face encoder (the offline MiniLM, RoBERTa ...), last hidden layer:
           encoder-text.onnx, inputs input_ids / attention_mask (batch, tokens), output hidden
           (batch, tokens, dim). The tokenizer stays in Python (the `tokenizers` library).
    face   the FER mini-Xception (`face.encoder=fer`): encoder-face.onnx, input faces (crops, 3, S, S)
           in [0, 1], output (crops, dim). Face detection (RetinaFace / MTCNN), frame decoding and
           cropping stay in PyTorch.

Everything else stays in PyTorch and the sidecar JSON says so, one line per modality: speech
encoders (wav2vec2 with its feature extractor, openSMILE eGeMAPS, which is C++ outside torch), FAb-Net,
a text encoder read at another layer than the last, and any encoder that cannot be rebuilt here.
`sseft predict --runtime onnx` still runs the PyTorch extractors (the same ones the model was trained
with); the encoder graphs are for deployments outside Python. Each is checked against PyTorch on a
sample input before it is written (max abs difference recorded in the JSON).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..files import sha256_file


class _HiddenStates(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # type: ignore[no-any-return]


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], names: list[str], dyn: tuple[Any, ...],
            path: Path) -> float:  # fmt: skip
    """Write `module` as ONNX at `path`; returns max |onnxruntime - torch| on `args`."""
    from .graph import quiet_export
    from .runtime import session

    module = module.eval()
    quiet_export(module, args, path, names, ["output"], dyn)
    with torch.inference_mode():
        want = module(*args).float().numpy()
    got = session(path).run(None, {n: a.numpy() for n, a in zip(names, args, strict=True)})[0]
    return float(np.abs(got - want).max())


def _text(extractor: Any, path: Path) -> dict[str, Any] | str:
    from torch.export import Dim

    if getattr(getattr(extractor, "cfg", None), "layer", -1) != -1:
        return "the encoder is read at an inner layer; it runs in PyTorch"
    model = getattr(extractor, "model", None)
    if not isinstance(model, nn.Module):
        return "not a Hugging Face encoder; it runs in PyTorch"
    enc = extractor.tokenizer(["a short sample text", "two"], padding=True, return_tensors="pt")
    args = (enc["input_ids"], enc["attention_mask"])
    b, t = Dim("batch"), Dim("tokens", max=int(extractor.max_len))
    diff = _export(
        _HiddenStates(model), args, ["input_ids", "attention_mask"], ({0: b, 1: t}, {0: b, 1: t}), path
    )
    return {"inputs": ["input_ids", "attention_mask"], "output": "hidden (batch, tokens, dim)", "max_abs_diff": diff,
            "python_parts": "tokenizer"}  # fmt: skip


def _face(extractor: Any, path: Path) -> dict[str, Any] | str:
    from torch.export import Dim

    enc = getattr(extractor, "encoder", None)
    if not isinstance(enc, nn.Module) or type(enc).__name__ != "FerEncoder":
        return "the face encoder is not FER (FAb-Net); it runs in PyTorch"
    crops = torch.rand(2, 3, 64, 64)
    diff = _export(enc, (crops,), ["faces"], ({0: Dim("crops")},), path)
    return {"inputs": ["faces (crops, 3, 64, 64) in [0, 1]"], "output": f"features (crops, {enc.dim})",
            "max_abs_diff": diff, "python_parts": "face detection, frame decoding, cropping"}  # fmt: skip


EXPORTERS = {"text": _text, "face": _face}


def export_encoders(model: Any, folder: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """({modality: graph record}, [one line per part that stays in PyTorch]) after writing the
    encoder graphs that can be written into `folder`."""
    from ..inference.inputs import build_extractor

    graphs: dict[str, dict[str, Any]] = {}
    stays: list[str] = []
    for spec in model.config.modalities:
        fp = spec.fingerprint or {}
        plugin, enc_name = fp.get("modality"), fp.get("model") or "features"
        exporter = EXPORTERS.get(str(plugin))
        if exporter is None:
            stays.append(
                f"{spec.name}: the encoder ({enc_name}) runs in PyTorch (no ONNX export offered for it)"
            )
            continue
        try:
            extractor = build_extractor(spec, (), "cpu", where="export")
            file = f"encoder-{spec.name}.onnx"
            res = exporter(extractor, folder / file)
        except Exception as e:  # noqa: BLE001 - an encoder that cannot go is a line, not a failed export
            first = next((ln for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
            res = f"not exported ({type(e).__name__}: {first.strip()[:160]}); it runs in PyTorch"
        if isinstance(res, str):
            (folder / f"encoder-{spec.name}.onnx").unlink(missing_ok=True)
            stays.append(f"{spec.name}: {enc_name}: {res}")
            continue
        graphs[spec.name] = {"file": file, "sha256": sha256_file(folder / file), "encoder": enc_name, **res}
        stays.append(f"{spec.name}: {res['python_parts']} run(s) in Python")
    return graphs, stays
