"""Models that leave Python: the fusion + head as one ONNX graph, and onnxruntime behind the
`Predictor` interface.

    from sseft.core.export import export_onnx, load_onnx
    export_onnx(sseft.load("meld-text"), "out/meld-text-onnx")      # model.onnx + sseft-onnx.json
    model = load_onnx("out/meld-text-onnx")                          # onnxruntime; same .predict()

Read in order: meta.py (the JSON beside the graph) -> graph.py (what is exported, how) ->
runtime.py (the graph behind the Predictor interface) -> parity.py (random padded batches,
onnxruntime against PyTorch) -> encoders.py (which encoders can follow the fusion into ONNX).
Needs the `export` extra (onnx, onnxruntime, onnxscript), imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .graph import export_onnx as export_onnx
    from .graph import why_not_exportable as why_not_exportable
    from .meta import META_NAME as META_NAME
    from .meta import ONNX_NAME as ONNX_NAME
    from .meta import OnnxMeta as OnnxMeta
    from .meta import is_onnx_export as is_onnx_export
    from .parity import max_abs_diff as max_abs_diff
    from .parity import random_batches as random_batches
    from .runtime import OnnxModel as OnnxModel
    from .runtime import load_onnx as load_onnx

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "export_onnx": ".graph",
        "why_not_exportable": ".graph",
        "META_NAME": ".meta",
        "ONNX_NAME": ".meta",
        "OnnxMeta": ".meta",
        "is_onnx_export": ".meta",
        "max_abs_diff": ".parity",
        "random_batches": ".parity",
        "OnnxModel": ".runtime",
        "load_onnx": ".runtime",
    },
)
