"""Accelerate keeps one process-wide state. A `train()` that leaves the precision to the launch config,
after another one in the same process ran in bf16, must not silently inherit bf16 (nor may an explicit
other precision be refused)."""

from __future__ import annotations

from pathlib import Path

from trainhelpers import tiny_experiment


def test_each_in_process_run_gets_the_precision_it_asks_for(tmp_path: Path, monkeypatch) -> None:
    from sseft.core.training.setup import make_accelerator

    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    store = tmp_path / "store"  # make_accelerator reads only cfg.train
    bf16 = tiny_experiment(tmp_path, store, train={"mixed_precision": "bf16"})
    default = tiny_experiment(tmp_path, store, train={})
    assert default.train.mixed_precision is None
    assert make_accelerator(bf16).mixed_precision == "bf16"
    assert make_accelerator(default).mixed_precision == "no"  # not the bf16 of the run before
    assert make_accelerator(bf16).mixed_precision == "bf16"  # and back, without an error
