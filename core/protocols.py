"""The plugin contract, as Protocols (structural: plugins need not inherit anything).

Plugin objects are registered through the hooks in `hookspecs.py`. They must be cheap to import:
heavy work (loading torch models) happens in `build_extractor`, `build` and `items`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    import torch

TaskType = Literal["regression", "multiclass", "multilabel"]


@dataclass(frozen=True)
class TaskInfo:
    """What a dataset's labels are. regression: one float per item (or per label name);
    multiclass: one index into `label_names`; multilabel: a 0/1 vector over `label_names`."""

    type: TaskType
    label_names: tuple[str, ...]


@dataclass
class Item:
    """One utterance/clip of a dataset, before feature extraction.

    `inputs` maps a modality name to its raw input: a text string, a `Path` to a media file
    (wav/flac/mp4/avi/npy/safetensors), a `MediaSlice` (path + start/end seconds), or an array.
    `label` is a float (regression), an int (multiclass) or a list of 0/1 ints (multilabel).
    """

    id: str
    split: str
    label: Any
    inputs: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MediaSlice:
    """A time slice of a media file (IEMOCAP utterances inside a dialog video)."""

    path: Any
    start: float
    end: float


@runtime_checkable
class Extractor(Protocol):
    """A frozen encoder: raw inputs of one modality -> embedding sequences."""

    dim: int

    def fingerprint(self) -> dict[str, Any]:
        """Identity of this extractor: model id/path, revision or weights sha256, settings."""
        ...

    def __call__(self, raw: Sequence[Any]) -> list[torch.Tensor | Exception]:
        """One `(L_i, dim)` float32 tensor per raw input, or the exception that item raised
        (so one bad item never kills a batch)."""
        ...


@runtime_checkable
class ModalityPlugin(Protocol):
    name: str
    dim: int  # width with the default extractor config; the extractor's `dim` is authoritative
    provides_cls: bool
    max_len: int
    config_model: type[BaseModel]

    def build_extractor(self, config: BaseModel, device: str = "cpu") -> Extractor: ...


@runtime_checkable
class DatasetPlugin(Protocol):
    name: str
    config_model: type[BaseModel]

    def task(self, config: BaseModel) -> TaskInfo: ...

    def items(self, config: BaseModel) -> Iterator[Item]: ...


@runtime_checkable
class HeadModule(Protocol):
    """A built head (an nn.Module): owns its loss, predictions and metrics."""

    primary_metric: str
    greater_is_better: bool

    def forward(self, fused: torch.Tensor) -> torch.Tensor: ...

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor: ...

    def predict(self, outputs: torch.Tensor) -> dict[str, Any]: ...

    def metrics(self, outputs: Any, labels: Any) -> dict[str, Any]: ...


@runtime_checkable
class HeadPlugin(Protocol):
    name: str
    task: TaskType
    config_model: type[BaseModel]

    def build(self, in_dim: int, label_names: Sequence[str], config: BaseModel) -> HeadModule: ...
