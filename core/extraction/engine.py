"""The extraction loop: items -> frozen encoders -> feature store, batched, resumable, multi-process.

    summary = extract_items(items, task, {"text": ("text", {...})}, out="store/")

* Batches are fixed by position (batch k = items[k*B:(k+1)*B]); with N processes batch k runs on rank
  k % N, which writes only its own shards (writer_id = rank). Same batches, same tensors, any N.
* Resumable: a batch whose items are all in the store is skipped; a batch with some stored items is
  recomputed whole (so its tensors do not depend on what was done before) and only the missing items
  are added. The writer drops half-written shards by itself.
* One bad item never stops the job: it is written to <store>/failures.jsonl with its id, modality
  and reason, and counted in the summary.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from ..errors import ExtractionError
from ..protocols import Item, TaskInfo
from .distributed import PROGRESS_DIR, DistContext, Progress, dist_context, threads_per_process


@dataclass
class ExtractionSummary:
    """What a job did. `failed` counts items that are not in the store after this run."""

    total: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    processes: int = 1
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    store: str = ""

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, else the number of failed items (capped at 125 for the shell)."""
        return min(self.failed, 125)

    def line(self) -> str:
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        notes = "; ".join(
            f"{m}: " + ", ".join(f"{k} {v}" for k, v in s.items() if v)
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
    data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
    with FileLock(str(root / LOCK_NAME)):
        fd = os.open(root / FAILURES_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def reason_of(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return msg if msg else type(e).__name__


def _plain_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Item meta as plain JSON (paths and other objects as strings)."""
    return json.loads(json.dumps(dict(meta), default=str))


def run_batch(extractors: Mapping[str, Any], batch: Sequence[Item]) -> list[dict[str, Any] | tuple[str, str]]:
    """Run every extractor on one batch. Per item: {"features", "meta"} or (modality, reason)."""
    results: list[dict[str, Any] | tuple[str, str]] = [{"features": {}, "meta": {}} for _ in batch]
    for m, ex in extractors.items():
        pos = [i for i, it in enumerate(batch) if isinstance(results[i], dict)]
        raws = []
        for i in list(pos):
            if batch[i].inputs.get(m) is None:
                results[i] = (m, f"no {m} input for this item")
                pos.remove(i)
            else:
                raws.append(batch[i].inputs[m])
        if not pos:
            continue
        try:
            outs = list(ex(raws))
            if len(outs) != len(raws):
                raise ExtractionError(f"{m} extractor returned {len(outs)} results for {len(raws)} inputs")
        except ExtractionError:
            raise
        except Exception:  # the extractor broke on the batch as a whole: isolate the culprit item by item
            outs = []
            for r in raws:
                try:
                    outs.append(ex([r])[0])
                except Exception as e1:
                    outs.append(e1)
        notes = list(getattr(ex, "last_meta", []) or [])
        for k, (i, o) in enumerate(zip(pos, outs, strict=True)):
            if isinstance(o, BaseException):
                results[i] = (m, reason_of(o))
                continue
            res = results[i]
            assert isinstance(res, dict)
            res["features"][m] = o
            if k < len(notes) and notes[k]:
                res["meta"][m] = notes[k]
    return results


def modality_info(plugin: Any, extractor: Any) -> Any:
    """The store's ModalityInfo for one built extractor (its dim and fingerprint are authoritative)."""
    from ..features import ModalityInfo

    max_len = int(getattr(extractor, "max_len", None) or plugin.max_len)
    return ModalityInfo(
        dim=int(extractor.dim),
        provides_cls=bool(plugin.provides_cls),
        max_len=max_len,
        fingerprint=extractor.fingerprint(),
    )


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
) -> ExtractionSummary:
    """Extract `modalities` (name -> modality plugin config, a pydantic model or a dict) for `items`
    into the store at `out`. Runs as one process or as one of the processes an `accelerate launch`
    started; every process returns the same summary (of the whole job)."""
    import torch

    from ..features import FeatureStoreWriter, merge_partial_indexes
    from ..plugins import get_modality

    if batch_size < 1:
        raise ExtractionError(f"batch_size must be >= 1, got {batch_size}")
    ctx = ctx or dist_context(device)
    torch.set_num_threads(threads_per_process(ctx.world, threads))
    root = Path(out)
    all_items = list(items)
    # Built on this process's own device; a model that cannot be built stops the job before any work.
    extractors: dict[str, Any] = {}
    infos: dict[str, Any] = {}
    for name, cfg in modalities.items():
        plugin = get_modality(name)
        config = cfg if not isinstance(cfg, Mapping) else plugin.config_model.model_validate(dict(cfg))
        extractors[name] = plugin.build_extractor(config, device=ctx.device)
        infos[name] = modality_info(plugin, extractors[name])
    token = ctx.broadcast(uuid.uuid4().hex)
    writer_id = str(ctx.rank)
    t0 = time.perf_counter()
    first_seen: dict[str, int] = {}
    summary = ExtractionSummary(total=len(all_items), processes=ctx.world, store=str(root))
    writer = FeatureStoreWriter(
        root,
        infos,
        task,
        shard_size=shard_size,
        writer_id=writer_id,
        source=source,
        merge_on_close=ctx.world == 1,
    )
    bar = Progress(len(all_items), ctx, root, token, enabled=progress)
    try:
        with writer:
            for k in range(0, len(all_items), batch_size):
                batch = all_items[k : k + batch_size]
                dup = {}
                for j, it in enumerate(batch):  # every process sees every id, so all agree on duplicates
                    first = first_seen.setdefault(it.id, k + j)
                    if first != k + j:
                        dup[j] = first
                if (k // batch_size) % ctx.world != ctx.rank:
                    continue
                todo = [j for j, it in enumerate(batch) if j not in dup and not writer.has(it.id)]
                skipped = len(batch) - len(todo) - len(dup)
                for j, first in dup.items():
                    record_failure(
                        root,
                        batch[j].id,
                        None,
                        f"duplicate item id (first at item {first})",
                        writer_id,
                        batch[j].split,
                    )
                if not todo:
                    bar.report(skipped=skipped, failed=len(dup))
                    continue
                results = run_batch(extractors, batch)  # the whole batch: tensors independent of resume state
                done = failed = 0
                for j in todo:
                    it, res = batch[j], results[j]
                    if isinstance(res, tuple):
                        record_failure(root, it.id, res[0], res[1], writer_id, it.split)
                        failed += 1
                        continue
                    meta = _plain_meta({**it.meta, **({"extract": res["meta"]} if res["meta"] else {})})
                    if writer.add(it.id, it.split, res["features"], it.label, meta):
                        done += 1
                    else:
                        failed += 1  # refused by the store (label, NaN): it wrote failures.jsonl itself
                bar.report(done=done, skipped=skipped, failed=failed + len(dup))
    except BaseException:
        bar.close()
        raise
    local: dict[str, Any] = dict(bar.counts)  # the counts, plus per-modality extractor stats
    local["stats"] = {m: dict(getattr(ex, "stats", {}) or {}) for m, ex in extractors.items()}
    gathered = ctx.gather(local)
    bar.close(final=sum(g["done"] + g["skipped"] + g["failed"] for g in gathered))
    ctx.barrier()  # every process has closed its writer (flushed its shards and partial index)
    if ctx.world > 1 and ctx.is_main:
        merge_partial_indexes(root)
    ctx.barrier()  # nobody returns before the merged index exists
    if ctx.world > 1 and ctx.is_main:
        shutil.rmtree(root / PROGRESS_DIR, ignore_errors=True)  # live progress files of this run
    for g in gathered:
        summary.done += g["done"]
        summary.skipped += g["skipped"]
        summary.failed += g["failed"]
        for m, s in g["stats"].items():
            tgt = summary.stats.setdefault(m, {})
            for key, v in s.items():
                tgt[key] = tgt.get(key, 0) + int(v)
    summary.seconds = time.perf_counter() - t0
    return summary
