"""The extraction loop: items -> frozen encoders -> feature store, batched, resumable, multi-process.

    summary = extract_items(items, task, {"text": ("text", {...})}, out="store/")

* Batches are fixed by the item list: items are ordered by length (core/extraction/batching.py, a pure
  function of the list), batch k = the k-th B of that order; with N processes batch k runs on rank
  k % N, which writes only its own shards (writer_id = rank). Same batches, same tensors, any N;
  at the end the main process merges every writer's shards into canonical ones (split, then item
  id, core/features/canonical.py), so the finished store is the same bytes for any N.
  Each batch pads only to its own longest item (text: the tokenizer pads to the longest text;
  speech windows of equal length run together, nothing padded; face crops have one size).
* Resumable: a batch whose items are all in the store is skipped; a batch with some stored items is
  recomputed whole (so its tensors do not depend on what was done before) and only the missing items
  are added. The writer drops half-written shards by itself.
* One bad item never stops the job: it is written to <store>/failures.jsonl with its id, modality
  and reason, and counted in the summary.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError, ExtractionError
from ..files import to_plain
from ..protocols import Item, Precomputed, TaskInfo
from .batch_run import PassThrough, run_batch
from .batching import PRECISIONS, STORE_DTYPES, autocast_encoders, duplicates, length_order, with_precision
from .distributed import PROGRESS_DIR, DistContext, Progress, dist_context, threads_per_process
from .prefetch import Prefetcher

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..protocols import Extractor, ModalityPlugin


@dataclass
class ExtractionSummary:
    """What a job did. `failed` counts items that are not in the store after this run."""

    total: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    processes: int = 1
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    store: str = ""

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, else the number of failed items (capped at 125 for the shell)."""
        return min(self.failed, 125)

    def line(self) -> str:
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        notes = "; ".join(
            f"{m}: " + ", ".join(f"{k} {v:g}" for k, v in s.items() if v)
            for m, s in self.stats.items()
            if any(s.values())
        )
        failed = (
            f"{self.failed} failed (see {Path(self.store) / 'failures.jsonl'})" if self.failed else "0 failed"
        )
        return (
            f"extracted {self.done} / skipped {self.skipped} (already stored) / {failed}; "
            f"{self.total} items, {self.processes} process(es), {self.seconds:.1f} s, {rate:.2f} items/s"
            + (f"; {notes}" if notes else "")
        )


def record_failure(
    root: Path, item_id: str, modality: str | None, reason: str, writer: str, split: str
) -> None:
    """One {"id", "modality", "reason", "split", "writer", "time"} line in <store>/failures.jsonl,
    appended under the store's lock (the same lock and file the store writer uses)."""
    from ..features.index import FAILURES_NAME, LOCK_NAME

    line = {
        "id": item_id,
        "modality": modality,
        "reason": " ".join(str(reason).split()),
        "split": split,
        "writer": writer,
        "time": time.time(),
    }
    from ..failures import append_failure  # lock + append + fsync; a rerun adds no duplicate line

    append_failure(root / FAILURES_NAME, line, lock=root / LOCK_NAME)


def _plain_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Item meta as plain JSON (core/files.py `to_plain`; other objects as their strings)."""
    plain: dict[str, Any] = to_plain(dict(meta), unknown=str)
    return plain


def precomputed_info(m: str, items: Sequence[Item]) -> tuple[PassThrough, Any]:
    """dim, max_len and fingerprint of precomputed modality `m`, from the job's items (every process
    sees every item, so all agree)."""
    from ..features import ModalityInfo

    given = [it.inputs[m] for it in items if isinstance(it.inputs.get(m), Precomputed)]
    if not given:
        raise ConfigError(
            f"modality {m!r} is marked precomputed but no item carries precomputed {m} features"
        )
    shape: tuple[int, ...] = tuple(getattr(given[0].features, "shape", ()))
    if len(shape) != 2 or int(shape[1]) < 1:
        raise DataError(f"precomputed {m} features have shape {tuple(shape)}; expected (length, dim)")
    declared = [p.max_len for p in given if p.max_len]
    max_len = max(declared) if declared else max(int(getattr(p.features, "shape", (1,))[0]) for p in given)
    fp = {"input": "precomputed", "key": m, **_plain_meta(given[0].identity or {})}
    info = ModalityInfo(dim=int(shape[1]), provides_cls=False, max_len=max(1, max_len), fingerprint=fp)
    return PassThrough(int(shape[1])), info


def modality_info(plugin: ModalityPlugin, extractor: Extractor, config: BaseModel) -> Any:
    """The store's ModalityInfo for one built extractor. Its dim is authoritative; the fingerprint
    is the extractor's own, with the modality plugin's name and the extractor config always written
    here, so that a trained model can rebuild exactly this extractor (nothing guesses it later)."""
    from ..features import ModalityInfo

    max_len = int(getattr(extractor, "max_len", None) or plugin.max_len)
    fp = _plain_meta(extractor.fingerprint())
    fp["modality"] = plugin.name
    fp.setdefault("config", config.model_dump(mode="json"))
    return ModalityInfo(
        dim=int(extractor.dim),
        provides_cls=bool(plugin.provides_cls),
        max_len=max_len,
        fingerprint=fp,
    )


def build_extractors(
    modalities: Mapping[str, Any], items: Sequence[Item], device: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per modality its extractor (built on this process's device) or a PassThrough for precomputed
    features (config None), and its store ModalityInfo. A model that cannot be built stops the job
    before any work."""
    from ..plugins import get_modality

    extractors: dict[str, Any] = {}
    infos: dict[str, Any] = {}
    for name, cfg in modalities.items():
        if cfg is None:
            extractors[name], infos[name] = precomputed_info(name, items)
            continue
        plugin = get_modality(name)
        config = cfg if not isinstance(cfg, Mapping) else plugin.config_model.model_validate(dict(cfg))
        extractors[name] = plugin.build_extractor(config, device=device)
        infos[name] = modality_info(plugin, extractors[name], config)
    return extractors, infos


def extract_items(
    items: Iterable[Item],
    task: TaskInfo,
    modalities: Mapping[str, Any],
    out: str | Path,
    *,
    batch_size: int = 8,
    shard_size: int = 256,
    device: str | None = None,
    threads: int | None = None,
    source: dict[str, Any] | None = None,
    progress: bool = True,
    ctx: DistContext | None = None,
    sort_by_length: bool = True,
    mixed_precision: str = "no",
    dtype: str = "float32",
    prefetch: bool = True,
) -> ExtractionSummary:
    """Extract `modalities` (name -> modality plugin config, a pydantic model or a dict; None: the
    items carry `Precomputed` features, stored as given) for `items` into the store at `out`. Runs
    as one process or as one of the processes an `accelerate launch` started; every process
    returns the same summary (of the whole job).

    `sort_by_length`: batch items of similar length together (core/extraction/batching.py), so each
    batch pads only to its own longest item. `mixed_precision` ("no", "bf16", "fp16"): autocast
    around the encoders' forward passes (recorded in each extracted modality's fingerprint).
    `dtype`: how the store keeps features ("float32", "float16", "bfloat16": half the disk;
    training reads them back as float32). `prefetch`: prepare (decode, resample) the next batch in a
    background thread while the encoders run (core/extraction/prefetch.py); same results."""
    import torch

    from ..features import FeatureStoreWriter

    if batch_size < 1:
        raise ExtractionError(f"batch_size must be >= 1, got {batch_size}")
    if mixed_precision not in PRECISIONS:
        raise ConfigError(f"mixed_precision must be one of {', '.join(PRECISIONS)}, got {mixed_precision!r}")
    if dtype not in STORE_DTYPES:
        raise ConfigError(f"store dtype must be one of {', '.join(STORE_DTYPES)}, got {dtype!r}")
    ctx = ctx or dist_context(device)
    torch.set_num_threads(threads_per_process(ctx.world, threads))
    root = Path(out)
    all_items = list(items)
    extractors, infos = build_extractors(modalities, all_items, ctx.device)
    infos = {m: with_precision(info, mixed_precision, dtype, m in modalities and modalities[m] is not None)
             for m, info in infos.items()}  # fmt: skip
    for ex in extractors.values():
        autocast_encoders(ex, ctx.device, mixed_precision)
    order = length_order(all_items, extractors) if sort_by_length else list(range(len(all_items)))
    token = ctx.broadcast(uuid.uuid4().hex)
    t0 = time.perf_counter()
    writer = FeatureStoreWriter(
        root, infos, task, shard_size=shard_size, writer_id=str(ctx.rank), source=source,
        merge_on_close=ctx.world == 1,
    )  # fmt: skip
    bar = Progress(len(all_items), ctx, root, token, enabled=progress)
    notes: dict[str, dict[str, float]] = {m: {} for m in extractors}
    try:
        with writer:
            _loop(_Job(all_items, order, batch_size, extractors, writer, ctx, bar, notes), prefetch)
    except BaseException:
        bar.close()
        raise
    return _finish(root, ctx, bar, notes, len(all_items), t0)


@dataclass
class _Job:
    """What every batch of one extraction job needs (see `_loop`)."""

    items: list[Item]
    order: Sequence[int]
    batch_size: int
    extractors: Mapping[str, Any]
    writer: Any
    ctx: DistContext
    bar: Progress
    notes: dict[str, dict[str, float]]
    dups: dict[int, int] = field(default_factory=dict)

    def batch(self, k: int) -> tuple[list[int], list[Item]]:
        idx = list(self.order[k : k + self.batch_size])
        return idx, [self.items[i] for i in idx]

    def needs_work(self, k: int) -> bool:
        """Something in batch `k` is neither stored already nor a duplicate."""
        idx, batch = self.batch(k)
        return any(
            i not in self.dups and not self.writer.has(it.id) for i, it in zip(idx, batch, strict=True)
        )


def _loop(job: _Job, prefetch: bool) -> None:
    """This process's batches (cut from `order`, the same on every process): skip stored items,
    record duplicates and failures, add the rest. With `prefetch`, the next batch that has work is
    prepared (decoded, resampled) in the background while this one runs (core/extraction/prefetch.py)."""
    job.dups = duplicates(job.items)  # every process sees every id, so all agree on duplicates
    world, rank = job.ctx.world, job.ctx.rank
    starts = [k for k in range(0, len(job.order), job.batch_size) if (k // job.batch_size) % world == rank]
    with Prefetcher(job.extractors, enabled=prefetch) as ahead:
        pending = [k for k in starts if job.needs_work(k)] if ahead.active else []
        if pending:
            ahead.submit(pending[0], job.batch(pending[0])[1])
        for k in starts:
            if pending and pending[0] == k:
                pending.pop(0)
            _one_batch(job, k, ahead, pending[0] if pending else None)


def _one_batch(job: _Job, k: int, ahead: Prefetcher, next_k: int | None) -> None:
    """Batch `k`: record duplicates, skip it when everything is stored, else run every modality on
    it (while the prefetcher prepares batch `next_k`) and store the results."""
    root, writer, writer_id = job.writer.root, job.writer, str(job.ctx.rank)
    idx, batch = job.batch(k)
    dup = {j: job.dups[i] for j, i in enumerate(idx) if i in job.dups}
    todo = [j for j, it in enumerate(batch) if j not in dup and not writer.has(it.id)]
    skipped = len(batch) - len(todo) - len(dup)
    for j, first in dup.items():
        reason = f"duplicate item id (first at item {first})"
        record_failure(root, batch[j].id, None, reason, writer_id, batch[j].split)
    if not todo:
        job.bar.report(skipped=skipped, failed=len(dup))
        return
    prepared = ahead.take(k, batch)
    if next_k is not None:
        ahead.submit(next_k, job.batch(next_k)[1])
    results = run_batch(
        job.extractors, batch, prepared
    )  # the whole batch: tensors independent of resume state
    done = failed = 0
    for j in todo:
        it, res = batch[j], results[j]
        if isinstance(res, tuple):
            where = str(it.meta.get("where") or "")  # the dataset's line/file for this item
            reason = res[1] if not where or where in res[1] else f"{res[1]} ({where})"
            record_failure(root, it.id, res[0], reason, writer_id, it.split)
            failed += 1
            continue
        for m, note in res["meta"].items():
            tally_notes(job.notes[m], note)
        meta = _plain_meta({**it.meta, **({"extract": res["meta"]} if res["meta"] else {})})
        if writer.add(it.id, it.split, res["features"], it.label, meta, labels=it.labels or None):
            done += 1
        else:
            failed += 1  # refused by the store (label, NaN): it wrote failures.jsonl itself
    job.bar.report(done=done, skipped=skipped, failed=failed + len(dup))


def tally_notes(totals: dict[str, float], note: Mapping[str, Any]) -> None:
    """Add one item's extraction notes to the job's totals: a number adds its value (`frames 5`,
    `no_face_frames 0`, `seconds 1.5`), a flag counts when true, anything else counts the item once."""
    for key, value in note.items():
        totals[key] = totals.get(key, 0) + (value if isinstance(value, int | float) else 1)


def _finish(
    root: Path, ctx: DistContext, bar: Progress, notes: dict[str, dict[str, float]], total: int, t0: float
) -> ExtractionSummary:
    """Gather every process's counts, merge the writers into the canonical store (main process; one
    process merged when its writer closed), the job's summary."""
    from ..features import merge_partial_indexes

    gathered = ctx.gather({**bar.counts, "stats": notes})
    bar.close(final=sum(g["done"] + g["skipped"] + g["failed"] for g in gathered))
    ctx.barrier()  # every process has closed its writer (flushed its shards and partial index)
    if ctx.world > 1 and ctx.is_main:
        merge_partial_indexes(root)
    ctx.barrier()  # nobody returns before the merged index exists
    if ctx.world > 1 and ctx.is_main:
        shutil.rmtree(root / PROGRESS_DIR, ignore_errors=True)  # live progress files of this run
    summary = ExtractionSummary(total=total, processes=ctx.world, store=str(root))
    for g in gathered:
        summary.done += g["done"]
        summary.skipped += g["skipped"]
        summary.failed += g["failed"]
        for m, s in g["stats"].items():
            tgt = summary.stats.setdefault(m, {})
            for key, v in s.items():
                tgt[key] = tgt.get(key, 0) + v
    summary.seconds = time.perf_counter() - t0
    return summary
