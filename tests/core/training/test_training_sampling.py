"""Batch sampling, the LR schedule and parameter groups: invariants the training loop relies on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.training.data import EpochBatchSampler
from sseft.core.training.trainer import lr_lambda


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 300), bs=st.integers(1, 40), seed=st.integers(0, 1000), epoch=st.integers(0, 50))
def test_every_item_once_per_epoch_and_order_depends_only_on_seed_and_epoch(n, bs, seed, epoch):
    s = EpochBatchSampler(n, bs, seed, shuffle=True)
    s.set_epoch(epoch)
    batches = list(s)
    assert len(batches) == len(s)
    assert sorted(i for b in batches for i in b) == list(range(n))
    assert all(1 <= len(b) <= bs for b in batches)
    # A fresh sampler (a resumed run) replays exactly the same order for the same epoch.
    again = EpochBatchSampler(n, bs, seed, shuffle=True)
    again.set_epoch(epoch)
    assert list(again) == batches


def test_epochs_and_seeds_give_different_orders():
    s = EpochBatchSampler(400, 16, seed=3)
    e0 = list(s)
    s.set_epoch(1)
    assert list(s) != e0
    assert list(EpochBatchSampler(400, 16, seed=4)) != e0


def test_no_shuffle_keeps_order():
    s = EpochBatchSampler(10, 4, seed=1, shuffle=False)
    assert list(s) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@settings(max_examples=20, deadline=None)
@given(total=st.integers(2, 500), frac=st.floats(0, 0.5), schedule=st.sampled_from(["linear", "cosine"]))
def test_schedule_warms_up_then_decays_to_zero(total, frac, schedule):
    warmup = int(frac * total)
    f = lr_lambda(schedule, warmup, total)
    vals = [f(s) for s in range(total + 1)]
    assert all(0.0 <= v <= 1.0 for v in vals)
    assert all(a <= b + 1e-12 for a, b in zip(vals[:warmup], vals[1 : warmup + 1], strict=True))
    assert all(a >= b - 1e-12 for a, b in zip(vals[warmup:-1], vals[warmup + 1 :], strict=True))
    assert vals[total] < 1e-9
    assert lr_lambda("constant", warmup, total)(total) == 1.0
