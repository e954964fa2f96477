"""Resume, proven in process on a tiny store: the resumed run starts at the checkpoint's position,
runs only the remaining batches, and writes a metrics.jsonl byte-identical to an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trainhelpers import Crash, crash_after_checkpoint, tiny_experiment

from sseft.core.training.trainer import train

# 24 train items, batch 4: 6 batches (= optimizer steps) per epoch, 3 epochs: 18 in all. The kill
# comes after 5 batches of epoch 2, so the checkpointed loss sum holds 5 float32 losses: rounded to
# float32 it would change that epoch's train_loss in the last digits.
TRAIN = {"epochs": 3, "batch_size": 4, "checkpoint_every": 1, "keep_checkpoints": 40}


@pytest.mark.parametrize("bucket", [False, True])
def test_resumed_run_starts_at_checkpoint_and_matches_byte_for_byte(
    tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bucket: bool
) -> None:
    cfg = tiny_experiment(tmp_path, tiny_store, train={**TRAIN, "bucket_by_length": bucket})
    ref = train(cfg, tmp_path / "ref", progress=False, plots=False)
    assert ref.batches_run == 18 and ref.steps_run == 18 and ref.started_at == (0, 0)

    with monkeypatch.context() as m:  # "killed" inside epoch 2, after its second batch
        crash_after_checkpoint(m, "ckpt-e0001-b0000005")
        with pytest.raises(Crash):
            train(cfg, tmp_path / "run", progress=False, plots=False)
    assert not (tmp_path / "run" / "test_metrics.json").exists()

    res = train(cfg, tmp_path / "run", resume=True, progress=False, plots=False)
    assert res.resumed_from == "ckpt-e0001-b0000005"
    assert res.started_at == (1, 5)
    assert res.batches_run == 18 - (6 + 5) and res.steps_run == 7  # only what was left
    assert [r["global_step"] for r in res.history] == [6, 12, 18]
    for f in ("metrics.jsonl", "test_metrics.json", "test_predictions.jsonl", "valid_predictions.jsonl"):
        assert (tmp_path / "run" / f).read_bytes() == (tmp_path / "ref" / f).read_bytes(), f
    this = json.loads((tmp_path / "run" / "summary.json").read_text())["this_run"]
    assert this == {
        "started_at": {"epoch": 1, "batch": 5},
        "resumed_from": res.resumed_from,
        "batches": 7,
        "steps": 7,
    }


def test_resume_without_checkpoint_starts_from_scratch(tiny_store: Path, tmp_path: Path) -> None:
    cfg = tiny_experiment(tmp_path, tiny_store, train={"epochs": 1})
    res = train(cfg, tmp_path / "fresh", resume=True, progress=False, plots=False)
    assert res.resumed_from is None and res.started_at == (0, 0) and res.batches_run == 24 // 8
