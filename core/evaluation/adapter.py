"""The one seam between the evaluation protocols and the trainer.

Everything in core/evaluation trains through `train_run` and reads runs through the files a run
writes. The trainer is being extended (INTERFACES.md: `train(..., split_ids=..., on_epoch=...)`,
`test_predictions.jsonl`); this adapter uses each feature when the installed `train()` has it and
otherwise provides it here, so only this module follows the trainer's changes:

- `split_ids` (folds): without trainer support, a *split view* of the store is written into the run
  directory (an index.json holding the fold's train/valid/test tables, its shards a symlink to the
  original store's): the trainer then reads the fold's items and nothing else.
- `on_epoch` (sweep pruning): without trainer support, the callback is replayed over the finished
  run's per-epoch history (values reported, no early stop).
- `test_predictions.jsonl` with the raw head outputs per item (paired bootstrap): written here from
  the run's best weights when the trainer did not write it, or added to its rows.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from .io import PREDICTIONS, read_jsonl, write_json, write_jsonl

OnEpoch = Callable[[int, dict[str, Any]], bool]  # (epoch 1-based, valid metrics) -> True: stop


@dataclass
class RunRecord:
    """What the protocols need from one finished training run."""

    output_dir: Path
    best_epoch: int
    best_valid: dict[str, Any]
    test_metrics: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)


def _train_fn() -> Callable[..., Any]:
    from ..training.trainer import train

    return train


def _is_main() -> bool:
    from accelerate import PartialState

    return bool(PartialState().is_main_process)


def _barrier() -> None:
    from accelerate import PartialState

    PartialState().wait_for_everyone()


def prepare_store(cfg: Any) -> None:
    """Generate the configured store when it is generated data and absent (all processes call)."""
    from accelerate import PartialState

    from ..training.trainer import ensure_store

    ensure_store(cfg, PartialState())


def open_store(cfg: Any) -> Any:
    from ..training.data import open_store as open_

    return open_(cfg.data.store)


def train_run(
    cfg: Any,
    output_dir: Path,
    *,
    split_ids: dict[str, list[str]] | None = None,
    on_epoch: OnEpoch | None = None,
    progress: bool | None = None,
    plots: bool = True,
    resume: bool = False,
) -> RunRecord:
    """Train one run of `cfg` into `output_dir` (collective under `accelerate launch`); `resume`
    continues an interrupted one from its checkpoint. Makes sure the run has test predictions with
    outputs; returns its record."""
    train = _train_fn()
    params = inspect.signature(train).parameters
    kwargs: dict[str, Any] = {"progress": progress, "resume": resume}
    for name, value in (("export", False), ("plots", plots)):
        if name in params:
            kwargs[name] = value
    if split_ids is not None:
        if "split_ids" in params:
            kwargs["split_ids"] = split_ids
        else:
            cfg = view_config(cfg, output_dir, split_ids)
    if on_epoch is not None and "on_epoch" in params:
        kwargs["on_epoch"] = on_epoch
    res = train(cfg, output_dir, **kwargs)
    history = list(getattr(res, "history", []) or [])
    if on_epoch is not None and "on_epoch" not in params:
        for row in history:  # no early stop possible here: report what happened
            if on_epoch(int(row["epoch"]), dict(row.get("valid", {}))):
                break
    if _is_main():
        ensure_predictions(cfg, Path(res.output_dir))
    _barrier()
    return RunRecord(
        output_dir=Path(res.output_dir),
        best_epoch=int(res.best_epoch),
        best_valid=dict(res.best_valid or {}),
        test_metrics=dict(res.test_metrics) if res.test_metrics is not None else None,
        history=history,
    )


# -- split view (folds without trainer support) ------------------------------------------------------
def view_config(cfg: Any, output_dir: Path, split_ids: dict[str, list[str]]) -> Any:
    """`cfg` reading a split view of its store (written by the main process) with these splits."""
    # Beside the run directory, not in it: the trainer may clear its own directory first.
    out = Path(output_dir)
    view = out.parent / f"{out.name}.split-store"
    if _is_main():
        write_split_view(Path(cfg.data.store), split_ids, view)
    _barrier()
    update: dict[str, Any] = {"store": str(view), "train_split": "train", "valid_split": "valid",
                              "test_split": "test" if split_ids.get("test") else None}  # fmt: skip
    if "synthetic" in type(cfg.data).model_fields:
        update["synthetic"] = None
    if "generate" in type(cfg.data).model_fields:
        update["generate"] = None
    if "folds" in type(cfg.data).model_fields:
        update["folds"] = None
    return cfg.model_copy(update={"data": cfg.data.model_copy(update=update)})


def write_split_view(src: Path, split_ids: dict[str, list[str]], dst: Path) -> Path:
    """A store at `dst` whose splits are `split_ids` over the items (and shards) of the store `src`."""
    index = json.loads((src / "index.json").read_text(encoding="utf-8"))
    where: dict[str, tuple[str, int]] = {}
    for split, t in index["splits"].items():
        for r, i in enumerate(t["ids"]):
            where[i] = (split, r)
    splits: dict[str, Any] = {}
    for name, ids in split_ids.items():
        if not ids:
            continue
        missing = [i for i in ids if i not in where]
        if missing:
            raise DataError(f"{src}: item {missing[0]!r} of split {name!r} is not in the store")
        splits[name] = _select_rows(index["splits"], [where[i] for i in ids])
    view = {**index, "splits": splits, "source": index.get("source"), "view_of": str(src.resolve())}
    dst.mkdir(parents=True, exist_ok=True)
    link = dst / "shards"
    target = (src / "shards").resolve()
    if link.is_symlink() and Path(os.readlink(link)) != target:
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(target, target_is_directory=True)
    write_json(dst / "index.json", view)
    return dst


def _select_rows(tables: dict[str, Any], rows: list[tuple[str, int]]) -> dict[str, Any]:
    """One split table made of the given (split, row) entries: every per-item list is re-indexed,
    including dicts of per-item lists (lengths per modality, label sets)."""
    first = tables[rows[0][0]]
    out: dict[str, Any] = {}
    for key, val in first.items():
        n = len(first["ids"])
        if isinstance(val, list) and len(val) == n:
            out[key] = [tables[s][key][r] for s, r in rows]
        elif isinstance(val, dict) and all(isinstance(v, list) and len(v) == n for v in val.values()):
            out[key] = {k: [tables[s][key][k][r] for s, r in rows] for k in val}
        else:
            out[key] = val
    if "meta" not in first:
        out.pop("meta", None)
    return out


# -- test predictions --------------------------------------------------------------------------------
def ensure_predictions(cfg: Any, run_dir: Path) -> Path | None:
    """`run_dir/test_predictions.jsonl` with "id", the head's record, "truth" and "outputs" per test
    item; computed from the run's best weights where the trainer did not write (all of) it."""
    path = run_dir / PREDICTIONS
    if not cfg.data.test_split or not (run_dir / "test_metrics.json").is_file():
        return None
    have = read_jsonl(path) if path.is_file() else []
    if have and all("outputs" in r and "truth" in r for r in have):
        return path
    rows = compute_predictions(cfg, run_dir)
    if have:  # keep the trainer's records, add what is missing
        by_id = {r["id"]: r for r in rows}
        rows = [{**by_id.get(r["id"], {}), **r, "outputs": by_id[r["id"]]["outputs"]} for r in have]
    write_jsonl(path, rows)
    return path


def load_run_model(run_dir: Path) -> Any:
    """The run's SseftModel with its best weights (model_config.json + best/model.safetensors)."""
    from ..model import ModelConfig, build_model
    from ..training import checkpoint as ck

    mcfg = ModelConfig.model_validate_json((run_dir / "model_config.json").read_text(encoding="utf-8"))
    model = build_model(mcfg)
    model.load_state_dict(ck.load_weights(run_dir / "best" / "model.safetensors"))
    return model.eval()


def compute_predictions(cfg: Any, run_dir: Path) -> list[dict[str, Any]]:
    import torch

    from ..training.data import make_loader
    from ..training.data import open_store as open_

    model = load_run_model(run_dir)
    head = model.head
    store = open_(cfg.data.store)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    bs = cfg.train.eval_batch_size or cfg.train.batch_size
    loader = make_loader(store, cfg.data.test_split, model.modality_names, bs)
    rows: list[dict[str, Any]] = []
    with torch.no_grad():
        for batch in loader:
            feats = {m: x.to(device) for m, x in batch.features.items()}
            lens = {m: x.to(device) for m, x in batch.lengths.items()}
            out = model(feats, lens).float().cpu()
            recs = _records(head, out, batch.ids)
            truth = batch.labels.tolist() if batch.labels is not None else [None] * len(batch.ids)
            for rec, t, o in zip(recs, truth, out.tolist(), strict=True):
                rows.append({**rec, "truth": t, "outputs": o})
    return rows


def _records(head: Any, outputs: Any, ids: list[str]) -> list[dict[str, Any]]:
    if hasattr(head, "records"):
        return [dict(r) for r in head.records(outputs, ids)]
    pred = head.predict(outputs)  # {key: per-item list}
    return [{"id": i, **{k: v[n] for k, v in pred.items()}} for n, i in enumerate(ids)]
