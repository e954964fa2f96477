"""The fusion plugin contract (registered through `register_fusions`, core/hookspecs.py).

A fusion plugin is structural (nothing to inherit): a `name`, a pydantic `config_model`
(`extra="forbid"`) and `build(specs, config)`, which returns a `FusionModule` (core/fusion/base.py).
The module never sees raw features: the framework's one input path (standardise, project, mask)
runs first, then the module's `fuse(seqs, frames, need_weights)` returns one vector per item of
width `out_dim` (and, optionally, attention maps for the pictures).

What a fusion declares about itself (optional; the defaults stand in): how many modalities it
takes, and whether an item may lack a modality (a length-0 sequence). No torch at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    from ..specs import ModalitySpec


@runtime_checkable
class FusionPlugin(Protocol):
    """N modality sequences -> one fused vector per item. `build` returns a `FusionModule`."""

    name: str
    config_model: type[BaseModel]

    def build(self, specs: Sequence[ModalitySpec], config: Any) -> Any: ...

    # One line for `sseft plugins show` (the paper it implements, what it costs).
    description: str = ""
    min_modalities: int = 1
    max_modalities: int | None = None  # None: any number
    # True: an item whose sequence of some modality is empty gets a finite vector that ignores that
    # modality's padding; False: the framework refuses such a batch with a one-line DataError.
    handles_missing: bool = True
