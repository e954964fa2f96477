"""The plugin contract, as Protocols (structural: plugins need not inherit anything).

Plugin objects are registered through the hooks in `hookspecs.py`. They must be cheap to import:
heavy work (loading torch models) happens in `build_extractor`, `build` and `items`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    from pathlib import Path

    import torch

    from .model import ModelConfig

# A task type is free-form: a head declares the one it solves, and a new head may bring a new one.
# The built-in heads solve "regression", "multiclass" and "multilabel".
TaskType = str

# The splits a dataset plugin knows by name, in the order listings show them (others follow, sorted).
SPLITS = ("train", "valid", "test")


def split_order(name: str) -> tuple[int, str]:
    """Sort key for split names: train, valid, test, then any other split by name."""
    return (SPLITS.index(name) if name in SPLITS else len(SPLITS), name)


@dataclass(frozen=True)
class TaskInfo:
    """What a dataset's labels are: a task type and the label names. Built-in types: regression
    (one float per item, or per label name); multiclass (one index into `label_names`);
    multilabel (a 0/1 vector over `label_names`). The store keeps labels as plain JSON; the head
    that trains on them checks them.

    A dataset whose items carry several label sets (MELD: emotion and sentiment) returns the
    default set's TaskInfo with `name` and every set in `label_sets` (see `TaskInfo.several`), and
    its items give every set's value in `Item.labels`.
    """

    type: TaskType
    label_names: tuple[str, ...]
    name: str | None = None  # this set's name when the dataset has several label sets
    label_sets: Mapping[str, TaskInfo] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def several(cls, default: str, sets: Mapping[str, TaskInfo]) -> TaskInfo:
        """The TaskInfo of a dataset with several label sets; `default` names the one `label` holds."""
        if default not in sets:
            raise ValueError(f"default label set {default!r} is not one of {list(sets)}")
        named = {n: cls(t.type, tuple(t.label_names), name=n) for n, t in sets.items()}
        d = named[default]
        return cls(d.type, d.label_names, name=default, label_sets=named)

    def sets(self) -> dict[str, TaskInfo]:
        """Every label set by name ({} for a dataset with a single, unnamed one)."""
        return dict(self.label_sets)


@dataclass
class Item:
    """One utterance/clip of a dataset, before feature extraction.

    `inputs` maps a modality name to its raw input: a text string, a `Path` to a media file
    (wav/flac/mp4/avi/npy/safetensors), a `MediaSlice` (path + start/end seconds), or an array.
    `label` is a plain JSON value for the task's head: a float (regression), an int (multiclass) or
    a list of 0/1 ints (multilabel). With several label sets (`TaskInfo.several`), `labels` maps
    every set's name to the item's value in it, and `label` is the default set's value (None: taken
    from `labels`).
    """

    id: str
    split: str
    label: Any
    inputs: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MediaSlice:
    """A time slice of a media file (IEMOCAP utterances inside a dialog video)."""

    path: Any
    start: float
    end: float


@dataclass(frozen=True)
class Precomputed:
    """Features of one modality that already exist (a generator's arrays, a CMU/MMSA pickle, a
    manifest's .npy): the extraction engine stores them as they are, no extractor runs.

    `features`: a (L, D) float array or tensor. `max_len`: the longest sequence the source can hold
    (a padded pickle's L, a generator's max_len; None: the longest one in the job). `identity`: what
    identifies these features beyond the modality name (generator version and settings, the source
    file's sha256); the engine writes it into the store's fingerprint of the modality.
    """

    features: Any
    max_len: int | None = None
    identity: Mapping[str, Any] | None = None


@dataclass
class Extracted:
    """One item's output of an extractor: its (L, dim) features and plain-JSON notes about it
    (truncation, chunking, frames without a face ...). The notes go into the item's meta in the
    store (`meta["extract"][modality]`) and are counted in the job's summary."""

    features: Any
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prepared:
    """One raw input after an extractor's optional `prepare` stage (decoded, resampled: CPU work,
    no model) with the notes that stage made. The extraction engine prepares the next batch in a
    background thread while the encoder runs on this one, then hands `Prepared` values to the
    extractor's `__call__`, which must accept them in place of raw inputs."""

    value: Any
    notes: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Extractor(Protocol):
    """A frozen encoder: raw inputs of one modality -> embedding sequences.

    Members with a value are optional: core reads them with that default when an extractor lacks
    them (`core/plugins.py` `contract` tells the two kinds apart)."""

    dim: int
    # The longest sequence it returns (None: its modality plugin's `max_len`).
    max_len: int | None = None
    # `length_hint(raw) -> number`: a cheap size guess of one raw input, so that extraction batches
    # items of similar length (core/extraction/batching.py); None: rows, characters, seconds or bytes.
    length_hint: Callable[[Any], float] | None = None
    # `prepare(raw) -> Prepared`: the model-free input stage, see `__call__`.
    prepare: Callable[[Any], Prepared] | None = None
    # Feature frames per second of a time-based modality (attention plots' time axis, raw robustness
    # levels); None: derived from the fingerprint's settings (`fps`, `sample_rate` / `hop`).
    frame_rate: float | None = None
    # Audio samples per feature frame of a waveform encoder (None: wav2vec2's 320).
    hop: int | None = None
    # A HuggingFace tokenizer for text encoders: attention plots label the tokens with it.
    tokenizer: Any = None
    # The validated extractor config (raw robustness reads its `fps` when `frame_rate` is absent).
    cfg: BaseModel | None = None

    def fingerprint(self) -> dict[str, Any]:
        """Identity of this extractor: model id/path, revision or weights sha256, settings."""
        ...

    def __call__(self, raw: Sequence[Any]) -> Sequence[Extracted | torch.Tensor | Exception]:
        """Per raw input: its `Extracted` (features + notes), a bare `(L_i, dim)` float32 tensor (no
        notes), or the exception that item raised (so one bad item never kills a batch).

        Optional: an extractor may also define `prepare(raw) -> Prepared`, its model-free input stage
        (decode, resample, ...; pure and thread-safe, raising for a bad input). The engine then
        overlaps it with the previous batch's forward pass and calls `__call__` with `Prepared`
        values; other callers (the Predictor) still pass raw inputs."""
        ...


@runtime_checkable
class ModalityPlugin(Protocol):
    """A modality: its defaults and how to build its extractor. Members with a value are optional
    (core and the dataset plugins read them with that default)."""

    name: str
    dim: int  # width with the default extractor config; the extractor's `dim` is authoritative
    provides_cls: bool
    max_len: int
    config_model: type[BaseModel]
    # The raw input kinds that feed it, best first (speech: ("audio", "video")); None: its name.
    input_kinds: tuple[str, ...] | None = None
    # The file suffixes its raw inputs come in (manifest columns of paths vs arrays); None: any path.
    suffixes: tuple[str, ...] | None = None
    # `probe(raw) -> note | None`: a quick check of one raw input for `sseft data check`, raising
    # DataError for a bad one; None: containers are opened, other files only size-checked.
    probe: Callable[[Any], str | None] | None = None

    def build_extractor(self, config: BaseModel, device: str = "cpu") -> Extractor: ...


@runtime_checkable
class DatasetPlugin(Protocol):
    """A dataset: its task and items. `check` is optional (default: a generic pass over the items,
    plugins/datasets/common.py `dataset_report`)."""

    name: str
    config_model: type[BaseModel]
    # `check(config) -> DataReport`: the plugin's own `sseft data check` report.
    check: Callable[[BaseModel], Any] | None = None

    def task(self, config: BaseModel) -> TaskInfo: ...

    def items(self, config: BaseModel) -> Iterator[Item]: ...


@runtime_checkable
class HeadModule(Protocol):
    """A built head (an nn.Module): owns everything task-shaped. Core only moves tensors and JSON:
    labels arrive as the store's plain JSON values, and the head turns them into tensors, losses,
    metrics, per-item prediction records, CSV cells, summaries and pictures.
    `sseft.core.head.HeadDefaults` gives task-agnostic defaults for all but forward/loss/predict/metrics.
    """

    task: TaskType
    label_names: Sequence[str]
    primary_metric: str
    greater_is_better: bool

    def forward(self, fused: torch.Tensor) -> Any:
        """fused (B, D) -> the head's outputs (a tensor whose first dim is B)."""
        ...

    def validate_labels(self, labels: Sequence[Any]) -> None:
        """Raise DataError naming the item (its position) and value when a label does not fit."""
        ...

    def collate_labels(self, labels: Sequence[Any]) -> torch.Tensor:
        """Plain JSON labels of a batch -> the tensor `loss` takes."""
        ...

    def loss(self, outputs: Any, labels: torch.Tensor) -> torch.Tensor: ...

    def predict(self, outputs: Any) -> dict[str, Any]:
        """Plain lists, one entry per item in every field."""
        ...

    def metrics(self, outputs: Any, labels: Any) -> dict[str, Any]:
        """Every metric over a whole split (outputs and collated labels of all its items)."""
        ...

    def score_resamples(
        self, outputs: Any, labels: Any, index: Any, names: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Optional (default in core/head.py: `metrics` once per resample). The paired bootstraps'
        metrics: the split's outputs and collated labels, `index` (R, n) item positions (a resample
        per row) -> {metric: (R,) float array} for `names` (None: every number `metrics` reports)."""
        ...

    def greater_is_better_for(self, metric: str) -> bool:
        """Optional (default in core/head.py: `greater_is_better` for the primary metric, else larger
        unless "loss"). Whether a larger value of `metric` is better (comparisons, robustness)."""
        ...

    def records(self, outputs: Any, ids: Sequence[str]) -> list[dict[str, Any]]:
        """One plain-JSON prediction record per item: {"id", "label", ...} (prediction files, compare)."""
        ...

    def csv_columns(self) -> list[str]:
        """The head's columns of a prediction CSV (core adds "id" before, modalities after)."""
        ...

    def csv_row(self, record: dict[str, Any]) -> dict[str, Any]:
        """One record -> the cells of `csv_columns()`."""
        ...

    def describe(self, record: dict[str, Any]) -> str:
        """One record as one short line for a person ('joy (p=0.61)')."""
        ...

    def table(self, record: dict[str, Any]) -> str:
        """One record as a small aligned table (per label)."""
        ...

    def report(self, outputs: Any, labels: Any, out_dir: Path) -> list[Path]:
        """Write the head's pictures of a split (confusion matrix, ...) under out_dir; their paths."""
        ...

    def summary(self, metrics: dict[str, Any]) -> str:
        """The metrics of a split as one line for the CLI."""
        ...


class PredictableModel(Protocol):
    """What core/inference needs of a model: core/model.py SseftModel, or another runtime of the same
    artifact (core/export/runtime.py). `artifact_info` is the loaded artifact's metadata (name,
    version, path, training, plugins), None for a model built in this process."""

    config: ModelConfig
    head: Any  # a HeadModule
    artifact_info: Any

    def __call__(self, features: Any, lengths: Any, *, return_attention: bool = False) -> Any: ...

    def parameters(self) -> Iterator[torch.Tensor]: ...

    def eval(self) -> Any: ...


@runtime_checkable
class ModelPlugin(Protocol):
    """A pretrained model artifact shipped by a plugin: its registry name and its directory
    (config.json + model.safetensors); listed beside the local registry's models."""

    name: str
    path: Any  # str | Path


@runtime_checkable
class HeadPlugin(Protocol):
    name: str
    task: TaskType  # the task type its built heads declare (free-form)
    config_model: type[BaseModel]

    def build(self, in_dim: int, label_names: Sequence[str], config: BaseModel) -> HeadModule: ...
