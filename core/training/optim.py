"""Optimizer, learning-rate schedule and modality dropout: the pieces of a training step that
are pure functions of the config."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import torch

from .config import TrainConfig

# Name parts (split at "." and "_") of parameters never decayed: biases, LayerNorm (also the IMA's
# stacked `attn_ln_weight` (G, D), which is 2-d), CLS vectors, positional embeddings.
NO_DECAY = frozenset({"bias", "ln", "norm", "layernorm", "cls", "pos", "positions"})


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decoupled weight decay on weight matrices only (as in BERT/RoBERTa fine-tuning)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        parts = set(re.split(r"[._]", name.lower()))
        if p.ndim < 2 or parts & NO_DECAY or "norm" in name.lower():
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_lambda(schedule: str, warmup: int, total: int) -> Callable[[int], float]:
    """Linear warmup to the peak, then linear/cosine decay to 0 (or constant)."""

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return max(0.0, 1.0 - progress)

    return f


def make_optimizer(model: torch.nn.Module, tc: TrainConfig, batches_per_epoch: int) -> tuple[Any, Any]:
    """AdamW over `param_groups` and the LambdaLR schedule. Steps are counted on the unsharded
    loader: the prepared scheduler steps once per process per optimizer update."""
    optimizer = torch.optim.AdamW(param_groups(model, tc.weight_decay), lr=tc.lr, betas=tc.betas, eps=tc.eps)
    total = math.ceil(batches_per_epoch / tc.grad_accum) * tc.epochs
    schedule = lr_lambda(tc.schedule, int(tc.warmup_ratio * total), total)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def drop_modalities(lengths: dict[str, torch.Tensor], p: float) -> dict[str, torch.Tensor]:
    """Modality dropout: each (item, modality) is hidden with probability p by setting its length
    to 0 (the fusion model then relies on that modality's CLS); every item keeps at least one."""
    if p <= 0 or len(lengths) < 2:
        return lengths
    names = list(lengths)
    b = lengths[names[0]].shape[0]
    dev = lengths[names[0]].device
    drop = torch.rand(b, len(names), device=dev) < p  # (B, N)
    all_gone = drop.all(dim=1)
    keep = torch.randint(len(names), (b,), device=dev)
    drop[all_gone, keep[all_gone]] = False
    return {m: lengths[m].masked_fill(drop[:, k], 0) for k, m in enumerate(names)}


def step_seed(seed: int, rank: int, epoch: int, batch: int) -> int:
    """Dropout masks are a function of position in training, not of RNG history (exact resume)."""
    return (seed * 1_000_003 + rank * 7_919 + epoch * 100_003 + batch) % (2**63 - 1)
