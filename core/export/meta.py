"""The small JSON written beside an exported ONNX graph (`sseft-onnx.json`), and how it is checked.

    <dir>/model.onnx         fusion + head (graph.py)
    <dir>/sseft-onnx.json    format, the graph's sha256, its inputs and outputs, the label set, the
                             encoders' fingerprints and the model section of the artifact's config.json
                             (so the same extractors and the head's post-processing can be rebuilt)

No torch and no onnx here: `sseft models show`-style checks and the CLI stay light.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from ..config import StrictModel, format_validation_error
from ..errors import IntegrityError
from ..files import read_json, sha256_file

ONNX_NAME = "model.onnx"
META_NAME = "sseft-onnx.json"
FORMAT = "sseft-onnx"
FORMAT_VERSION = 1


class GraphInput(StrictModel):
    """One modality's two graph inputs: features (batch, length, dim) float32, lengths (batch,) int64."""

    modality: str
    features: str
    lengths: str
    dim: int = Field(gt=0)
    max_len: int = Field(gt=0)


class OnnxMeta(StrictModel):
    """What `sseft-onnx.json` holds (module docstring)."""

    format: Literal["sseft-onnx"] = "sseft-onnx"
    format_version: int = FORMAT_VERSION
    onnx_file: str = ONNX_NAME
    sha256: str = Field(min_length=64, max_length=64)
    opset: int
    exporter: str
    inputs: list[GraphInput]
    # "outputs" (the head's raw outputs, what its records() reads), "fused", and the task's readable
    # form where the head has one: "probabilities" (multiclass, multilabel) or "scores" (regression).
    outputs: list[str]
    task: str
    label_names: list[str]
    fusion: str
    encoders: dict[str, dict[str, Any] | None]
    # Encoders exported beside the fusion: {modality: {"file": ..., "sha256": ..., ...}}.
    encoder_graphs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Which parts of prediction stay in PyTorch (one line each), for the reader of the folder.
    pytorch_parts: list[str] = Field(default_factory=list)
    model: dict[str, Any]
    source: str = ""
    created: str = ""
    packages: dict[str, str] = Field(default_factory=dict)
    # The artifact's record of which package provided each plugin (for one-line "install X" errors).
    plugins: dict[str, str] = Field(default_factory=dict)


def is_onnx_export(path: str | os.PathLike[str]) -> bool:
    """True when `path` is a folder holding `sseft-onnx.json` (or is that file or its graph)."""
    p = Path(path).expanduser()
    if p.is_file():
        p = p.parent
    return (p / META_NAME).is_file()


def read_meta(path: str | os.PathLike[str], *, verify: bool = True) -> tuple[Path, OnnxMeta]:
    """(folder, meta) of an ONNX export; IntegrityError in one line for anything that is not one.

    `path` may be the folder, its `sseft-onnx.json` or its `.onnx` file. `verify` checks the graph's
    sha256 (a truncated or replaced graph is refused before onnxruntime reads it)."""
    p = Path(path).expanduser()
    folder = p.parent if p.is_file() else p
    meta_path = folder / META_NAME
    if not meta_path.is_file():
        what = "an .onnx file" if p.suffix == ".onnx" else ("a file" if p.is_file() else "a folder")
        if not p.exists():
            raise IntegrityError(
                f"{p}: no such file or folder; the ONNX runtime reads a folder written by "
                "`sseft models export REF DIR --format onnx`"
            )
        raise IntegrityError(
            f"{p}: {what} without {META_NAME} beside it, so not an sseft ONNX export; write one with "
            "`sseft models export REF DIR --format onnx`"
        )
    data = read_json(meta_path, "sseft ONNX metadata")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise IntegrityError(f'{meta_path}: not an sseft ONNX metadata file (no "format": "{FORMAT}")')
    if data.get("format_version") != FORMAT_VERSION:
        raise IntegrityError(
            f"{meta_path}: format_version {data.get('format_version')!r} is not supported "
            f"(this sseft reads {FORMAT_VERSION}); re-export the model"
        )
    try:
        meta = OnnxMeta.model_validate(data)
    except ValidationError as e:
        raise IntegrityError(format_validation_error(e, str(meta_path))) from None
    graph = folder / meta.onnx_file
    if Path(meta.onnx_file).name != meta.onnx_file:
        raise IntegrityError(f"{meta_path}: onnx_file must be a plain file name, got {meta.onnx_file!r}")
    if not graph.is_file():
        raise IntegrityError(f"{graph}: missing; the export is incomplete (re-export the model)")
    if verify and sha256_file(graph) != meta.sha256:
        raise IntegrityError(
            f"{graph}: sha256 does not match {META_NAME}; the graph is truncated, corrupt or was replaced "
            "(re-export the model)"
        )
    return folder, meta
