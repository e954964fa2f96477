"""Data plumbing for training: opening and checking a feature store against an experiment config,
and seeded epoch-wise batch sampling (optionally bucketed by length).

Everything that can be wrong with the data is checked before the first step from the store's
index alone (modalities, dims, splits, labels); NaN/Inf values can only be seen in the tensors,
and the store's dataset rejects them the first time an item holding them is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch.utils.data import Sampler

from ..batch import collate
from ..errors import ConfigError, DataError, FeatureStoreError
from ..specs import ModalitySpec
from .config import ExperimentConfig, ModalityChoice

if TYPE_CHECKING:
    from ..context import ContextConfig, ContextTable
    from ..features.store import FeatureStore


def open_store(root: str | Path) -> Any:
    """FeatureStore.open with a clear error when the directory is not a feature store."""
    from ..features import FeatureStore

    p = Path(root)
    if not p.exists():
        raise FeatureStoreError(
            f"{p}: feature store not found; run `sseft extract` first or set data.synthetic to generate one"
        )
    return FeatureStore.open(p)


def modality_choices(cfg: ExperimentConfig, store: FeatureStore | None) -> list[ModalityChoice]:
    """The config's modality list (default: every store modality, in the store's order; the store
    may be None when the config lists them)."""
    raw = cfg.modalities if cfg.modalities is not None else list(store.modalities) if store else []
    return [m if isinstance(m, ModalityChoice) else ModalityChoice(name=m) for m in raw]


def modality_specs(cfg: ExperimentConfig, store: FeatureStore, source: str = "config") -> list[ModalitySpec]:
    """ModalitySpecs for the model from the store's ModalityInfo, restricted to the config's list.

    Raises FeatureStoreError when a modality is missing from the store or its width disagrees
    with the width the config pins (`modalities: [{name: text, dim: 384}]`).
    """
    specs = []
    for choice in modality_choices(cfg, store):
        info = store.modalities.get(choice.name)
        if info is None:
            raise FeatureStoreError(
                f"{cfg.data.store}: the store has no modality {choice.name!r} (it has "
                f"{', '.join(store.modalities) or 'none'}); fix `modalities` in {source}"
            )
        if choice.dim is not None and choice.dim != info.dim:
            raise FeatureStoreError(
                f"{cfg.data.store}: modality {choice.name!r} has dim {info.dim} in the store but "
                f"{choice.dim} in {source}; re-extract the features or fix the config"
            )
        # The store's fields as they are (StoredFeatures), plus the experiment's choices.
        specs.append(
            info.spec(choice.name, prepend_cls=choice.prepend_cls, project=choice.project, heads=choice.heads)
        )
    return specs


def standardized(
    cfg: ExperimentConfig, store: FeatureStore, specs: list[ModalitySpec], train_ids: Sequence[str]
) -> list[ModalitySpec]:
    """`specs` with training statistics for the modalities that ask for `standardize`."""
    from ..fusion.standardize import with_statistics

    names = [c.name for c in modality_choices(cfg, store) if c.standardize]
    return with_statistics(specs, names, store, train_ids, cfg.data.train_split) if names else specs


def check_specs_match(expected: Sequence[ModalitySpec], store: FeatureStore, what: str) -> None:
    """Refuse a store whose modality dims/fingerprints differ from a trained model's (`what`)."""
    for spec in expected:
        info = store.modalities.get(spec.name)
        where = store.root
        if info is None:
            raise FeatureStoreError(
                f"{where}: no modality {spec.name!r}, which {what} needs (store has {', '.join(store.modalities)})"
            )
        if info.dim != spec.dim:
            raise FeatureStoreError(
                f"{where}: modality {spec.name!r} has dim {info.dim} but {what} expects {spec.dim}; "
                "use features extracted with the same encoder"
            )
        fp_store = dict(info.fingerprint) or None
        if spec.fingerprint and fp_store and fp_store != spec.fingerprint:
            raise FeatureStoreError(
                f"{where}: modality {spec.name!r} was extracted with {fp_store} but {what} was trained on "
                f"features from {spec.fingerprint}; re-extract with the model's encoder"
            )


def check_split(store: FeatureStore, split: str, field: str) -> None:
    if split not in store.splits:
        raise DataError(
            f"{store.root}: no split {split!r} (field {field}); the store has "
            f"{', '.join(store.splits) or 'no splits'}"
        )
    if not store.ids(split):
        raise DataError(f"{store.root}: split {split!r} is empty ({field})")


def store_task(store: FeatureStore, label_set: str | None) -> Any:
    """The TaskInfo of the label set training uses (None: the store's default set)."""
    if label_set is None:
        return store.task
    if not hasattr(store, "label_set"):
        raise ConfigError(f"{store.root}: this store holds one label set; remove data.labels")
    return store.label_set(label_set)


def split_labels(store: FeatureStore, split: str, label_set: str | None) -> list[Any]:
    """The split's labels of `label_set` (None: the store's default set)."""
    if label_set is None:
        return list(store.labels(split))
    try:
        return list(store.labels(split, label_set=label_set))
    except TypeError:  # a store without label sets
        raise DataError(
            f"{store.root}: label set {label_set!r} was asked for (the model was trained on it) but this "
            "store has one label set"
        ) from None


def item_labels(store: FeatureStore, ids: Sequence[str], label_set: str | None) -> list[Any]:
    """The labels of `ids` (from any split) in the chosen label set, from the index alone."""
    rows = {}
    for i in ids:
        if i not in store:
            raise DataError(f"{store.root}: item {i!r} is not in the store")
        rows[i] = store.locate(i)  # (split, row)
    tables = {sp: split_labels(store, sp, label_set) for sp in sorted({sp for sp, _ in rows.values()})}
    return [tables[sp][r] for sp, r in (rows[i] for i in ids)]


def resolve_split_ids(
    cfg: ExperimentConfig, store: FeatureStore, split_ids: Mapping[str, Sequence[str]] | None
) -> dict[str, list[str]]:
    """Item ids per role (train, valid, test): the store's splits named in the config, or
    `split_ids` (folds) in their place. A role is never empty and no item serves two roles."""
    if split_ids is None:
        named = {
            "train": ("data.train_split", cfg.data.train_split),
            "valid": ("data.valid_split", cfg.data.valid_split),
        }
        if cfg.data.test_split:
            named["test"] = ("data.test_split", cfg.data.test_split)
        for fld, split in named.values():
            check_split(store, split, fld)
        return {role: store.ids(split) for role, (_, split) in named.items()}
    unknown = sorted(set(split_ids) - {"train", "valid", "test"})
    if unknown or not {"train", "valid"} <= set(split_ids):
        raise DataError(
            f"split_ids: needs 'train' and 'valid' (and optionally 'test'), got {sorted(split_ids)}"
        )
    ids: dict[str, list[str]] = {
        role: [str(i) for i in split_ids[role]] for role in ("train", "valid", "test") if role in split_ids
    }
    seen: dict[str, str] = {}
    for role, items in ids.items():
        if not items:
            raise DataError(f"split_ids[{role!r}] is empty")
        for i in items:
            if i in seen:
                raise DataError(f"split_ids: item {i!r} is in both {seen[i]!r} and {role!r}")
            seen[i] = role
    return ids


def check_labels(head: Any, store: FeatureStore, split: str, label_set: str | None = None) -> None:
    """Run the head's own check over a split's labels (from the index: no tensor reads)."""
    check_label_values(
        head,
        split_labels(store, split, label_set),
        f"{store.root} split {split!r}",
    )


def check_label_values(head: Any, labels: list[Any], where: str) -> None:
    try:
        head.validate_labels(labels)  # plain JSON labels: the head decides what fits
    except DataError as e:
        raise DataError(f"{where}: {e}") from None
    except (TypeError, ValueError) as e:
        raise DataError(f"{where}: labels do not fit the {type(head).__name__} head: {e}") from None


class EpochSetter(Protocol):
    """A batch sampler whose order depends on the epoch (EpochBatchSampler, LengthBucketSampler)."""

    def set_epoch(self, epoch: int) -> None: ...


class EpochSampler:
    """Holds the epoch; the permutation of epoch e depends only on (seed, e).

    Every process computes the same permutation (Accelerate then shards the batches), and a resumed
    run recomputes exactly the order the interrupted one was using. Deliberately has no `generator`
    attribute so that Accelerate does not replace or re-seed it.
    """

    def __init__(self, n: int, seed: int, shuffle: bool) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def permutation(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.n))
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.permutation())

    def __len__(self) -> int:
        return self.n


class EpochBatchSampler(Sampler[list[int]]):
    """Consecutive batches of this epoch's permutation (see EpochSampler). For batches of similar
    lengths use the feature store's LengthBucketSampler, which is seeded the same way."""

    def __init__(self, n: int, batch_size: int, seed: int, shuffle: bool = True) -> None:
        self.sampler = EpochSampler(n, seed, shuffle)
        self.batch_size = batch_size
        self.drop_last = False

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        order = self.sampler.permutation()
        yield from (order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size))

    def __len__(self) -> int:
        return math.ceil(self.sampler.n / self.batch_size)


class ItemsDataset(torch.utils.data.Dataset):
    """The items `ids` of a store (from any of its splits), each with its position in `ids` and
    its label from the chosen label set. Backs every training/evaluation loader, so a fold's
    split_ids and the store's own splits go through the same code. With `context` (a model with
    dialogue context), `self.context` is the ContextTable of these items: each item's context comes
    from these items only, so it never crosses into another role of the experiment."""

    def __init__(
        self,
        store: FeatureStore,
        ids: Sequence[str],
        modalities: Sequence[str],
        label_set: str | None,
        context: ContextConfig | None = None,
    ) -> None:
        self.ids = list(ids)
        self.context: ContextTable | None = None
        if context is not None and context.enabled:
            from ..context import ContextTable

            pooled = [] if context.turns == "fused" else context.modalities or modalities
            self.context = ContextTable.from_store(store, self.ids, pooled, context)
        self.labels = item_labels(store, self.ids, label_set)
        self._where = [store.locate(i) for i in self.ids]  # (split, row)
        self._ds = {
            sp: store.dataset(sp, modalities=list(modalities)) for sp in sorted({sp for sp, _ in self._where})
        }
        lengths = {sp: ds.bucket_lengths() for sp, ds in self._ds.items()}
        self._lengths = [lengths[sp][r] for sp, r in self._where]

    def __len__(self) -> int:
        return len(self.ids)

    def bucket_lengths(self) -> list[int]:
        return list(self._lengths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        split, row = self._where[i]
        item = self._ds[split][row]
        return {**item, "label": self.labels[i], "index": i}


def collate_items(
    items: Sequence[dict[str, Any]],
    modalities: Sequence[str],
    head: Any = None,
    context: ContextTable | None = None,
) -> Any:
    """Pad a batch (core.batch.collate); labels become the tensor the head's loss takes
    (`head.collate_labels`), positions in the split become `batch.index`, and with a context table
    the items' context turns become `batch.context`."""
    batch = collate([{**it, "label": None} for it in items] if head is not None else items, modalities)
    if head is not None:
        batch.labels = head.collate_labels([it["label"] for it in items])
    batch.index = torch.tensor([int(it["index"]) for it in items], dtype=torch.long)
    if context is not None:
        batch.context = context.inputs(batch.index)
    return batch


def make_loader(
    store: FeatureStore,
    ids: Sequence[str] | str,
    modalities: Sequence[str],
    batch_size: int,
    *,
    head: Any = None,
    label_set: str | None = None,
    seed: int = 0,
    shuffle: bool = False,
    bucket: bool = False,
    num_workers: int = 0,
    context: ContextConfig | None = None,
) -> torch.utils.data.DataLoader:
    """A DataLoader over the items `ids` (or every item of the split named `ids`) whose batches
    are padded to their own longest item.

    The store's dataset refuses NaN/Inf features itself (naming the shard and the item). The batch
    sampler has `set_epoch`; the trainer calls it on `loader.batch_sampler` before each epoch; the
    order of epoch e depends only on (seed, e), so a resumed run replays it. `context` (a model's
    ContextConfig): every batch carries its items' dialogue context, built from these items only;
    with `context.turns: fused` the batches hold whole dialogues (core/context/batches.py; `bucket`
    is then unused).
    """
    from functools import partial

    from ..features.sampler import LengthBucketSampler

    ds = ItemsDataset(store, store.ids(ids) if isinstance(ids, str) else ids, modalities, label_set, context)
    sampler: Any
    if ds.context is not None and context is not None and context.turns == "fused":
        from ..context.batches import DialogueBatchSampler  # whole dialogues: turns' vectors in the batch

        sampler = DialogueBatchSampler(ds.context.groups(), batch_size, seed, shuffle=shuffle)
    elif bucket:
        sampler = LengthBucketSampler(ds.bucket_lengths(), batch_size, shuffle=shuffle, seed=seed)
    else:
        sampler = EpochBatchSampler(len(ds), batch_size, seed, shuffle=shuffle)
    return torch.utils.data.DataLoader(
        ds,
        batch_sampler=sampler,
        collate_fn=partial(collate_items, modalities=list(modalities), head=head, context=ds.context),
        num_workers=num_workers,
    )
