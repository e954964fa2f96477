"""An exported graph behind the interface `Predictor` uses, so that `sseft predict --runtime onnx`
runs the very same extractors, routing, cropping and head records as PyTorch prediction:

    model = load_onnx("out/meld-text-onnx")     # checks sseft-onnx.json and the graph's sha256
    model.predict(text="Oh my God!").label      # extractors in PyTorch, fusion + head in onnxruntime
    model(features, lengths)                    # (B, C) head outputs as a torch tensor

The head's post-processing (argmax, label names, records) is the head plugin's own Python code,
rebuilt from the recorded config; its weights are not needed (they are inside the graph).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..artifact_info import ArtifactInfo
from ..errors import DataError, ExportError, IntegrityError
from ..model import ArtifactModel
from .meta import OnnxMeta, read_meta


def session(path: str | os.PathLike[str], device: str = "cpu", threads: int | None = None) -> Any:
    """An onnxruntime InferenceSession of the graph at `path` (CUDA when `device` is cuda and the
    installed onnxruntime has it)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError(
            "onnxruntime is not installed: pip install 'sseft[export]' (onnx, onnxruntime, onnxscript)"
        ) from None
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    providers = ["CPUExecutionProvider"]
    if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... classes
        first = next((ln for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
        raise IntegrityError(f"{path}: onnxruntime cannot load this graph ({first.strip()[:200]})") from None


class OnnxModel(ArtifactModel):
    """An ONNX export with SseftModel's prediction methods (`predict`, `predict_features`, `predictor`:
    core/model.py ArtifactModel, which only calls self(...), self.head and self.config)."""

    training = False

    def __init__(self, folder: Path, meta: OnnxMeta, sess: Any) -> None:
        from ..model import ModelConfig
        from ..plugins import get_head

        self.meta, self.session = meta, sess
        self.config = ModelConfig.model_validate(meta.model)
        head_plugin = get_head(self.config.head.name)
        head_cfg = head_plugin.config_model.model_validate(self.config.head.config)
        fused = [o for o in sess.get_outputs() if o.name == "fused"]
        width = fused[0].shape[-1] if fused and isinstance(fused[0].shape[-1], int) else 1
        # Built for its Python post-processing (records, describe, CSV cells) only.
        self.head = head_plugin.build(width, self.config.label_names, head_cfg).eval()
        # name/version stay None: Predictor then names the model by its folder
        self.artifact_info = ArtifactInfo(
            path=folder.absolute(), format_version=meta.format_version, created=meta.created,
            packages=dict(meta.packages), plugins=dict(meta.plugins), label_names=list(self.config.label_names),
            task=str(self.config.task), source="onnx",
        )  # fmt: skip
        have = {i.name for i in sess.get_inputs()}
        wanted = [n for gi in meta.inputs for n in (gi.features, gi.lengths)]
        missing = [n for n in wanted if n not in have]
        if missing:
            raise IntegrityError(
                f"{folder}: the graph lacks the inputs {missing} that sseft-onnx.json names; re-export the model"
            )

    # -- what Predictor and users read -------------------------------------------------------------
    def parameters(self) -> Iterator[torch.Tensor]:
        """One empty CPU tensor: the device Predictor runs extractors on by default."""
        yield torch.zeros(0)

    def eval(self) -> OnnxModel:
        return self

    # -- the forward pass --------------------------------------------------------------------------
    def run(self, features: Mapping[str, Any], lengths: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """features[m] (B, L_m, D_m), lengths[m] (B,) -> every graph output by name (numpy).

        The checks PyTorch's fusion makes (the graph cannot): shapes, 0 <= length <= padded length
        <= max_len. A padded length of 0 is padded to 1 (a masked frame changes nothing)."""
        feeds: dict[str, np.ndarray] = {}
        batch = None
        for gi in self.meta.inputs:
            m = gi.modality
            if m not in features or m not in lengths:
                raise DataError(f"onnx input: modality {m!r} missing (the graph needs {self.modality_names})")
            x = _numpy(features[m], np.float32)
            n = _numpy(lengths[m], np.int64)
            if x.ndim != 3 or x.shape[-1] != gi.dim:
                raise DataError(
                    f"onnx input {m!r}: expected (batch, length, {gi.dim}) features, got {x.shape}"
                )
            if n.shape != (x.shape[0],):
                raise DataError(f"onnx input {m!r}: lengths must have shape ({x.shape[0]},), got {n.shape}")
            if batch is not None and x.shape[0] != batch:
                raise DataError(f"onnx input {m!r}: batch size {x.shape[0]} differs from {batch}")
            batch = x.shape[0]
            if n.size and (n.min() < 0 or n.max() > x.shape[1]):
                raise DataError(
                    f"onnx input {m!r}: lengths must lie in [0, {x.shape[1]}] (the padded length)"
                )
            if x.shape[1] > gi.max_len:
                if n.size and n.max() > gi.max_len:
                    raise DataError(
                        f"onnx input {m!r}: sequence of {int(n.max())} exceeds max_len {gi.max_len}; crop the features"
                    )
                x = x[:, : gi.max_len]
            if x.shape[1] == 0:
                x = np.zeros((x.shape[0], 1, gi.dim), dtype=np.float32)
            feeds[gi.features], feeds[gi.lengths] = np.ascontiguousarray(x), n
        names = [o.name for o in self.session.get_outputs()]
        return dict(zip(names, self.session.run(names, feeds), strict=True))

    def __call__(
        self,
        features: Mapping[str, Any],
        lengths: Mapping[str, Any],
        *,
        return_attention: bool = False,
    ) -> Any:
        """The head's outputs as a torch tensor, as SseftModel.forward returns them (the graph has no
        attention maps: `return_attention=True` gives an empty dict beside them)."""
        out = torch.from_numpy(self.run(features, lengths)["outputs"])
        return (out, {}) if return_attention else out


def _numpy(x: Any, dtype: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x).astype(dtype, copy=False)


def load_onnx(path: str | os.PathLike[str], device: str = "cpu", *, verify: bool = True) -> OnnxModel:
    """An ONNX export folder (or its graph or JSON) as an OnnxModel; one-line IntegrityError for
    anything that is not a complete, unmodified sseft export."""
    folder, meta = read_meta(path, verify=verify)
    return OnnxModel(folder, meta, session(folder / meta.onnx_file, device))
