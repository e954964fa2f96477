"""`sseft evaluate`: metrics of a trained model on one split of a feature store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FeatureStoreError
from .data import check_labels, check_specs_match, check_split, make_loader, open_store, store_task
from .evaluate import evaluate_loader

if TYPE_CHECKING:
    from ..features.store import FeatureStore


def resolve_model_ref(ref: str) -> str | Path:
    """An existing directory is an artifact (a run directory means its <run>/model); anything
    else is a registry reference (for `sseft.load`, which the caller does: core imports no registry)."""
    p = Path(ref).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file() and (p / "model" / "config.json").is_file():
            return p / "model"
        return p
    return ref


def check_task_matches(model: Any, store: FeatureStore, label_set: str | None, what: str) -> None:
    """Refuse a store whose labels (type, names) are not the ones `model` was trained on."""
    task = store_task(store, label_set)
    names, want = list(task.label_names), list(model.config.label_names)
    if str(task.type) != str(model.config.task) or names != want:
        which = f"label set {label_set!r}" if label_set else "labels"
        raise FeatureStoreError(
            f"{store.root}: {which} are {task.type} {names} but {what} predicts {model.config.task} {want}; "
            "evaluate on a store extracted with the same labels (or pick its label set with --labels)"
        )


def evaluate_model(
    model: Any,
    store_root: str | Path,
    split: str = "test",
    batch_size: int = 64,
    label_set: str | None = None,
    name: str = "the model",
) -> dict[str, Any] | None:
    """Recompute a loaded model's metrics on `split`; None on processes other than the main one."""
    from .trainer import make_accelerator

    accelerator = make_accelerator()
    store = open_store(store_root)
    # Refuse features from another encoder/width, or other labels, before touching any tensor.
    check_specs_match(model.config.modalities, store, name)
    check_split(store, split, "--split")
    check_task_matches(model, store, label_set, name)
    check_labels(model.head, store, split, label_set)
    loader = make_loader(
        store, split, model.modality_names, batch_size, head=model.head, label_set=label_set,
        context=model.config.context,
    )  # fmt: skip
    prepared, loader = accelerator.prepare(model, loader)
    res = evaluate_loader(accelerator, prepared, model.head, loader)
    out = {**res.metrics, "split": split, "world_size": accelerator.num_processes}
    return out if accelerator.is_main_process else None
