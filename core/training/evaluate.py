"""Evaluation over a whole split, across processes (gathered, each item once), with the head's metrics.

Metrics are computed once over every item of the split (never averaged per batch), on every
process from the gathered outputs; `n_items` records how many items were scored, so a run on two
processes can be checked to have seen the whole split rather than its own shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..files import to_plain


@dataclass
class EvalResult:
    metrics: dict[str, Any]  # the head's metrics + "loss" + "n_items"
    outputs: torch.Tensor  # (N, ...) head outputs, float32, CPU
    labels: torch.Tensor  # (N, ...) label tensors (head.collate_labels), CPU
    index: torch.Tensor  # (N,) each row's position in the loader's item list


def evaluate_loader(accelerator: Any, model: Any, head: Any, loader: Any) -> EvalResult:
    """Run `model` over a prepared loader; gather outputs/labels from all processes; score them."""
    model.eval()
    outs: list[torch.Tensor] = []
    labs: list[torch.Tensor] = []
    idx: list[torch.Tensor] = []
    with torch.no_grad():
        for batch in loader:
            with accelerator.autocast():
                out = model(
                    batch.features, batch.lengths, context=batch.context
                )  # (B, C) / (B, K) / (B, K, 2)
            # plain gather, duplicates dropped below by item position: gather_for_metrics cuts the
            # last batch to len(dataset) % batch_size, which drops items whenever batches are not all
            # full-sized but the last (whole-dialogue batches, core/context/batches.py)
            out, labels, index = out.float().contiguous(), batch.labels.contiguous(), batch.index.contiguous()
            if accelerator.num_processes > 1:  # batch sizes may differ between processes: pad, mark, gather
                out, labels = accelerator.pad_across_processes((out, labels))
                index = accelerator.pad_across_processes(index, pad_index=-1)
                out, labels, index = accelerator.gather((out, labels, index))
            outs.append(out.cpu())
            labs.append(labels.cpu())
            idx.append(index.cpu())
    outputs, labels, index = first_of_each(torch.cat(idx), torch.cat(outs), torch.cat(labs))
    metrics = dict(head.metrics(outputs, labels))
    metrics["loss"] = float(head.loss(outputs, labels))
    metrics["n_items"] = int(outputs.shape[0])
    return EvalResult(metrics=to_plain(metrics), outputs=outputs, labels=labels, index=index)


def first_of_each(index: torch.Tensor, *rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(index, *rows) restricted to the first occurrence of each index value, in gathered order: the
    duplicates Accelerate adds to even out the last batches across processes go, every item stays."""
    seen: set[int] = {-1}  # -1: the padding of a shorter batch (never an item)
    keep = []
    for k, i in enumerate(index.tolist()):
        if i not in seen:
            seen.add(i)
            keep.append(k)
    take = torch.tensor(keep, dtype=torch.long)
    return (*(r[take] for r in rows), index[take])


def prediction_records(head: Any, res: EvalResult, ids: list[str], truth: list[Any]) -> list[dict[str, Any]]:
    """One plain-JSON row per item, in the split's order: the head's record (`head.records`), the
    true label and the raw head output (for paired tests)."""
    order = torch.argsort(res.index)
    outputs, index = res.outputs[order], res.index[order].tolist()
    item_ids = [ids[i] for i in index]
    rows = [dict(r) for r in head.records(outputs, item_ids)]
    for row, i, out in zip(rows, index, outputs.tolist(), strict=True):
        row["truth"] = to_plain(truth[i])
        row["outputs"] = out
    return rows


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Only the numbers of a metrics dict (for tables and curves)."""
    return {
        k: v if isinstance(v, int) else float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n"  # "n" duplicates n_items
    }
