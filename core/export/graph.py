"""The fusion + head of a model as one ONNX graph, written with `torch.onnx.export(..., dynamo=True)`.

    inputs   per modality m (declared order): `m` (batch, len_m, D_m) float32, `m_lengths` (batch,) int64
    outputs  `outputs`  the head's raw outputs (what its records() turns into labels)
             `fused`    the fused vector (batch, out_dim)
             `probabilities` (multiclass: softmax; multilabel: P(present) per label) or
             `scores` (regression), where the head's task has such a readable form

Batch and every length axis are dynamic (a length axis up to the modality's `max_len`). Padding is
masked inside the graph from the lengths, exactly as in PyTorch; the graph computes over the padding
it is given (no trimming), which changes no output.

Why the dynamo exporter: on torch 2.14 the legacy TorchScript exporter (`dynamo=False`) fails on the
IMA layers (a layer norm whose normalised shape comes from a traced size is not a constant) and would
bake Python-int sizes of the sample batch into the graph silently; torch.export traces the lengths as
symbols with declared ranges, the fusion's input path skips its data-dependent checks while it traces
(`torch.compiler.is_exporting()`; runtime.py makes those checks instead), and the graph reproduces
PyTorch to ~1e-6 at every batch size and length.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ExportError, os_errors
from ..files import atomic_write_json, sha256_file
from .meta import META_NAME, ONNX_NAME, GraphInput, OnnxMeta

OPSET = 18
TOLERANCE = 1e-4
OPTIMIZE = True
# The readable output of a built-in head's task, from its raw outputs (the head's own predict() does
# the same in PyTorch). A head of another task exports `outputs` and `fused` only.
READABLE: dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = {
    "multiclass": ("probabilities", lambda out: torch.softmax(out, dim=-1)),
    "multilabel": ("probabilities", lambda out: torch.softmax(out, dim=-1)[..., 1]),
    "regression": ("scores", lambda out: out),
}


def input_names(model: Any) -> list[GraphInput]:
    """The graph's inputs, two per modality in the model's declared order."""
    return [
        GraphInput(
            modality=s.name, features=s.name, lengths=f"{s.name}_lengths", dim=s.dim, max_len=s.max_len
        )
        for s in model.config.modalities
    ]


def output_names(model: Any) -> list[str]:
    readable = READABLE.get(str(model.config.task))
    return ["outputs", "fused", *([readable[0]] if readable else [])]


class GraphModule(nn.Module):
    """fusion + head with flat tensor inputs (features, lengths per modality) and tuple outputs."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.fusion, self.head = model.fusion, model.head
        self.names = [s.name for s in model.config.modalities]
        readable = READABLE.get(str(model.config.task))
        self.readable = readable[1] if readable else None

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = {m: inputs[2 * k] for k, m in enumerate(self.names)}
        lengths = {m: inputs[2 * k + 1] for k, m in enumerate(self.names)}
        fused = self.fusion(feats, lengths)
        out = self.head(fused)
        return (out, fused) if self.readable is None else (out, fused, self.readable(out))


def sample_inputs(model: Any, batch: int = 2) -> tuple[torch.Tensor, ...]:
    """A small padded batch to trace with: lengths >= 2 (torch.export specialises sizes 0 and 1)."""
    g = torch.Generator().manual_seed(0)
    args: list[torch.Tensor] = []
    for s in model.config.modalities:
        length = min(3, s.max_len)
        args.append(torch.randn(batch, length, s.dim, generator=g))
        args.append(torch.full((batch,), length, dtype=torch.long))
    return tuple(args)


def dynamic_shapes(model: Any) -> tuple[Any, ...]:
    from torch.export import Dim

    batch = Dim("batch")
    shapes: list[Any] = []
    for s in model.config.modalities:
        length = Dim(f"len_{s.name.replace('-', '_')}", max=s.max_len) if s.max_len >= 3 else None
        shapes.append({0: batch, 1: length} if length is not None else {0: batch})
        shapes.append({0: batch})
    return tuple(shapes)


def why_not_exportable(model: Any) -> str | None:
    """One line saying why this model's fusion cannot go to ONNX, or None when nothing says so up
    front (a fusion plugin may declare `onnx_exportable = False` and `onnx_reason`; a model with
    dialogue context is not exported: the graph's inputs are one utterance's features only)."""
    from ..plugins import get_manager

    cfg = model.config
    if getattr(cfg, "context_on", False):
        return (
            f"a model with dialogue context ({cfg.context.describe()}) cannot be exported to ONNX: the graph "
            "takes one utterance's features, not its context turns; use it from PyTorch (sseft.load, sseft serve)"
        )

    name = fusion_name(model)
    pm = get_manager()
    try:
        plugin = pm.get("fusion", name) if name in pm.names("fusion") else None
    except Exception:  # an install without the fusion registry
        plugin = None
    if plugin is not None and getattr(plugin, "onnx_exportable", True) is False:
        return f"fusion {name!r} cannot be exported to ONNX: {getattr(plugin, 'onnx_reason', 'its plugin says so')}"
    return None


def fusion_name(model: Any) -> str:
    fusion_cfg = model.config.fusion
    return str(getattr(fusion_cfg, "name", None) or getattr(fusion_cfg, "kind", None) or "sseft")


def _innermost_line(e: BaseException) -> str:
    """The innermost cause's first line (the exporter wraps the error that says what failed)."""
    while e.__cause__ is not None:
        e = e.__cause__
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]


def quiet_export(module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, inputs: list[str],
                 outputs: list[str], shapes: tuple[Any, ...], opset: int = OPSET) -> None:  # fmt: skip
    """torch.onnx.export(dynamo=True) of `module` to `path` (one file), without its progress chatter;
    the exporter's exceptions propagate."""
    quiet = io.StringIO()
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs,
                              dynamic_shapes=shapes, opset_version=opset, dynamo=True, external_data=False,
                              optimize=OPTIMIZE)  # fmt: skip
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def write_graph(model: Any, path: Path, opset: int = OPSET) -> None:
    """Trace fusion + head (eval mode) and write the ONNX graph to `path` (one file, weights inside)."""
    reason = why_not_exportable(model)
    if reason:
        raise ExportError(reason)
    graph = GraphModule(model).eval()
    names = [n for gi in input_names(model) for n in (gi.features, gi.lengths)]
    try:  # one entry in the shapes: the *inputs tuple
        quiet_export(
            graph, sample_inputs(model), path, names, output_names(model), (dynamic_shapes(model),), opset
        )
    except Exception as e:  # the exporter's errors are pages long: the first line says what failed
        raise ExportError(
            f"fusion {fusion_name(model)!r} cannot be exported to ONNX: {_innermost_line(e)}"
        ) from None


def export_onnx(
    model: Any,
    directory: str | os.PathLike[str],
    *,
    source: str = "",
    encoders: bool = False,
    check_batches: int = 4,
    opset: int = OPSET,
) -> Path:
    """Write `model.onnx` + `sseft-onnx.json` into the new (or empty) `directory`, atomically.

    `check_batches` random padded batches are run through onnxruntime and PyTorch before anything is
    visible: a graph that differs by more than 1e-4 is an ExportError, not a folder. `encoders=True`
    also writes the encoders that can be exported (encoders.py) and names the parts that stay in
    PyTorch."""
    target = Path(directory).expanduser().absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError(f"{target}: already exists and is not empty; choose a new directory")
    was_training = model.training
    model.eval()
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        with os_errors(target, f"nothing was exported to {target}"):
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
        write_graph(model, tmp / ONNX_NAME, opset)
        meta = _meta(model, tmp / ONNX_NAME, opset, source)
        if check_batches:
            from .parity import max_abs_diff
            from .runtime import session

            diff = max_abs_diff(model, session(tmp / ONNX_NAME), n_batches=check_batches, seed=0)
            if not diff <= TOLERANCE:
                raise ExportError(
                    f"fusion {meta.fusion!r}: the ONNX graph differs from PyTorch by {diff:.3g} "
                    f"(> {TOLERANCE}) on random padded batches; it cannot be exported faithfully"
                )
        if encoders:
            from .encoders import export_encoders

            meta.encoder_graphs, meta.pytorch_parts = export_encoders(model, tmp)
        else:
            meta.pytorch_parts = [
                f"{s.name}: the encoder ({(s.fingerprint or {}).get('model') or 'features'}) runs in PyTorch"
                for s in model.config.modalities
            ]
        with os_errors(target, f"nothing was exported to {target}"):
            atomic_write_json(tmp / META_NAME, meta.model_dump(mode="json"), indent=2)
            if target.exists():
                target.rmdir()
            tmp.rename(target)
    finally:
        model.train(was_training)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _meta(model: Any, graph: Path, opset: int, source: str) -> OnnxMeta:
    from importlib import metadata

    packages = {}
    for dist in ("sseft", "torch", "onnx", "onnxruntime", "onnxscript"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[dist] = metadata.version(dist)
    cfg = model.config
    info = getattr(model, "artifact_info", None)
    return OnnxMeta(
        sha256=sha256_file(graph),
        opset=opset,
        exporter=f"torch.onnx.export(dynamo=True), torch {torch.__version__}",
        inputs=input_names(model),
        outputs=output_names(model),
        task=str(cfg.task),
        label_names=list(cfg.label_names),
        fusion=fusion_name(model),
        encoders={s.name: s.fingerprint for s in cfg.modalities},
        model=cfg.model_dump(mode="json"),
        source=source or (str(info.path) if info is not None else ""),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        packages=packages,
        plugins=dict(getattr(info, "plugins", None) or {}),
    )
